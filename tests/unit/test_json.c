/* test_json: the JSON scanner against cJSON, the reference: fixed cases,
 * then many random mutations of record lines that must be accepted or
 * refused alike (but for the refusals json.h names), with the same
 * top-level members; each named refusal with its message, as ndjson_parse
 * and mine's answer check report it; the readers of strings, integers and
 * vectors; minify. */
#include "json.h"
#include "ndjson.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

/* The reference: what cJSON takes as a record line (ndjson_parse before
 * the scanner: no NUL, valid UTF-8, an object, only blanks after it). */
static cJSON *reference(const char *s, size_t n, char *err, size_t errlen)
{
	if (memchr(s, '\0', n) || utf8_check(s, n) >= 0) {
		snprintf(err, errlen, "NUL or bad UTF-8");
		return NULL;
	}
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (!v) {
		snprintf(err, errlen, "not JSON");
		return NULL;
	}
	for (const char *p = end; p < s + n; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r') {
			cJSON_Delete(v);
			snprintf(err, errlen, "text after the JSON value");
			return NULL;
		}
	}
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		snprintf(err, errlen, "not a JSON object");
		return NULL;
	}
	return v;
}

/* A refusal json.h names, of a text cJSON takes. */
static int named_refusal(const char *e)
{
	return !strncmp(e, "control byte", 12) || !strncmp(e, "byte order mark", 15) ||
	       !strncmp(e, "\\u0000", 6) || !strncmp(e, "invalid \\u escape", 16) ||
	       !strncmp(e, "duplicate member", 16);
}

/* 1: judged alike (accepted with the same members, or refused; a refusal
 * of a text cJSON takes only for a reason json.h names). */
static int agree(const char *s, size_t n, char *why, size_t whylen)
{
	char e1[256] = "", e2[256] = "";
	struct json_list l = {0};
	cJSON *j = reference(s, n, e1, sizeof e1);
	int ours = json_check_object(s, n, &l, e2, sizeof e2) == 0;
	int ok = 1;
	if (!j && ours) {
		snprintf(why, whylen, "cJSON %s, json.c accepts", e1);
		ok = 0;
	} else if (j && !ours && !named_refusal(e2)) {
		snprintf(why, whylen, "cJSON accepts, json.c says '%s'", e2);
		ok = 0;
	} else if (!j || !ours) {
		ok = 1;
	} else {
		size_t count = 0;
		for (cJSON *c = j->child; c; c = c->next)
			count++;
		if (count != l.n) {
			snprintf(why, whylen, "%zu members for cJSON, %zu for json.c", count,
				 l.n);
			ok = 0;
		}
		size_t i = 0;
		for (cJSON *c = j->child; ok && c; c = c->next, i++) {
			struct buf k = {0};
			json_unescape(l.m[i].key - 1, l.m[i].key_len + 2, &k);
			if (!k.p || strcmp(k.p, c->string))
				ok = 0;
			int type_ok = (cJSON_IsString(c) && l.m[i].type == JSON_STRING) ||
				      (cJSON_IsNumber(c) && l.m[i].type == JSON_NUMBER) ||
				      (cJSON_IsObject(c) && l.m[i].type == JSON_OBJECT) ||
				      (cJSON_IsArray(c) && l.m[i].type == JSON_ARRAY) ||
				      (cJSON_IsTrue(c) && l.m[i].type == JSON_TRUE) ||
				      (cJSON_IsFalse(c) && l.m[i].type == JSON_FALSE) ||
				      (cJSON_IsNull(c) && l.m[i].type == JSON_NULL);
			if (!type_ok)
				ok = 0;
			if (!ok)
				snprintf(why, whylen, "member %zu: key '%s' type %d vs '%s'", i,
					 k.p ? k.p : "", l.m[i].type, c->string);
			buf_free(&k);
		}
	}
	cJSON_Delete(j);
	json_list_free(&l);
	return ok;
}

static void fixed(void)
{
	static const char *const cases[] = {
		"{}", " { } ", "{\"a\":1}", "{\"a\":-0.5e+3,\"b\":[1,2,{\"c\":null}]}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":-.5}", "{\"a\":.5}", "{\"a\":1e}",
		"{\"a\":1e+}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1.5.3}", "{\"a\":0x10}",
		"{\"a\":12345678901234567890123456789012345678901234567890123456789012}",
		"{\"a\":123456789012345678901234567890123456789012345678901234567890123}",
		"{\"a\":1234567890123456789012345678901234567890123456789012345678901234}",
		"{\"a\":\"\\ud83d\\ude42\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude42\"}",
		"{\"a\":\"\\uZZZZ\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\x\"}", "{\"a\":\"tab\there\"}",
		"{\"a\":\"\\\"}", "{\"a\":tru}", "{\"a\":true}", "{\"a\":nul}", "{\"a\":falsey}",
		"{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\":[1,]}",
		"{\"a\":[,1]}", "{\"a\":[]}", "[1,2]", "\"str\"", "42", "null", "{} x", "{}  ",
		"{\"a\":1}}", "{\"a\":{\"b\":{\"c\":[[[]]]}}}", "{\x01\"a\"\x02:\x03" "1\x04}",
		"{\"\\u0069d\":\"x\"}", "{\"a\":\"\\/\\b\\f\\n\\r\\t\"}", "{\"a\":-0}", "{\"a\":1E5}",
		"{\"a\":1e5.5}", "{\"a\":\"unterminated}", "{\"a\":[1,2}", "{\"a\":{\"b\":1]}",
		"{} \x01", "{}\x01 ", "{}\r\t ", "{\"\":1}", "{\"a\":1,\"a\":2}",
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char why[512] = "";
		int ok = agree(cases[i], strlen(cases[i]), why, sizeof why);
		T_OK(ok, "agrees with cJSON on %s%s%s", cases[i], ok ? "" : ": ", why);
	}
	/* nesting: cJSON's limit is 1000 */
	struct buf b = {0};
	buf_puts(&b, "{\"a\":");
	for (int i = 0; i < 999; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 999; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '}');
	char why[512] = "";
	T_OK(agree(b.p, b.len, why, sizeof why), "1000 levels agree %s", why);
	buf_reset(&b);
	buf_puts(&b, "{\"a\":");
	for (int i = 0; i < 1000; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 1000; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '}');
	T_OK(agree(b.p, b.len, why, sizeof why), "1001 levels agree %s", why);
	/* cJSON reads numbers of any length */
	buf_reset(&b);
	buf_puts(&b, "{\"a\":");
	for (int i = 0; i < 5000; i++)
		buf_putc(&b, (char)('0' + 1 + i % 9));
	buf_putc(&b, '}');
	T_OK(agree(b.p, b.len, why, sizeof why), "a number of 5000 digits agrees %s", why);
	buf_free(&b);
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void mutations(void)
{
	static const char *const seeds[] = {
		"{\"id\":\"a:1\",\"doc\":\"a\",\"seq\":1,\"text\":\"H\\u00e9llo \\\"w\\\"\",\"n\":-1.5e3}",
		"{\"id\":\"x\",\"embedding\":[0.25,-1,3e-2,1.],\"embedding_model\":\"m\",\"ok\":true}",
		"{\"id\":\"e\",\"errors\":{\"embed\":{\"code\":\"c\",\"message\":\"m\",\"failures\":2}},"
		"\"class\":{\"status\":\"error\",\"candidates\":[{\"a\":null},[]]}}",
		"{ \"a\" : [ 1 , { \"b\" : \"\\ud83d\\ude42\" } ] , \"c\" : false }",
	};
	static const char alphabet[] = "{}[]\":,\\ue0-1.+EtrufalsnxZ9/bdD8\x01 \t\v\f";
	long bad = 0, total = 0;
	char first[1024] = "";
	char line[512];
	for (int round = 0; round < 200000; round++) {
		const char *seed = seeds[rnd(ARRAY_LEN(seeds))];
		size_t n = strlen(seed);
		memcpy(line, seed, n);
		int edits = 1 + (int)rnd(3);
		for (int e = 0; e < edits; e++) {
			size_t at = rnd((unsigned)n + 1);
			char c = alphabet[rnd(sizeof alphabet - 1)];
			switch (rnd(3)) {
			case 0: /* replace */
				if (at < n)
					line[at] = c;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof line) {
					memmove(line + at + 1, line + at, n - at);
					line[at] = c;
					n++;
				}
				break;
			default: /* delete */
				if (at < n) {
					memmove(line + at, line + at + 1, n - at - 1);
					n--;
				}
			}
		}
		char why[512];
		total++;
		if (!agree(line, n, why, sizeof why)) {
			if (!bad)
				snprintf(first, sizeof first, "%.*s: %s", (int)n, line, why);
			bad++;
		}
	}
	T_OK(bad == 0, "%ld random mutations judged as cJSON judges them (%ld differ%s%s)", total,
	     bad, bad ? "; first: " : "", first);
}

static void readers(void)
{
	struct json_list l = {0};
	char err[256];
	const char *s = "{\"s\":\"a\\tb\\u00e9\\ud83d\\ude42\",\"i\":-42,\"f\":4.5,\"big\":1e300,"
			"\"v\":[0.5,-0.25,1e-3, 7 ],\"bad\":[1,\"x\"],\"huge\":[1e39],\"e\":[]}";
	T_EQ_INT(json_check_object(s, strlen(s), &l, err, sizeof err), 0, "check");
	struct buf b = {0};
	const struct json_member *m = json_find(&l, "s");
	if (m)
		json_unescape(m->val, m->val_len, &b);
	T_EQ_STR(b.p, "a\tb\xc3\xa9\xf0\x9f\x99\x82", "unescape: tab, BMP and a surrogate pair");
	buf_free(&b);
	long long v = 0;
	m = json_find(&l, "i");
	T_OK(m && json_integer(m->val, m->val_len, &v) == 0 && v == -42, "integer");
	m = json_find(&l, "f");
	T_OK(m && json_integer(m->val, m->val_len, &v) != 0, "4.5 is not an integer");
	m = json_find(&l, "big");
	T_OK(m && json_integer(m->val, m->val_len, &v) != 0, "1e300 is out of range");
	float *f = NULL;
	size_t dim = 0;
	m = json_find(&l, "v");
	T_OK(m && json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) == 0 && dim == 4 &&
		     f[0] == 0.5f && f[1] == -0.25f && f[2] == 1e-3f && f[3] == 7.0f,
	     "a vector");
	free(f);
	m = json_find(&l, "bad");
	T_OK(m && json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0 &&
		     strstr(err, "[1] is not a number"),
	     "a vector with a string: %s", err);
	m = json_find(&l, "huge");
	T_OK(m && json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0 &&
		     strstr(err, "out of the float32 range"),
	     "a number beyond float32: %s", err);
	m = json_find(&l, "e");
	T_OK(m && json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0, "an empty vector");
	T_OK(json_find(&l, "nope") == NULL, "a missing member");
	json_list_free(&l);

	/* the fast path of numbers gives strtod's float, digit for digit */
	long mismatches = 0;
	for (int k = 0; k < 100000; k++) {
		char t[64];
		snprintf(t, sizeof t, "[%s%u.%0*u]", rnd(2) ? "-" : "", rnd(1000), (int)(1 + rnd(9)),
			 rnd(1000000000));
		if (json_floats(t, strlen(t), &f, &dim, err, sizeof err) == 0) {
			if (f[0] != (float)strtod(t + 1, NULL))
				mismatches++;
			free(f);
		}
	}
	T_EQ_INT(mismatches, 0, "fast number path equals strtod on 100000 numbers");
}

/* Each text cJSON reads differently from other readers, refused by name
 * (issue 8: store wrote "failures"1 after a \v, texts were cut at \u0000,
 * escaped and repeated names made duplicate members). */
static void refusals(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"\v{\"id\":\"a\"}", "control byte 0x0B outside a string at column 1"},
		{"{\"id\":\"a\",\f\"b\":1}", "control byte 0x0C outside a string at column 11"},
		{"{\"failures\"\v:1}", "control byte 0x0B outside a string at column 12"},
		{"{\"id\":\"a\"}\v", "control byte 0x0B outside a string at column 11"},
		{"\xEF\xBB\xBF{\"id\":\"a\"}", "byte order mark (U+FEFF) outside a string at column 1"},
		{"{\"t\":\"a\\u0000b\"}", "\\u0000 (a NUL character, which lanes strings cannot hold) at column 8"},
		{"{\"t\":\"a\\uZZZZb\"}", "invalid \\u escape at column 8"},
		{"{\"t\":\"a\\u12\"}", "invalid \\u escape at column 8"},
		{"{\"t\":\"\\ud83d\"}", "invalid \\u escape (a lone surrogate) at column 7"},
		{"{\"t\":\"\\ude42\"}", "invalid \\u escape at column 7"},
		{"{\"a\":1,\"a\":2}", "duplicate member \"a\" at column 8"},
		{"{\"embedding\":[1],\"\\u0065mbedding\":[2]}",
		 "duplicate member \"embedding\" at column 18"},
		{"{\"x\":{\"b\":1,\"c\":{\"b\":2},\"b\":3}}", "duplicate member \"b\" at column 25"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char err[256] = "";
		const char *in = cases[i].in;
		cJSON *j = ndjson_parse(in, strlen(in), err, sizeof err);
		T_OK(!j && !strncmp(err, cases[i].want, strlen(cases[i].want)),
		     "refused: %s (got '%s')", cases[i].want, err);
		cJSON_Delete(j);
	}
	/* accepted alike: an escaped name is the name, nested names repeat
	 * freely across objects */
	char err[256] = "";
	struct json_list l = {0};
	const char *ok = "{\"\\u0065mbedding\":[1],\"a\":{\"b\":1},\"c\":{\"b\":2}}";
	T_OK(json_check_object(ok, strlen(ok), &l, err, sizeof err) == 0, "accepted: %s", err);
	const struct json_member *m = json_find(&l, "embedding");
	T_OK(m && m->type == JSON_ARRAY, "an escaped name is found by its unescaped name");
	json_list_free(&l);
	/* many members: the duplicate check sorts them */
	struct buf b = {0};
	buf_putc(&b, '{');
	for (int k = 0; k < 5000; k++)
		buf_printf(&b, "%s\"k%d\":%d", k ? "," : "", k, k);
	buf_puts(&b, ",\"k4321\":0}");
	T_OK(json_check_object(b.p, b.len, &l, err, sizeof err) != 0 &&
		     strstr(err, "duplicate member \"k4321\""),
	     "a repeated name among 5001 members: %s", err);
	json_list_free(&l);
	buf_free(&b);
	/* minify: a string ending in an escaped backslash (cJSON_Minify of
	 * cJSON 1.7.15 keeps the blanks after it) */
	const char *sp = "{ \"a b\" : [ 1 ,\t\"\\\\\" ,\r\n \"\\\" \" ] }";
	json_minify(&b, sp, strlen(sp));
	T_EQ_STR(b.p, "{\"a b\":[1,\"\\\\\",\"\\\" \"]}", "minify keeps strings with escapes");
	buf_free(&b);
}

int main(void)
{
	json_init();
	fixed();
	refusals();
	mutations();
	readers();
	return t_done();
}
