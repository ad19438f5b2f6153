/* json: checks JSON text as cJSON reads it (the reference of every tool),
 * in one pass, listing an object's members on the way, and refuses what
 * cJSON would read differently from other JSON readers; reads strings,
 * integers and float vectors on demand.
 *
 * Kept from cJSON on purpose, so that no line cJSON takes is refused for
 * them: raw control bytes inside strings, "-.5", "1." and "01" as numbers.
 * Refused although cJSON takes them (each with its own message):
 * - a control byte other than space, tab, CR and LF between tokens (cJSON
 *   skips any byte up to 0x20; jq and Python refuse them, and tools that
 *   edit the text in place would misplace a member after one);
 * - a byte order mark (cJSON skips one at the very start; ndjson_read drops
 *   one at the start of a line before this check);
 * - \u0000 (cJSON ends its C string there, cutting the text) and \u escapes
 *   that are not four hex digits (cJSON reads them as \u0000) or are lone
 *   surrogates;
 * - two members of one object with the same name, compared unescaped
 *   (cJSON reads the first, jq and Python the last). */
#include "json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON's CJSON_NESTING_LIMIT */
#define JSON_DEPTH_MAX 1000
/* numbers this long are read from a copy on the stack */
#define JSON_NUMBER_MAX 63
/* a duplicate name is quoted up to this many bytes */
#define JSON_NAME_SHOWN 60

/* A key of an object being checked: the span from its opening quote to
 * after its closing quote, and the hash of its unescaped text. */
struct json_key {
	uint64_t h;
	size_t ks, ke;
	int esc;
};

void json_list_free(struct json_list *l)
{
	free(l->m);
	free(l->keys);
	memset(l, 0, sizeof *l);
}

void json_init(void)
{
	cJSON_Hooks hooks = {.malloc_fn = xmalloc, .free_fn = free};
	cJSON_InitHooks(&hooks);
}

static struct json_member *list_add(struct json_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->m = xrealloc(l->m, l->cap * sizeof *l->m);
	}
	return &l->m[l->n++];
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t blank(const char *s, size_t i, size_t n)
{
	while (i < n && is_blank(s[i]))
		i++;
	return i;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p, or -1. */
static long hex4(const char *p)
{
	long h = 0;
	for (int k = 0; k < 4; k++) {
		int v = hexval(p[k]);
		if (v < 0)
			return -1;
		h = h << 4 | v;
	}
	return h;
}

/* Why a text was refused, and where. */
struct why {
	char *err;
	size_t errlen;
};

static void say(struct why *w, size_t at, const char *what)
{
	snprintf(w->err, w->errlen, "%s at column %zu", what, at + 1);
}

/* s[i] is '"'. Returns the index after the closing quote, or 0 (with the
 * reason in w) when the string is not one cJSON takes, or takes in a way
 * other readers do not. *esc: it has a backslash. */
static size_t check_string(const char *s, size_t i, size_t n, int *esc, struct why *w)
{
	size_t end = i + 1;
	*esc = 0;
	while (end < n && s[end] != '"') {
		if (s[end] == '\\') {
			if (end + 1 >= n)
				goto unterminated;
			end++;
			*esc = 1;
		}
		end++;
	}
	if (end >= n)
		goto unterminated;
	if (!*esc)
		return end + 1;
	for (size_t k = i + 1; k < end; k++) {
		if (s[k] != '\\')
			continue;
		switch (s[k + 1]) {
		case 'b': case 'f': case 'n': case 'r': case 't':
		case '"': case '\\': case '/':
			k++;
			break;
		case 'u': {
			long first = end - k >= 6 ? hex4(s + k + 2) : -1;
			if (first < 0 || (first >= 0xDC00 && first <= 0xDFFF)) {
				say(w, k, "invalid \\u escape");
				return 0;
			}
			if (first == 0) {
				say(w, k, "\\u0000 (a NUL character, which lanes strings cannot hold)");
				return 0;
			}
			if (first >= 0xD800 && first <= 0xDBFF) {
				long second = end - (k + 6) >= 6 && s[k + 6] == '\\' && s[k + 7] == 'u'
						      ? hex4(s + k + 8) : -1;
				if (second < 0xDC00 || second > 0xDFFF) {
					say(w, k, "invalid \\u escape (a lone surrogate)");
					return 0;
				}
				k += 6;
			}
			k += 5;
			break;
		}
		default:
			snprintf(w->err, w->errlen, "not JSON (error near column %zu)", i + 1);
			return 0;
		}
	}
	return end + 1;
unterminated:
	snprintf(w->err, w->errlen, "not JSON (error near column %zu)", i + 1);
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* s[i] is '-' or a digit. Returns the index after the number strtod reads
 * from the characters cJSON collects, or 0. */
static size_t check_number(const char *s, size_t i, size_t n)
{
	size_t k = i;
	if (s[k] == '-')
		k++;
	size_t d = k;
	while (k < n && is_digit(s[k]))
		k++;
	int int_digits = k > d;
	int frac_digits = 0;
	if (k < n && s[k] == '.') {
		size_t f = ++k;
		while (k < n && is_digit(s[k]))
			k++;
		frac_digits = k > f;
	}
	if (!int_digits && !frac_digits)
		return 0;
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		size_t e = k + 1;
		if (e < n && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e < n && is_digit(s[e])) {
			while (e < n && is_digit(s[e]))
				e++;
			k = e;
		}
	}
	return k;
}

/* The refusal for the byte at s[i] where a token or a blank should be. */
static void fail_at(struct why *w, const char *s, size_t i, size_t n)
{
	unsigned char c = i < n ? (unsigned char)s[i] : 0;
	if (i < n && c < 0x20)
		snprintf(w->err, w->errlen,
			 "control byte 0x%02X outside a string at column %zu (JSON allows only "
			 "space, tab, CR and LF between tokens)", c, i + 1);
	else if (n - i >= 3 && !memcmp(s + i, "\xEF\xBB\xBF", 3))
		snprintf(w->err, w->errlen, "byte order mark (U+FEFF) outside a string at column %zu",
			 i + 1);
	else
		snprintf(w->err, w->errlen, "not JSON (error near column %zu)", (i < n ? i : n) + 1);
}

/* Appends the UTF-8 of code point c. */
static void put_utf8(struct buf *out, unsigned c)
{
	char u[4];
	buf_append(out, u, utf8_encode(c, u));
}

void json_unescape(const char *val, size_t len, struct buf *out)
{
	/* checked text: escapes are complete and well formed */
	const char *p = val + 1, *end = val + len - 1;
	buf_reserve(out, len);
	out->p[out->len] = '\0';
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs) {
			buf_append(out, p, (size_t)(end - p));
			break;
		}
		buf_append(out, p, (size_t)(bs - p));
		char c = bs[1];
		p = bs + 2;
		switch (c) {
		case 'b': buf_putc(out, '\b'); break;
		case 'f': buf_putc(out, '\f'); break;
		case 'n': buf_putc(out, '\n'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'u': {
			unsigned cp = (unsigned)hex4(bs + 2);
			p = bs + 6;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo = (unsigned)hex4(bs + 8);
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p = bs + 12;
			}
			put_utf8(out, cp);
			break;
		}
		default: buf_putc(out, c); break;
		}
	}
}

/* The hash of a key's unescaped text; tmp is scratch. */
static uint64_t key_hash(const char *s, const struct json_key *k, struct buf *tmp)
{
	if (!k->esc)
		return fnv64(FNV64_INIT, s + k->ks + 1, k->ke - k->ks - 2);
	buf_reset(tmp);
	json_unescape(s + k->ks, k->ke - k->ks, tmp);
	return fnv64(FNV64_INIT, tmp->p, tmp->len);
}

static int key_order(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->ks < y->ks ? -1 : x->ks > y->ks;
}

/* Two keys with the same unescaped text. */
static int same_key(const char *s, const struct json_key *a, const struct json_key *b)
{
	if (!a->esc && !b->esc)
		return a->ke - a->ks == b->ke - b->ks &&
		       !memcmp(s + a->ks, s + b->ks, a->ke - a->ks);
	struct buf x = {0}, y = {0};
	json_unescape(s + a->ks, a->ke - a->ks, &x);
	json_unescape(s + b->ks, b->ke - b->ks, &y);
	int same = x.len == y.len && !memcmp(x.p, y.p, x.len);
	buf_free(&x);
	buf_free(&y);
	return same;
}

/* Checks the keys of one object, k[0..nk), for a name used twice; returns
 * the index of the first repeated key in the text, or -1. Sorts k. */
static long find_duplicate(const char *s, struct json_key *k, size_t nk)
{
	if (nk < 2)
		return -1;
	qsort(k, nk, sizeof *k, key_order);
	long first = -1;
	for (size_t a = 0; a < nk; a++) {
		for (size_t b = a + 1; b < nk && k[b].h == k[a].h; b++) {
			if ((first < 0 || k[b].ks < (size_t)first) && same_key(s, &k[a], &k[b]))
				first = (long)k[b].ks;
		}
	}
	return first;
}

static void say_duplicate(struct why *w, const char *s, size_t n, size_t ks)
{
	int esc;
	struct why ignore = {w->err, w->errlen};
	size_t ke = check_string(s, ks, n, &esc, &ignore);
	struct buf name = {0}, shown = {0};
	json_unescape(s + ks, ke - ks, &name);
	size_t cut = name.len > JSON_NAME_SHOWN ? utf8_floor(name.p, JSON_NAME_SHOWN) : name.len;
	buf_json_str(&shown, name.p ? name.p : "", cut);
	snprintf(w->err, w->errlen, "duplicate member %s%s at column %zu (JSON readers differ on "
		 "which one counts)", shown.p, cut < name.len ? "..." : "", ks + 1);
	buf_free(&name);
	buf_free(&shown);
}

static void push_key(struct json_list *l, const char *s, size_t ks, size_t ke, int esc,
		     struct buf *tmp)
{
	if (l->nkeys == l->kcap) {
		l->kcap = l->kcap ? l->kcap * 2 : 32;
		l->keys = xrealloc(l->keys, l->kcap * sizeof *l->keys);
	}
	struct json_key *k = &l->keys[l->nkeys++];
	k->ks = ks;
	k->ke = ke;
	k->esc = esc;
	k->h = key_hash(s, k, tmp);
}

int json_scan(const char *s, size_t n, size_t *end, struct json_list *top, char *err,
	      size_t errlen)
{
	struct json_list own = {0};
	struct json_list *l = top ? top : &own;
	struct why w = {err, errlen};
	struct buf tmp = {0};
	l->n = 0;
	l->nkeys = 0;
	char stack[JSON_DEPTH_MAX];
	size_t kbase[JSON_DEPTH_MAX];
	int depth = 0;
	int esc;
	size_t i = blank(s, 0, n), key = 0, key_end = 0, vstart = 0;
	int key_esc = 0, in_member = 0;
	enum json_type vtype = JSON_NULL, top_type = JSON_NULL;
	int result = -1;

value:
	i = blank(s, i, n);
	if (i >= n)
		goto fail;
	if (depth == 1 && stack[0] == '{') {
		in_member = 1;
		vstart = i;
	}
	switch (s[i]) {
	case '{':
	case '[':
		vtype = s[i] == '{' ? JSON_OBJECT : JSON_ARRAY;
		if (depth == 0)
			top_type = vtype;
		if (depth == JSON_DEPTH_MAX)
			goto fail;
		kbase[depth] = l->nkeys;
		stack[depth++] = s[i];
		i = blank(s, i + 1, n);
		if (i < n && s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
			i++;
			depth--;
			goto after;
		}
		if (stack[depth - 1] == '{')
			goto member;
		goto value;
	case '"':
		vtype = JSON_STRING;
		i = check_string(s, i, n, &esc, &w);
		if (!i)
			goto refused;
		break;
	case 't':
		vtype = JSON_TRUE;
		if (n - i < 4 || memcmp(s + i, "true", 4))
			goto fail;
		i += 4;
		break;
	case 'f':
		vtype = JSON_FALSE;
		if (n - i < 5 || memcmp(s + i, "false", 5))
			goto fail;
		i += 5;
		break;
	case 'n':
		vtype = JSON_NULL;
		if (n - i < 4 || memcmp(s + i, "null", 4))
			goto fail;
		i += 4;
		break;
	default:
		if (s[i] != '-' && !is_digit(s[i]))
			goto fail;
		vtype = JSON_NUMBER;
		i = check_number(s, i, n);
		if (!i)
			goto fail;
		break;
	}
	if (depth == 0)
		top_type = vtype;

after:
	if (depth == 1 && in_member && stack[0] == '{') {
		struct json_member *m = list_add(l);
		m->key = s + key + 1;
		m->key_len = key_end - key - 2;
		m->key_escaped = key_esc;
		m->val = s + vstart;
		m->val_len = i - vstart;
		m->type = s[vstart] == '{' ? JSON_OBJECT : s[vstart] == '[' ? JSON_ARRAY : vtype;
		in_member = 0;
	}
	if (depth == 0)
		goto done;
	i = blank(s, i, n);
	if (i >= n)
		goto fail;
	if (s[i] == ',') {
		i = blank(s, i + 1, n);
		if (stack[depth - 1] == '{')
			goto member;
		goto value;
	}
	if (s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
		if (stack[depth - 1] == '{') {
			size_t base = kbase[depth - 1];
			long dup = find_duplicate(s, l->keys + base, l->nkeys - base);
			if (dup >= 0) {
				say_duplicate(&w, s, n, (size_t)dup);
				i = (size_t)dup;
				goto refused;
			}
			l->nkeys = base;
		}
		i++;
		depth--;
		goto after;
	}
	goto fail;

member:
	if (i >= n || s[i] != '"')
		goto fail;
	size_t ke = check_string(s, i, n, &esc, &w);
	if (!ke)
		goto refused;
	push_key(l, s, i, ke, esc, &tmp);
	if (depth == 1) { /* a key of the top object */
		key = i;
		key_end = ke;
		key_esc = esc;
	}
	i = blank(s, ke, n);
	if (i >= n || s[i] != ':')
		goto fail;
	i++;
	goto value;

done:
	result = (int)top_type;
	*end = i;
	goto out;
fail:
	fail_at(&w, s, i, n);
refused:
	*end = i < n ? i : n;
	result = -1;
out:
	buf_free(&tmp);
	if (!top)
		json_list_free(&own);
	return result;
}

int json_check_object(const char *s, size_t n, struct json_list *top, char *err,
		      size_t errlen)
{
	const char *nul = memchr(s, '\0', n);
	if (nul) {
		snprintf(err, errlen, "NUL byte at column %zu", (size_t)(nul - s) + 1);
		return -1;
	}
	long bad = utf8_check(s, n);
	if (bad >= 0) {
		snprintf(err, errlen, "invalid UTF-8 at column %ld", bad + 1);
		return -1;
	}
	size_t end;
	int type = json_scan(s, n, &end, top, err, errlen);
	if (type < 0)
		return -1;
	/* only spaces, tabs and CRs may follow the value */
	for (size_t k = end; k < n; k++) {
		if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') {
			if ((unsigned char)s[k] < 0x20) {
				struct why w = {err, errlen};
				fail_at(&w, s, k, n);
			} else {
				snprintf(err, errlen, "text after the JSON value at column %zu", end + 1);
			}
			return -1;
		}
	}
	if (type != JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	return 0;
}

/* Index after the string at s[i] of checked text. */
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

/* Index after the value at s[i] of checked text. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
	if (s[i] == '"')
		return skip_string(s, i, n);
	if (s[i] == '{' || s[i] == '[') {
		int depth = 0;
		while (i < n) {
			if (s[i] == '"') {
				i = skip_string(s, i, n);
				continue;
			}
			if (s[i] == '{' || s[i] == '[')
				depth++;
			else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return n;
	}
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_blank(s[i]))
		i++;
	return i;
}

static enum json_type type_of(char c)
{
	switch (c) {
	case '"': return JSON_STRING;
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case 't': return JSON_TRUE;
	case 'f': return JSON_FALSE;
	case 'n': return JSON_NULL;
	default: return JSON_NUMBER;
	}
}

int json_next_member(const char *s, size_t n, size_t *pos, struct json_member *m)
{
	size_t i = *pos;
	if (i == 0) {
		i = blank(s, 0, n);
		if (i >= n || s[i] != '{') {
			*pos = n;
			return 0;
		}
		i = blank(s, i + 1, n);
	}
	if (i >= n || s[i] != '"') {
		*pos = i;
		return 0;
	}
	size_t ke = skip_string(s, i, n);
	m->key = s + i + 1;
	m->key_len = ke - i - 2;
	m->key_escaped = memchr(m->key, '\\', m->key_len) != NULL;
	i = blank(s, ke, n);
	i = blank(s, i + 1, n); /* the ':' */
	m->val = s + i;
	m->type = type_of(s[i]);
	i = skip_value(s, i, n);
	m->val_len = (size_t)(s + i - m->val);
	i = blank(s, i, n);
	if (i < n && s[i] == ',')
		i = blank(s, i + 1, n);
	*pos = i;
	return 1;
}

void json_members(const char *s, size_t n, struct json_list *out)
{
	out->n = 0;
	size_t pos = 0;
	struct json_member m;
	while (json_next_member(s, n, &pos, &m))
		*list_add(out) = m;
}

int json_key_is(const struct json_member *m, const char *key)
{
	size_t klen = strlen(key);
	if (!m->key_escaped)
		return m->key_len == klen && !memcmp(m->key, key, klen);
	struct buf tmp = {0};
	json_unescape(m->key - 1, m->key_len + 2, &tmp);
	int same = tmp.len == klen && !memcmp(tmp.p, key, klen);
	buf_free(&tmp);
	return same;
}

const struct json_member *json_find(const struct json_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (json_key_is(&l->m[i], key))
			return &l->m[i];
	return NULL;
}

/* Not cJSON_Minify: cJSON 1.7.15 (Debian 12) reads the quote of a string
 * that ends in an escaped backslash ("\\") as escaped, and keeps the
 * blanks after it (test_json). */
void json_minify(struct buf *out, const char *s, size_t n)
{
	buf_reserve(out, n);
	int in_str = 0;
	size_t run = 0; /* start of the bytes not yet copied */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (is_blank(c)) {
			buf_append(out, s + run, i - run);
			run = i + 1;
		}
	}
	if (n > run)
		buf_append(out, s + run, n - run);
}

/* The value of a checked number token (strtod on a bounded copy: the text
 * is not NUL terminated after the token). */
static double number(const char *p, size_t len)
{
	char t[JSON_NUMBER_MAX + 1];
	if (len > JSON_NUMBER_MAX) {
		char *big = xstrndup(p, len);
		double d = strtod(big, NULL);
		free(big);
		return d;
	}
	memcpy(t, p, len);
	t[len] = '\0';
	return strtod(t, NULL);
}
/* Fast path for the usual vector number: -d.ddd with at most 15 digits and
 * no exponent, exact in a double (both integer part and power of ten are
 * exactly representable), so the result is strtod's. Returns 0 or -1. */
static int number_fast(const char *p, size_t len, double *out)
{
	static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
				       1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	size_t k = 0;
	int neg = 0;
	if (k < len && p[k] == '-') {
		neg = 1;
		k++;
	}
	unsigned long long m = 0;
	int digits = 0, frac = -1;
	for (; k < len; k++) {
		if (is_digit(p[k])) {
			m = m * 10 + (unsigned long long)(p[k] - '0');
			if (++digits > 15)
				return -1;
			if (frac >= 0)
				frac++;
		} else if (p[k] == '.' && frac < 0) {
			frac = 0;
		} else {
			return -1;
		}
	}
	if (!digits)
		return -1;
	double v = (double)m;
	if (frac > 0)
		v /= pow10[frac];
	*out = neg ? -v : v;
	return 0;
}

int json_floats(const char *val, size_t len, float **out, size_t *dim, char *err,
	      size_t errlen)
{
	*out = NULL;
	*dim = 0;
	size_t i = blank(val, 0, len);
	if (i >= len || val[i] != '[') {
		snprintf(err, errlen, "\"embedding\" is not a non-empty array of numbers");
		return -1;
	}
	size_t cap = 1;
	for (size_t k = i; k < len; k++)
		cap += val[k] == ',';
	float *v = xmalloc(cap * sizeof *v);
	size_t n = 0;
	i = blank(val, i + 1, len);
	while (i < len && val[i] != ']') {
		size_t e = skip_value(val, i, len);
		if (type_of(val[i]) != JSON_NUMBER || n == cap) {
			snprintf(err, errlen, "\"embedding\"[%zu] is not a number", n);
			free(v);
			return -1;
		}
		double d;
		if (number_fast(val + i, e - i, &d))
			d = number(val + i, e - i);
		float f = (float)d;
		if (!isfinite(f)) {
			snprintf(err, errlen, "\"embedding\"[%zu] is out of the float32 range", n);
			free(v);
			return -1;
		}
		v[n++] = f;
		i = blank(val, e, len);
		if (i < len && val[i] == ',')
			i = blank(val, i + 1, len);
	}
	if (!n) {
		snprintf(err, errlen, "\"embedding\" is not a non-empty array of numbers");
		free(v);
		return -1;
	}
	*out = v;
	*dim = n;
	return 0;
}

int json_integer(const char *val, size_t len, long long *out)
{
	if (!len || (val[0] != '-' && !is_digit(val[0])))
		return -1;
	double d = number(val, len);
	if (d != floor(d) || fabs(d) >= 9007199254740992.0)
		return -1;
	*out = (long long)d;
	return 0;
}
