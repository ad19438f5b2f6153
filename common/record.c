/* record: a minimal scanner over valid JSON text that finds top-level
 * members, used to set and delete fields without touching the others. */
#include "record.h"

#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is '"'; returns the index after the closing quote. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

/* Returns the index just past the value starting at s[i]. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
	if (i >= n)
		return n;
	if (s[i] == '"')
		return skip_string(s, i, n);
	if (s[i] == '{' || s[i] == '[') {
		int depth = 0;
		while (i < n) {
			char c = s[i];
			if (c == '"') {
				i = skip_string(s, i, n);
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				depth--;
				if (depth == 0)
					return i + 1;
			}
			i++;
		}
		return n;
	}
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
	       s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

int record_find(const char *s, size_t n, const char *key, size_t *mstart,
	     size_t *mend, size_t *vstart, size_t *vend)
{
	size_t klen = strlen(key);
	size_t i = skip_ws(s, 0, n);
	if (i >= n || s[i] != '{')
		return 0;
	i = skip_ws(s, i + 1, n);
	while (i < n && s[i] == '"') {
		size_t ks = i;
		size_t ke = skip_string(s, i, n);
		i = skip_ws(s, ke, n);
		if (i < n && s[i] == ':')
			i++;
		i = skip_ws(s, i, n);
		size_t vs = i;
		size_t ve = skip_value(s, i, n);
		if (ke - ks == klen + 2 && memcmp(s + ks + 1, key, klen) == 0) {
			if (mstart)
				*mstart = ks;
			if (mend)
				*mend = ve;
			if (vstart)
				*vstart = vs;
			if (vend)
				*vend = ve;
			return 1;
		}
		i = skip_ws(s, ve, n);
		if (i < n && s[i] == ',')
			i = skip_ws(s, i + 1, n);
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
	while (last > 0 && (s[last - 1] == ' ' || s[last - 1] == '\t' ||
			    s[last - 1] == '\n' || s[last - 1] == '\r'))
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
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' ||
				 s[k - 1] == '\n' || s[k - 1] == '\r'))
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
	size_t i = skip_ws(s, 0, n);
	if (i >= n || s[i] != '{')
		return;
	i = skip_ws(s, i + 1, n);
	int first = 1;
	while (i < n && s[i] == '"') {
		size_t ks = i;
		size_t ke = skip_string(s, i, n);
		i = skip_ws(s, ke, n);
		if (i < n && s[i] == ':')
			i++;
		i = skip_ws(s, i, n);
		size_t ve = skip_value(s, i, n);
		int skip = 0;
		for (size_t k = 0; k < nkeys && !skip; k++) {
			size_t kl = strlen(keys[k]);
			skip = ke - ks == kl + 2 && memcmp(s + ks + 1, keys[k], kl) == 0;
		}
		if (!skip) {
			if (!first)
				buf_putc(out, ',');
			buf_append(out, s + ks, ve - ks);
			first = 0;
		}
		i = skip_ws(s, ve, n);
		if (i < n && s[i] == ',')
			i = skip_ws(s, i + 1, n);
	}
}

int record_scan(const char *s, size_t n, struct record_members *ms, size_t *close)
{
	ms->n = 0;
	size_t i = skip_ws(s, 0, n);
	if (i >= n || s[i] != '{')
		return -1;
	i = skip_ws(s, i + 1, n);
	while (i < n && s[i] == '"') {
		struct record_member m;
		m.ks = i;
		m.ke = skip_string(s, i, n);
		i = skip_ws(s, m.ke, n);
		if (i < n && s[i] == ':')
			i++;
		m.vs = skip_ws(s, i, n);
		m.ve = skip_value(s, m.vs, n);
		if (ms->n == ms->cap) {
			ms->cap = ms->cap ? ms->cap * 2 : 32;
			ms->m = xrealloc(ms->m, ms->cap * sizeof *ms->m);
		}
		ms->m[ms->n++] = m;
		i = skip_ws(s, m.ve, n);
		if (i < n && s[i] == ',')
			i = skip_ws(s, i + 1, n);
	}
	if (i >= n || s[i] != '}')
		return -1;
	*close = i;
	return 0;
}
