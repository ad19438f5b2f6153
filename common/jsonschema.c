/* jsonschema: checks schemas of the supported subset at load time and
 * validates JSON values against them, naming the path of each error. */
#include "jsonschema.h"
#include "json.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jschema {
	cJSON *root;
};

/* Keywords that constrain values; everything here is checked. */
static const char *const keywords[] = {
	"type", "properties", "required", "additionalProperties", "items", "enum",
	"const", "minItems", "maxItems", "minLength", "maxLength", "minimum",
	"maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "nullable",
};
/* Keywords that only describe; accepted and not checked. */
static const char *const annotations[] = {
	"title", "description", "default", "examples", "format", "$schema", "$id", "$comment",
};
static const char *const type_names[] = {
	"null", "boolean", "object", "array", "number", "integer", "string",
};

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

/* ---- paths: $.a.b[2]["odd key"] ---- */

static int is_ident(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '$'))
			return 0;
	return 1;
}

static void path_key(struct buf *p, const char *key)
{
	if (is_ident(key)) {
		buf_putc(p, '.');
		buf_puts(p, key);
	} else {
		buf_putc(p, '[');
		buf_json_str(p, key, strlen(key));
		buf_putc(p, ']');
	}
}

static void path_cut(struct buf *p, size_t len)
{
	p->len = len;
	p->p[len] = '\0';
}

/* ---- errors ---- */

struct ctx {
	struct buf path;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	if (!c->errlen)
		return -1;
	struct buf b = {0};
	buf_puts(&b, c->path.p ? c->path.p : "$");
	buf_puts(&b, ": ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	size_t n = b.len < c->errlen ? b.len : c->errlen - 1;
	n = utf8_floor(b.p, n);
	memcpy(c->err, b.p, n);
	c->err[n] = '\0';
	buf_free(&b);
	return -1;
}

/* A short JSON rendering of v for messages (at most about 60 bytes). */
static void short_json(struct buf *out, const cJSON *v)
{
	char *t = cJSON_PrintUnformatted(v);
	if (!t) {
		buf_puts(out, "?");
		return;
	}
	size_t n = strlen(t);
	if (n > 60) {
		buf_append(out, t, utf8_floor(t, 57));
		buf_puts(out, "...");
	} else {
		buf_append(out, t, n);
	}
	cJSON_free(t);
}

static const char *type_of(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	return "invalid";
}

/* ---- loading: the schema must use only the supported subset ---- */

static int check_schema(struct ctx *c, const cJSON *s, int depth);

static int count_ok(const cJSON *v)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 &&
	       floor(v->valuedouble) == v->valuedouble;
}

static int check_type(struct ctx *c, const cJSON *t)
{
	if (cJSON_IsString(t)) {
		if (!in_list(t->valuestring, type_names, ARRAY_LEN(type_names)))
			return fail(c, "unknown type \"%s\" (types: null, boolean, object, array, "
				    "number, integer, string)", t->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(t) || !cJSON_GetArraySize(t))
		return fail(c, "\"type\" must be a type name or a non-empty array of them");
	const cJSON *e;
	cJSON_ArrayForEach(e, t) {
		if (!cJSON_IsString(e))
			return fail(c, "\"type\" must be a type name or a non-empty array of them");
		if (check_type(c, e))
			return -1;
	}
	return 0;
}

static int check_keyword(struct ctx *c, const cJSON *kw, int depth)
{
	const char *k = kw->string;
	size_t mark = c->path.len;
	if (!strcmp(k, "type"))
		return check_type(c, kw);
	if (!strcmp(k, "properties")) {
		if (!cJSON_IsObject(kw))
			return fail(c, "\"properties\" must be an object of schemas");
		const cJSON *p;
		cJSON_ArrayForEach(p, kw) {
			buf_puts(&c->path, ".properties");
			path_key(&c->path, p->string);
			if (check_schema(c, p, depth + 1))
				return -1;
			path_cut(&c->path, mark);
		}
		return 0;
	}
	if (!strcmp(k, "required")) {
		const cJSON *e;
		if (!cJSON_IsArray(kw))
			return fail(c, "\"required\" must be an array of property names");
		cJSON_ArrayForEach(e, kw) {
			if (!cJSON_IsString(e))
				return fail(c, "\"required\" must be an array of property names");
		}
		return 0;
	}
	if (!strcmp(k, "additionalProperties") || !strcmp(k, "items")) {
		if (cJSON_IsArray(kw) && !strcmp(k, "items"))
			return fail(c, "the array (tuple) form of \"items\" is not supported: use one "
				    "schema for every item");
		if (!cJSON_IsBool(kw) && !cJSON_IsObject(kw))
			return fail(c, "\"%s\" must be a schema or a boolean", k);
		buf_putc(&c->path, '.');
		buf_puts(&c->path, k);
		if (check_schema(c, kw, depth + 1))
			return -1;
		path_cut(&c->path, mark);
		return 0;
	}
	if (!strcmp(k, "enum")) {
		if (!cJSON_IsArray(kw) || !cJSON_GetArraySize(kw))
			return fail(c, "\"enum\" must be a non-empty array of values");
		return 0;
	}
	if (!strcmp(k, "const"))
		return 0;
	if (!strcmp(k, "nullable")) {
		if (!cJSON_IsBool(kw))
			return fail(c, "\"nullable\" must be true or false");
		return 0;
	}
	if (!strcmp(k, "minItems") || !strcmp(k, "maxItems") || !strcmp(k, "minLength") ||
	    !strcmp(k, "maxLength")) {
		if (!count_ok(kw))
			return fail(c, "\"%s\" must be a non-negative integer", k);
		return 0;
	}
	if (!strcmp(k, "minimum") || !strcmp(k, "maximum")) {
		if (!cJSON_IsNumber(kw))
			return fail(c, "\"%s\" must be a number", k);
		return 0;
	}
	if (!strcmp(k, "exclusiveMinimum") || !strcmp(k, "exclusiveMaximum")) {
		/* a number (draft 6 on) or a boolean modifying minimum/maximum (draft 4) */
		if (!cJSON_IsNumber(kw) && !cJSON_IsBool(kw))
			return fail(c, "\"%s\" must be a number", k);
		return 0;
	}
	/* anyOf, oneOf */
	if (!cJSON_IsArray(kw) || !cJSON_GetArraySize(kw))
		return fail(c, "\"%s\" must be a non-empty array of schemas", k);
	int i = 0;
	const cJSON *alt;
	cJSON_ArrayForEach(alt, kw) {
		buf_printf(&c->path, ".%s[%d]", k, i++);
		if (check_schema(c, alt, depth + 1))
			return -1;
		path_cut(&c->path, mark);
	}
	return 0;
}

static int check_schema(struct ctx *c, const cJSON *s, int depth)
{
	if (depth > 64)
		return fail(c, "schema nested too deep");
	if (cJSON_IsBool(s))
		return 0;
	if (!cJSON_IsObject(s))
		return fail(c, "a schema must be an object (or true/false), not %s", type_of(s));
	const cJSON *kw;
	cJSON_ArrayForEach(kw, s) {
		if (in_list(kw->string, annotations, ARRAY_LEN(annotations)))
			continue;
		if (!in_list(kw->string, keywords, ARRAY_LEN(keywords))) {
			const char *why = "";
			if (!strcmp(kw->string, "$ref") || !strcmp(kw->string, "$defs") ||
			    !strcmp(kw->string, "definitions"))
				why = "; write referenced schemas out in place";
			return fail(c, "keyword \"%s\" is not supported%s (supported: type, properties, "
				    "required, additionalProperties, items, enum, const, minItems, "
				    "maxItems, minLength, maxLength, minimum, maximum, exclusiveMinimum, "
				    "exclusiveMaximum, anyOf, oneOf, nullable, and annotations such as "
				    "description)", kw->string, why);
		}
		if (check_keyword(c, kw, depth))
			return -1;
	}
	return 0;
}

struct jschema *jschema_new(const cJSON *schema, char *err, size_t errlen)
{
	struct ctx c = {{0}, err, errlen};
	buf_puts(&c.path, "$");
	if (!schema) {
		fail(&c, "no schema");
		buf_free(&c.path);
		return NULL;
	}
	int rc = check_schema(&c, schema, 0);
	buf_free(&c.path);
	if (rc)
		return NULL;
	struct jschema *s = xcalloc(1, sizeof *s);
	s->root = cJSON_Duplicate(schema, 1);
	if (!s->root) {
		free(s);
		snprintf(err, errlen, "out of memory copying the schema");
		return NULL;
	}
	return s;
}

struct jschema *jschema_parse(const char *text, size_t len, char *err, size_t errlen)
{
	/* the scanner of the records (json.h): a schema means what jq reads */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* as editors save it */
		text += 3;
		len -= 3;
	}
	size_t at = 0;
	char why[256] = "not JSON";
	cJSON *j = NULL;
	if (json_scan(text, len, &at, NULL, why, sizeof why) >= 0)
		j = cJSON_ParseWithLength(text, at);
	if (!j) {
		long line = 1;
		for (size_t i = 0; i < at && i < len; i++)
			line += text[i] == '\n';
		if (!strncmp(why, "not JSON", 8))
			snprintf(err, errlen, "not valid JSON (near line %ld, byte %zu)", line, at + 1);
		else
			snprintf(err, errlen, "not valid JSON (line %ld): %s", line, why);
		return NULL;
	}
	struct jschema *s = jschema_new(j, err, errlen);
	cJSON_Delete(j);
	return s;
}

void jschema_free(struct jschema *s)
{
	if (!s)
		return;
	cJSON_Delete(s->root);
	free(s);
}

const cJSON *jschema_json(const struct jschema *s)
{
	return s->root;
}

/* ---- validation ---- */

int jschema_equal(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return !strcmp(a->valuestring, b->valuestring);
	if (cJSON_IsNull(a) || cJSON_IsTrue(a) || cJSON_IsFalse(a))
		return (a->type & 0xff) == (b->type & 0xff);
	if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!jschema_equal(x, y))
				return 0;
		return !x && !y;
	}
	if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return 0;
		const cJSON *x;
		cJSON_ArrayForEach(x, a) {
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !jschema_equal(x, y))
				return 0;
		}
		return 1;
	}
	return 0;
}

static int type_matches(const char *t, const cJSON *v)
{
	if (!strcmp(t, "integer"))
		return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
		       floor(v->valuedouble) == v->valuedouble;
	return !strcmp(t, type_of(v));
}

static size_t code_points(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int validate(struct ctx *c, const cJSON *s, const cJSON *v);

/* Type names of an alternative that fails only on its type, else NULL. */
static int type_only_failure(const cJSON *alt, const cJSON *v, struct buf *names)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(alt, "type");
	if (!t)
		return 0;
	if (cJSON_IsString(t)) {
		if (type_matches(t->valuestring, v))
			return 0;
		buf_printf(names, "%s%s", names->len ? " or " : "", t->valuestring);
		return 1;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, t) {
		if (type_matches(e->valuestring, v))
			return 0;
	}
	cJSON_ArrayForEach(e, t)
		buf_printf(names, "%s%s", names->len ? " or " : "", e->valuestring);
	return 1;
}

static int validate_alternatives(struct ctx *c, const cJSON *alts, const char *kw,
				 const cJSON *v)
{
	int matched = 0, i = 0, type_only = 1;
	struct buf why = {0}, names = {0};
	char *sub = xmalloc(c->errlen);
	const cJSON *alt;
	cJSON_ArrayForEach(alt, alts) {
		i++;
		size_t mark = c->path.len;
		struct ctx sc = {{0}, sub, c->errlen};
		buf_append(&sc.path, c->path.p, mark);
		if (validate(&sc, alt, v) == 0) {
			matched++;
		} else {
			if (!(cJSON_IsObject(alt) && type_only_failure(alt, v, &names)))
				type_only = 0;
			buf_printf(&why, "%s%d) %s", why.len ? "; " : "", i, sub);
		}
		buf_free(&sc.path);
	}
	free(sub);
	int rc = 0;
	if (!matched) {
		if (type_only && names.len)
			rc = fail(c, "expected %s, got %s", names.p, type_of(v));
		else
			rc = fail(c, "matches none of the %s alternatives: %s", kw, why.p);
	} else if (matched > 1 && !strcmp(kw, "oneOf")) {
		rc = fail(c, "matches %d of the oneOf alternatives, expected exactly one", matched);
	}
	buf_free(&why);
	buf_free(&names);
	return rc;
}

static int num_kw(const cJSON *s, const char *k, double *out)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, k);
	if (!cJSON_IsNumber(x))
		return 0;
	*out = x->valuedouble;
	return 1;
}

static int bound_fail(struct ctx *c, const char *op, double lim, double x)
{
	struct buf a = {0}, b = {0};
	buf_put_double(&a, lim);
	buf_put_double(&b, x);
	fail(c, "expected a number %s %s, got %s", op, a.p, b.p);
	buf_free(&a);
	buf_free(&b);
	return -1;
}

static int validate_number(struct ctx *c, const cJSON *s, const cJSON *v)
{
	double x = v->valuedouble, lim;
	int ex_lo = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum"));
	int ex_hi = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum"));
	if (num_kw(s, "minimum", &lim) && (ex_lo ? !(x > lim) : !(x >= lim)))
		return bound_fail(c, ex_lo ? ">" : ">=", lim, x);
	if (num_kw(s, "maximum", &lim) && (ex_hi ? !(x < lim) : !(x <= lim)))
		return bound_fail(c, ex_hi ? "<" : "<=", lim, x);
	if (num_kw(s, "exclusiveMinimum", &lim) && !(x > lim))
		return bound_fail(c, ">", lim, x);
	if (num_kw(s, "exclusiveMaximum", &lim) && !(x < lim))
		return bound_fail(c, "<", lim, x);
	return 0;
}

static int validate_string(struct ctx *c, const cJSON *s, const cJSON *v)
{
	double lim;
	size_t n = code_points(v->valuestring);
	if (num_kw(s, "minLength", &lim) && (double)n < lim)
		return fail(c, "expected at least %.0f characters, got %zu", lim, n);
	if (num_kw(s, "maxLength", &lim) && (double)n > lim)
		return fail(c, "expected at most %.0f characters, got %zu", lim, n);
	return 0;
}

static int validate_array(struct ctx *c, const cJSON *s, const cJSON *v)
{
	double lim;
	int n = cJSON_GetArraySize(v);
	if (num_kw(s, "minItems", &lim) && (double)n < lim)
		return fail(c, "expected at least %.0f items, got %d", lim, n);
	if (num_kw(s, "maxItems", &lim) && (double)n > lim)
		return fail(c, "expected at most %.0f items, got %d", lim, n);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
	if (!items)
		return 0;
	size_t mark = c->path.len;
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, v) {
		buf_printf(&c->path, "[%d]", i++);
		if (validate(c, items, e))
			return -1;
		path_cut(&c->path, mark);
	}
	return 0;
}

static int validate_object(struct ctx *c, const cJSON *s, const cJSON *v)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
	const cJSON *e;
	cJSON_ArrayForEach(e, req) {
		if (!cJSON_GetObjectItemCaseSensitive(v, e->valuestring))
			return fail(c, "missing required property \"%s\"", e->valuestring);
	}
	size_t mark = c->path.len;
	cJSON_ArrayForEach(e, v) {
		const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, e->string) : NULL;
		if (!ps && cJSON_IsFalse(extra))
			return fail(c, "property \"%s\" is not allowed (additionalProperties is false)",
				    e->string);
		if (!ps)
			ps = extra;
		if (!ps)
			continue;
		path_key(&c->path, e->string);
		if (validate(c, ps, e))
			return -1;
		path_cut(&c->path, mark);
	}
	return 0;
}

static int validate(struct ctx *c, const cJSON *s, const cJSON *v)
{
	if (cJSON_IsTrue(s))
		return 0;
	if (cJSON_IsFalse(s))
		return fail(c, "no value is allowed here");
	if (cJSON_IsNull(v) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "nullable")))
		return 0;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
	if (t) {
		int ok = 0;
		if (cJSON_IsString(t)) {
			ok = type_matches(t->valuestring, v);
		} else {
			const cJSON *e;
			cJSON_ArrayForEach(e, t) {
				ok |= type_matches(e->valuestring, v);
			}
		}
		if (!ok) {
			struct buf names = {0};
			if (cJSON_IsString(t)) {
				buf_puts(&names, t->valuestring);
			} else {
				const cJSON *e;
				cJSON_ArrayForEach(e, t)
					buf_printf(&names, "%s%s", names.len ? " or " : "", e->valuestring);
			}
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "nullable")))
				buf_puts(&names, " or null");
			int rc = fail(c, "expected %s, got %s", names.p, type_of(v));
			buf_free(&names);
			return rc;
		}
	}
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
	if (en) {
		const cJSON *e;
		int found = 0;
		cJSON_ArrayForEach(e, en) {
			if (jschema_equal(e, v)) {
				found = 1;
				break;
			}
		}
		if (!found) {
			struct buf list = {0}, got = {0};
			cJSON_ArrayForEach(e, en) {
				if (list.len > 200) {
					buf_puts(&list, ", ...");
					break;
				}
				if (list.len)
					buf_puts(&list, ", ");
				short_json(&list, e);
			}
			short_json(&got, v);
			int rc = fail(c, "expected one of %s, got %s", list.p, got.p);
			buf_free(&list);
			buf_free(&got);
			return rc;
		}
	}
	const cJSON *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
	if (cn && !jschema_equal(cn, v)) {
		struct buf want = {0}, got = {0};
		short_json(&want, cn);
		short_json(&got, v);
		int rc = fail(c, "expected %s, got %s", want.p, got.p);
		buf_free(&want);
		buf_free(&got);
		return rc;
	}
	if (cJSON_IsNumber(v) && validate_number(c, s, v))
		return -1;
	if (cJSON_IsString(v) && validate_string(c, s, v))
		return -1;
	if (cJSON_IsArray(v) && validate_array(c, s, v))
		return -1;
	if (cJSON_IsObject(v) && validate_object(c, s, v))
		return -1;
	const cJSON *alts = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
	if (alts && validate_alternatives(c, alts, "anyOf", v))
		return -1;
	alts = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
	if (alts && validate_alternatives(c, alts, "oneOf", v))
		return -1;
	return 0;
}

int jschema_validate(const struct jschema *s, const cJSON *v, char *err, size_t errlen)
{
	struct ctx c = {{0}, err, errlen};
	buf_puts(&c.path, "$");
	int rc = validate(&c, s->root, v);
	buf_free(&c.path);
	if (rc == 0 && errlen)
		err[0] = '\0';
	return rc;
}
