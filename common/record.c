/* record: finds, sets and deletes top-level members on the text of a
 * checked record, with json.c's scanner (names compared unescaped, the
 * blanks JSON allows), leaving the other bytes as they are. */
#include "record.h"
#include "json.h"

#include <string.h>

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

int record_find(const char *s, size_t n, const char *key, size_t *mstart,
	     size_t *mend, size_t *vstart, size_t *vend)
{
	size_t pos = 0;
	struct json_member m;
	while (json_next_member(s, n, &pos, &m)) {
		if (!json_key_is(&m, key))
			continue;
		size_t vs = (size_t)(m.val - s), ve = vs + m.val_len;
		if (mstart)
			*mstart = (size_t)(m.key - s) - 1;
		if (mend)
			*mend = ve;
		if (vstart)
			*vstart = vs;
		if (vend)
			*vend = ve;
		return 1;
	}
	return 0;
}

void record_set(struct buf *out, const char *s, size_t n, const char *key,
	     const char *val, size_t vlen)
{
	size_t vs, ve;
	buf_reset(out);
	if (record_find(s, n, key, NULL, NULL, &vs, &ve)) {
		buf_append(out, s, vs);
		buf_append(out, val, vlen);
		buf_append(out, s + ve, n - ve);
		return;
	}
	/* append before the closing brace */
	size_t close = n;
	while (close > 0 && s[close - 1] != '}')
		close--;
	if (close == 0) { /* not an object: cannot happen for checked input */
		buf_append(out, s, n);
		return;
	}
	close--;
	size_t last = close;
	while (last > 0 && is_ws(s[last - 1]))
		last--;
	int empty = last > 0 && s[last - 1] == '{';
	buf_append(out, s, last);
	if (!empty)
		buf_putc(out, ',');
	buf_json_str(out, key, strlen(key));
	buf_putc(out, ':');
	buf_append(out, val, vlen);
	buf_append(out, s + close, n - close);
}

void record_del(struct buf *out, const char *s, size_t n, const char *key)
{
	size_t ms, me;
	buf_reset(out);
	if (!record_find(s, n, key, &ms, &me, NULL, NULL)) {
		buf_append(out, s, n);
		return;
	}
	/* remove the member and one adjacent comma */
	size_t a = ms, b = me;
	size_t j = skip_ws(s, b, n);
	if (j < n && s[j] == ',') {
		b = skip_ws(s, j + 1, n);
	} else {
		size_t k = a;
		while (k > 0 && is_ws(s[k - 1]))
			k--;
		if (k > 0 && s[k - 1] == ',')
			a = k - 1;
	}
	buf_append(out, s, a);
	buf_append(out, s + b, n - b);
}

void record_members_except(struct buf *out, const char *s, size_t n,
			const char *const *keys, size_t nkeys)
{
	size_t pos = 0;
	struct json_member m;
	int first = 1;
	while (json_next_member(s, n, &pos, &m)) {
		int skip = 0;
		for (size_t k = 0; k < nkeys && !skip; k++)
			skip = json_key_is(&m, keys[k]);
		if (skip)
			continue;
		if (!first)
			buf_putc(out, ',');
		const char *ks = m.key - 1;
		buf_append(out, ks, (size_t)(m.val + m.val_len - ks));
		first = 0;
	}
}

int record_scan(const char *s, size_t n, struct record_members *ms, size_t *close)
{
	ms->n = 0;
	size_t pos = 0;
	struct json_member m;
	while (json_next_member(s, n, &pos, &m)) {
		if (ms->n == ms->cap) {
			ms->cap = ms->cap ? ms->cap * 2 : 32;
			ms->m = xrealloc(ms->m, ms->cap * sizeof *ms->m);
		}
		struct record_member *r = &ms->m[ms->n++];
		r->ks = (size_t)(m.key - s) - 1;
		r->ke = r->ks + m.key_len + 2;
		r->vs = (size_t)(m.val - s);
		r->ve = r->vs + m.val_len;
	}
	if (pos >= n || s[pos] != '}')
		return -1;
	*close = pos;
	return 0;
}
