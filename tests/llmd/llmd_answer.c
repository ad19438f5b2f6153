/* llmd_answer.c: the deterministic answers of llmd. Every vector and every
 * content text is a pure function of the request text (see README.md
 * "Answers"), so a test can recompute what belongs to each record. */
#include "llmd.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char answer_badjson[] = "Sure! Here is the JSON you asked for: {\"claims\": [";

static const char verdict_line[] = "ANSWER WITH ONE WORD: YES, NO or UNCERTAIN";
static const char *const verdicts[] = {"YES", "NO", "UNCERTAIN"};

#define ECHO_BYTES 24
#define SCHEMA_DEPTH 32
/* Below this depth arrays get their minimum item count, so that recursive
 * schemas ({"items": {"$ref": "#"}}) end. */
#define SCHEMA_FULL_DEPTH 8

uint64_t answer_hash(const char *p, size_t n, char out[17])
{
	uint64_t h = fnv64(FNV64_INIT, p, n);
	snprintf(out, 17, "%016" PRIx64, h);
	return h;
}

/* d[0..dim) from the generator seeded with h: uniform in [-1, 1). */
static double fill_uniform(uint64_t h, long dim, double *d)
{
	double sum = 0;
	for (long i = 0; i < dim; i++) {
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
		d[i] = ((double)(h >> 11) / 9007199254740992.0) * 2 - 1;
		sum += d[i] * d[i];
	}
	return sqrt(sum);
}

void answer_embedding(const char *t, size_t n, long dim, uint64_t salt, double noise, float *v)
{
	double *d = xmalloc((size_t)dim * sizeof *d);
	double norm = fill_uniform(fnv64(FNV64_INIT, t, n), dim, d);
	if (norm > 0)
		for (long i = 0; i < dim; i++)
			d[i] /= norm;
	if (salt && noise > 0) {
		/* v + noise * e, e a unit vector of its own: nearly orthogonal
		 * to v, so the cosine is about 1 / sqrt(1 + noise^2) */
		double *e = xmalloc((size_t)dim * sizeof *e);
		double en = fill_uniform(fnv64(salt, t, n), dim, e);
		double sum = 0;
		for (long i = 0; i < dim; i++) {
			d[i] += en > 0 ? noise * e[i] / en : 0;
			sum += d[i] * d[i];
		}
		norm = sqrt(sum);
		for (long i = 0; i < dim; i++)
			d[i] = norm > 0 ? d[i] / norm : d[i];
		free(e);
	}
	for (long i = 0; i < dim; i++)
		v[i] = (float)d[i];
	free(d);
}

void answer_put_float(struct buf *b, float f)
{
	buf_printf(b, "%.9g", (double)f);
}

static void put_base64(struct buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	buf_reserve(b, (n + 2) / 3 * 4);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			w |= s[i + 2];
		char q[4] = {tab[(w >> 18) & 63], tab[(w >> 12) & 63],
			     i + 1 < n ? tab[(w >> 6) & 63] : '=',
			     i + 2 < n ? tab[w & 63] : '='};
		buf_append(b, q, 4);
	}
}

void answer_put_vector(struct buf *b, const float *v, long dim, int base64)
{
	if (base64) {
		unsigned char *raw = xmalloc((size_t)dim * 4);
		for (long i = 0; i < dim; i++) {
			uint32_t w;
			memcpy(&w, &v[i], 4);
			raw[4 * i] = (unsigned char)w;
			raw[4 * i + 1] = (unsigned char)(w >> 8);
			raw[4 * i + 2] = (unsigned char)(w >> 16);
			raw[4 * i + 3] = (unsigned char)(w >> 24);
		}
		buf_putc(b, '"');
		put_base64(b, raw, (size_t)dim * 4);
		buf_putc(b, '"');
		free(raw);
		return;
	}
	buf_reserve(b, (size_t)dim * 16 + 2);
	buf_putc(b, '[');
	for (long i = 0; i < dim; i++) {
		if (i)
			buf_putc(b, ',');
		answer_put_float(b, v[i]);
	}
	buf_putc(b, ']');
}

long answer_tokens(size_t n)
{
	return (long)((n + 3) / 4);
}

int answer_limit(struct buf *content, long max_tokens)
{
	if (max_tokens <= 0 || answer_tokens(content->len) <= max_tokens)
		return 0;
	size_t k = utf8_floor(content->p, (size_t)max_tokens * 4);
	content->len = k;
	content->p[k] = '\0';
	return 1;
}

size_t answer_piece(const char *s, size_t n)
{
	if (n <= 8)
		return n;
	size_t k = utf8_floor(s, 8);
	return k ? k : 8;
}

static const char *find_bytes(const char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	return m <= n ? memmem(p, n, needle, m) : NULL;
}

/* The scripted answer: text between "[[answer:" and the next "]]". */
static int scripted(const char *p, size_t n, const char **ans, size_t *len)
{
	const char *a = find_bytes(p, n, "[[answer:");
	if (!a)
		return 0;
	a += 9;
	const char *e = find_bytes(a, (size_t)(p + n - a), "]]");
	if (!e)
		return 0;
	*ans = a;
	*len = (size_t)(e - a);
	return 1;
}

/* ---- JSON Schema driven values ---- */
struct gen {
	struct buf *out;
	const cJSON *root;
	const char *echo; /* first bytes of the prompt */
	size_t echo_len;
	uint64_t h;
	char hex[17];
};

static void gen_value(struct gen *g, const cJSON *s, int depth);

/* Resolves a local "$ref" ("#", "#/$defs/x", any JSON pointer). */
static const cJSON *resolve_ref(const cJSON *root, const char *ref)
{
	if (ref[0] != '#')
		return NULL;
	const cJSON *cur = root;
	const char *p = ref + 1;
	while (*p == '/' && cur) {
		p++;
		struct buf tok = {0};
		while (*p && *p != '/') {
			if (p[0] == '~' && p[1] == '1')
				buf_putc(&tok, '/'), p += 2;
			else if (p[0] == '~' && p[1] == '0')
				buf_putc(&tok, '~'), p += 2;
			else
				buf_putc(&tok, *p++);
		}
		const char *key = tok.p ? tok.p : "";
		if (cJSON_IsArray(cur)) {
			long i;
			cur = parse_long(key, 0, 1L << 30, &i) ? NULL
				: cJSON_GetArrayItem(cur, (int)i);
		} else {
			cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		}
		buf_free(&tok);
	}
	return *p ? NULL : cur;
}

/* The schema's type: the first non-"null" name of "type", else inferred. */
static const char *schema_type(const cJSON *s)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
	if (cJSON_IsString(t))
		return t->valuestring;
	if (cJSON_IsArray(t)) {
		const cJSON *e;
		const char *first = NULL;
		cJSON_ArrayForEach(e, t) {
			if (!cJSON_IsString(e))
				continue;
			if (!first)
				first = e->valuestring;
			if (strcmp(e->valuestring, "null"))
				return e->valuestring;
		}
		if (first)
			return first;
	}
	if (cJSON_GetObjectItemCaseSensitive(s, "properties"))
		return "object";
	if (cJSON_GetObjectItemCaseSensitive(s, "items") ||
	    cJSON_GetObjectItemCaseSensitive(s, "prefixItems"))
		return "array";
	return "string";
}

static int num_of(const cJSON *s, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, key);
	if (!cJSON_IsNumber(v))
		return 0;
	*out = v->valuedouble;
	return 1;
}

/* Lower and upper bounds with draft 4 (boolean) and draft 6+ (numeric)
 * exclusive forms. */
static void bounds(const cJSON *s, int *has_lo, double *lo, int *ex_lo,
		   int *has_hi, double *hi, int *ex_hi)
{
	*has_lo = num_of(s, "minimum", lo);
	*has_hi = num_of(s, "maximum", hi);
	*ex_lo = *ex_hi = 0;
	double x;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum");
	if (cJSON_IsTrue(e))
		*ex_lo = *has_lo;
	else if (num_of(s, "exclusiveMinimum", &x) && (!*has_lo || x >= *lo))
		*has_lo = 1, *lo = x, *ex_lo = 1;
	e = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum");
	if (cJSON_IsTrue(e))
		*ex_hi = *has_hi;
	else if (num_of(s, "exclusiveMaximum", &x) && (!*has_hi || x <= *hi))
		*has_hi = 1, *hi = x, *ex_hi = 1;
}

static void gen_integer(struct gen *g, const cJSON *s)
{
	int has_lo, ex_lo, has_hi, ex_hi;
	double lo, hi;
	bounds(s, &has_lo, &lo, &ex_lo, &has_hi, &hi, &ex_hi);
	long long a = 0, b = 0, v;
	if (has_lo)
		a = (long long)ceil(lo) + (ex_lo && ceil(lo) == lo);
	if (has_hi)
		b = (long long)floor(hi) - (ex_hi && floor(hi) == hi);
	if (has_lo && has_hi)
		v = b >= a ? a + (long long)(g->h % (uint64_t)(b - a + 1)) : a;
	else if (has_lo)
		v = a + (long long)(g->h % 100);
	else if (has_hi)
		v = b - (long long)(g->h % 100);
	else
		v = (long long)(g->h % 100);
	buf_printf(g->out, "%lld", v);
}

static void gen_number(struct gen *g, const cJSON *s)
{
	int has_lo, ex_lo, has_hi, ex_hi;
	double lo, hi, v;
	bounds(s, &has_lo, &lo, &ex_lo, &has_hi, &hi, &ex_hi);
	if (has_lo && has_hi)
		v = hi > lo ? lo + (double)(g->h % 99 + 1) / 100.0 * (hi - lo) : lo;
	else if (has_lo)
		v = lo + (double)(g->h % 100) + ex_lo;
	else if (has_hi)
		v = hi - (double)(g->h % 100) - ex_hi;
	else
		v = (double)(g->h % 10000) / 100.0;
	buf_printf(g->out, "%.15g", v);
}

static size_t cp_count(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

/* Byte length of the first cps code points of s[0..n). */
static size_t cp_prefix(const char *s, size_t n, size_t cps)
{
	size_t i = 0, k = 0;
	while (i < n) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (k == cps)
				break;
			k++;
		}
		i++;
	}
	return i;
}

static void gen_string(struct gen *g, const cJSON *s)
{
	struct buf v = {0};
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, "format");
	const char *fmt = cJSON_IsString(f) ? f->valuestring : "";
	if (!strcmp(fmt, "date-time"))
		buf_puts(&v, "2024-01-01T00:00:00Z");
	else if (!strcmp(fmt, "date"))
		buf_puts(&v, "2024-01-01");
	else if (!strcmp(fmt, "time"))
		buf_puts(&v, "00:00:00Z");
	else if (!strcmp(fmt, "email"))
		buf_printf(&v, "h%s@example.com", g->hex);
	else if (!strcmp(fmt, "uri") || !strcmp(fmt, "url"))
		buf_printf(&v, "https://example.com/%s", g->hex);
	else if (!strcmp(fmt, "uuid"))
		buf_printf(&v, "%.8s-%.4s-4%.3s-8%.3s-%.8s%.4s", g->hex, g->hex + 8,
			   g->hex + 12, g->hex + 1, g->hex, g->hex + 4);
	else {
		buf_append(&v, g->echo, g->echo_len);
		buf_printf(&v, "#%s", g->hex);
	}
	double mn, mx;
	size_t cps = cp_count(v.p, v.len);
	if (num_of(s, "maxLength", &mx) && mx >= 0 && (double)cps > mx) {
		v.len = cp_prefix(v.p, v.len, (size_t)mx);
		v.p[v.len] = '\0';
		cps = (size_t)mx;
	}
	if (num_of(s, "minLength", &mn))
		for (; (double)cps < mn; cps++)
			buf_putc(&v, '.');
	buf_json_str(g->out, v.p, v.len);
	buf_free(&v);
}

static void gen_object(struct gen *g, const cJSON *s, int depth)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
	const cJSON *p;
	int first = 1;
	buf_putc(g->out, '{');
	if (cJSON_IsObject(props)) {
		cJSON_ArrayForEach(p, props) {
			if (!first)
				buf_putc(g->out, ',');
			first = 0;
			buf_json_str(g->out, p->string, strlen(p->string));
			buf_putc(g->out, ':');
			gen_value(g, p, depth + 1);
		}
	}
	/* required names that "properties" does not describe get strings */
	if (!cJSON_IsArray(req))
		req = NULL;
	cJSON_ArrayForEach(p, req) {
		if (!cJSON_IsString(p) ||
		    (cJSON_IsObject(props) &&
		     cJSON_GetObjectItemCaseSensitive(props, p->valuestring)))
			continue;
		if (!first)
			buf_putc(g->out, ',');
		first = 0;
		buf_json_str(g->out, p->valuestring, strlen(p->valuestring));
		buf_putc(g->out, ':');
		gen_string(g, NULL);
	}
	buf_putc(g->out, '}');
}

static void gen_array(struct gen *g, const cJSON *s, int depth)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
	const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(s, "prefixItems");
	if (cJSON_IsArray(items)) /* draft 4 tuple form */
		prefix = items, items = NULL;
	double mn = 0, mx = -1;
	num_of(s, "minItems", &mn);
	long count = depth < SCHEMA_FULL_DEPTH ? 1 : 0;
	if (mn > (double)count)
		count = (long)mn;
	if (num_of(s, "maxItems", &mx) && mx >= 0 && (double)count > mx)
		count = (long)mx;
	if (count > 1024)
		count = 1024;
	buf_putc(g->out, '[');
	for (long i = 0; i < count; i++) {
		if (i)
			buf_putc(g->out, ',');
		const cJSON *it = cJSON_IsArray(prefix) && i < cJSON_GetArraySize(prefix)
			? cJSON_GetArrayItem(prefix, (int)i) : items;
		gen_value(g, it, depth + 1);
	}
	buf_putc(g->out, ']');
}

static int is_null_schema(const cJSON *s)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
	return cJSON_IsString(t) && !strcmp(t->valuestring, "null");
}

static void gen_value(struct gen *g, const cJSON *s, int depth)
{
	if (depth > SCHEMA_DEPTH || !cJSON_IsObject(s)) {
		/* true, {} or missing: anything validates; a string is simplest */
		if (depth > SCHEMA_DEPTH)
			buf_puts(g->out, "null");
		else
			gen_string(g, NULL);
		return;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "const");
	if (v) {
		char *txt = cJSON_PrintUnformatted(v);
		buf_puts(g->out, txt ? txt : "null");
		cJSON_free(txt);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(s, "enum");
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
		int n = cJSON_GetArraySize(v);
		char *txt = cJSON_PrintUnformatted(
			cJSON_GetArrayItem(v, (int)(g->h % (uint64_t)n)));
		buf_puts(g->out, txt ? txt : "null");
		cJSON_free(txt);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(s, "$ref");
	if (cJSON_IsString(v)) {
		gen_value(g, resolve_ref(g->root, v->valuestring), depth + 1);
		return;
	}
	static const char *const alts[] = {"anyOf", "oneOf", "allOf"};
	for (size_t i = 0; i < ARRAY_LEN(alts); i++) {
		v = cJSON_GetObjectItemCaseSensitive(s, alts[i]);
		if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
			continue;
		/* the first alternative that is not just {"type": "null"} */
		const cJSON *pick = cJSON_GetArrayItem(v, 0), *e;
		cJSON_ArrayForEach(e, v) {
			if (!is_null_schema(e)) {
				pick = e;
				break;
			}
		}
		gen_value(g, pick, depth + 1);
		return;
	}
	const char *t = schema_type(s);
	if (!strcmp(t, "object"))
		gen_object(g, s, depth);
	else if (!strcmp(t, "array"))
		gen_array(g, s, depth);
	else if (!strcmp(t, "integer"))
		gen_integer(g, s);
	else if (!strcmp(t, "number"))
		gen_number(g, s);
	else if (!strcmp(t, "boolean"))
		buf_puts(g->out, g->h & 1 ? "true" : "false");
	else if (!strcmp(t, "null"))
		buf_puts(g->out, "null");
	else
		gen_string(g, s);
}

void answer_content(struct buf *out, const char *p, size_t n,
		    enum answer_mode mode, const cJSON *schema, uint64_t salt)
{
	const char *ans;
	size_t len;
	if (scripted(p, n, &ans, &len)) {
		buf_append(out, ans, len);
		return;
	}
	char hex[17];
	uint64_t h = answer_hash(p, n, hex);
	if (salt) {
		/* another computation, another answer */
		h = fnv64(h, &salt, sizeof salt);
		snprintf(hex, sizeof hex, "%016" PRIx64, h);
	}
	if (find_bytes(p, n, verdict_line)) {
		buf_puts(out, verdicts[h % 3]);
		return;
	}
	size_t echo_len = utf8_floor(p, n < ECHO_BYTES ? n : ECHO_BYTES);
	switch (mode) {
	case ANSWER_SCHEMA: {
		struct gen g = {out, schema, p, echo_len, h, {0}};
		memcpy(g.hex, hex, sizeof hex);
		gen_value(&g, schema, 0);
		break;
	}
	case ANSWER_JSON:
		buf_puts(out, "{\"echo\":");
		buf_json_str(out, p, echo_len);
		buf_printf(out, ",\"hash\":\"%s\"}", hex);
		break;
	case ANSWER_TEXT:
		buf_puts(out, "echo: ");
		buf_append(out, p, echo_len);
		buf_printf(out, " #%s", hex);
		break;
	}
}
