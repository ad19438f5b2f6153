/* store_json: checks a record line as cJSON would (the reference of
 * ndjson_parse), in one pass without allocating, listing the top-level
 * members on the way; reads strings, integers and float vectors on demand.
 * cJSON's leniencies are kept on purpose (any byte up to 0x20 as blank, raw
 * control bytes in strings, "-.5" and "1." as numbers, bad \u hex digits
 * read as 0) so that store never refuses
 * a line the other tools pass on, nor passes one they refuse. */
#include "store_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON's CJSON_NESTING_LIMIT */
#define SJ_DEPTH_MAX 1000
/* numbers this long are read from a copy on the stack */
#define SJ_NUMBER_MAX 63

void store_json_list_free(struct store_json_list *l)
{
	free(l->m);
	l->m = NULL;
	l->n = l->cap = 0;
}

static struct store_json_member *list_add(struct store_json_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->m = xrealloc(l->m, l->cap * sizeof *l->m);
	}
	return &l->m[l->n++];
}

static size_t blank(const char *s, size_t i, size_t n)
{
	while (i < n && (unsigned char)s[i] <= 32)
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

/* cJSON's parse_hex4: a non-hex digit makes the whole value 0. */
static unsigned hex4(const char *p)
{
	unsigned h = 0;
	for (int k = 0; k < 4; k++) {
		int v = hexval(p[k]);
		if (v < 0)
			return 0;
		h = h << 4 | (unsigned)v;
	}
	return h;
}

/* s[i] is '"'. Returns the index after the closing quote, or 0 when the
 * string is not one cJSON takes. *esc: it has a backslash. */
static size_t check_string(const char *s, size_t i, size_t n, int *esc)
{
	size_t end = i + 1;
	*esc = 0;
	while (end < n && s[end] != '"') {
		if (s[end] == '\\') {
			if (end + 1 >= n)
				return 0;
			end++;
			*esc = 1;
		}
		end++;
	}
	if (end >= n)
		return 0;
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
			if (end - k < 6)
				return 0;
			unsigned first = hex4(s + k + 2);
			if (first >= 0xDC00 && first <= 0xDFFF)
				return 0;
			if (first >= 0xD800 && first <= 0xDBFF) {
				if (end - (k + 6) < 6 || s[k + 6] != '\\' || s[k + 7] != 'u')
					return 0;
				unsigned second = hex4(s + k + 8);
				if (second < 0xDC00 || second > 0xDFFF)
					return 0;
				k += 6;
			}
			k += 5;
			break;
		}
		default:
			return 0;
		}
	}
	return end + 1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* s[i] is '-' or a digit. Returns the index after the number strtod reads
 * from the characters cJSON collects, or 0. */
static size_t check_number(const char *s, size_t i, size_t n)
{
	size_t lim = n;
	size_t k = i;
	if (s[k] == '-')
		k++;
	size_t d = k;
	while (k < lim && is_digit(s[k]))
		k++;
	int int_digits = k > d;
	int frac_digits = 0;
	if (k < lim && s[k] == '.') {
		size_t f = ++k;
		while (k < lim && is_digit(s[k]))
			k++;
		frac_digits = k > f;
	}
	if (!int_digits && !frac_digits)
		return 0;
	if (k < lim && (s[k] == 'e' || s[k] == 'E')) {
		size_t e = k + 1;
		if (e < lim && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e < lim && is_digit(s[e])) {
			while (e < lim && is_digit(s[e]))
				e++;
			k = e;
		}
	}
	return k;
}

static void fail_at(char *err, size_t errlen, size_t i)
{
	snprintf(err, errlen, "not JSON (error near column %zu)", i + 1);
}

int store_json_check_object(const char *s, size_t n, struct store_json_list *top, char *err,
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
	top->n = 0;
	char stack[SJ_DEPTH_MAX];
	int depth = 0;
	int esc;
	size_t i = blank(s, 0, n), key = 0, key_end = 0, vstart = 0;
	int key_esc = 0, in_member = 0;
	enum store_json_type vtype = SJ_NULL, top_type = SJ_NULL;

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
		vtype = s[i] == '{' ? SJ_OBJECT : SJ_ARRAY;
		if (depth == 0)
			top_type = vtype;
		if (depth == SJ_DEPTH_MAX)
			goto fail;
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
		vtype = SJ_STRING;
		i = check_string(s, i, n, &esc);
		if (!i)
			goto fail_here;
		break;
	case 't':
		vtype = SJ_TRUE;
		if (n - i < 4 || memcmp(s + i, "true", 4))
			goto fail;
		i += 4;
		break;
	case 'f':
		vtype = SJ_FALSE;
		if (n - i < 5 || memcmp(s + i, "false", 5))
			goto fail;
		i += 5;
		break;
	case 'n':
		vtype = SJ_NULL;
		if (n - i < 4 || memcmp(s + i, "null", 4))
			goto fail;
		i += 4;
		break;
	default:
		if (s[i] != '-' && !is_digit(s[i]))
			goto fail;
		vtype = SJ_NUMBER;
		i = check_number(s, i, n);
		if (!i)
			goto fail_here;
		break;
	}
	if (depth == 0)
		top_type = vtype;

after:
	if (depth == 1 && in_member && stack[0] == '{') {
		struct store_json_member *m = list_add(top);
		m->key = s + key + 1;
		m->key_len = key_end - key - 2;
		m->key_escaped = key_esc;
		m->val = s + vstart;
		m->val_len = i - vstart;
		m->type = s[vstart] == '{' ? SJ_OBJECT : s[vstart] == '[' ? SJ_ARRAY : vtype;
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
		i++;
		depth--;
		goto after;
	}
	goto fail;

member:
	if (i >= n || s[i] != '"')
		goto fail;
	size_t ke = check_string(s, i, n, &esc);
	if (!ke)
		goto fail_here;
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
	/* ndjson_parse: only spaces, tabs and CRs may follow the value */
	for (size_t k = i; k < n; k++) {
		if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') {
			snprintf(err, errlen, "text after the JSON value at column %zu", i + 1);
			return -1;
		}
	}
	if (top_type != SJ_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	return 0;
fail_here:
fail:
	fail_at(err, errlen, i < n ? i : n);
	return -1;
}

/* Index after the value at s[i] of checked text. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
	int esc;
	if (s[i] == '"')
		return check_string(s, i, n, &esc);
	if (s[i] == '{' || s[i] == '[') {
		int depth = 0;
		while (i < n) {
			if (s[i] == '"') {
				i = check_string(s, i, n, &esc);
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
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && (unsigned char)s[i] > 32)
		i++;
	return i;
}

static enum store_json_type type_of(char c)
{
	switch (c) {
	case '"': return SJ_STRING;
	case '{': return SJ_OBJECT;
	case '[': return SJ_ARRAY;
	case 't': return SJ_TRUE;
	case 'f': return SJ_FALSE;
	case 'n': return SJ_NULL;
	default: return SJ_NUMBER;
	}
}

void store_json_members(const char *s, size_t n, struct store_json_list *out)
{
	out->n = 0;
	size_t i = blank(s, 0, n);
	if (i >= n || s[i] != '{')
		return;
	i = blank(s, i + 1, n);
	while (i < n && s[i] == '"') {
		struct store_json_member *m = list_add(out);
		int esc;
		size_t ke = check_string(s, i, n, &esc);
		m->key = s + i + 1;
		m->key_len = ke - i - 2;
		m->key_escaped = esc;
		i = blank(s, ke, n);
		i = blank(s, i + 1, n); /* the ':' */
		m->val = s + i;
		m->type = type_of(s[i]);
		i = skip_value(s, i, n);
		m->val_len = (size_t)(s + i - m->val);
		i = blank(s, i, n);
		if (i < n && s[i] == ',')
			i = blank(s, i + 1, n);
	}
}

/* Appends the UTF-8 of code point c. */
static void put_utf8(struct buf *out, unsigned c)
{
	char u[4];
	size_t k;
	if (c < 0x80) {
		u[0] = (char)c;
		k = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xC0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3F));
		k = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xE0 | c >> 12);
		u[1] = (char)(0x80 | (c >> 6 & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F));
		k = 3;
	} else {
		u[0] = (char)(0xF0 | c >> 18);
		u[1] = (char)(0x80 | (c >> 12 & 0x3F));
		u[2] = (char)(0x80 | (c >> 6 & 0x3F));
		u[3] = (char)(0x80 | (c & 0x3F));
		k = 4;
	}
	buf_append(out, u, k);
}

void store_json_unescape(const char *val, size_t len, struct buf *out)
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
			unsigned cp = hex4(bs + 2);
			p = bs + 6;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo = hex4(bs + 8);
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

const struct store_json_member *store_json_find(const struct store_json_list *l, const char *key)
{
	size_t klen = strlen(key);
	struct buf tmp = {0};
	const struct store_json_member *found = NULL;
	for (size_t i = 0; i < l->n && !found; i++) {
		const struct store_json_member *m = &l->m[i];
		if (!m->key_escaped) {
			if (m->key_len == klen && !memcmp(m->key, key, klen))
				found = m;
			continue;
		}
		buf_reset(&tmp);
		store_json_unescape(m->key - 1, m->key_len + 2, &tmp);
		if (tmp.len == klen && !memcmp(tmp.p, key, klen))
			found = m;
	}
	buf_free(&tmp);
	return found;
}

/* The value of a checked number token (strtod on a bounded copy: the text
 * is not NUL terminated after the token). */
static double number(const char *p, size_t len)
{
	char t[SJ_NUMBER_MAX + 1];
	if (len > SJ_NUMBER_MAX) {
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

int store_json_floats(const char *val, size_t len, float **out, size_t *dim, char *err,
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
		if (type_of(val[i]) != SJ_NUMBER || n == cap) {
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

int store_json_integer(const char *val, size_t len, long long *out)
{
	if (!len || (val[0] != '-' && !is_digit(val[0])))
		return -1;
	double d = number(val, len);
	if (d != floor(d) || fabs(d) >= 9007199254740992.0)
		return -1;
	*out = (long long)d;
	return 0;
}
