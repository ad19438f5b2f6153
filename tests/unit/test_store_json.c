/* test_store_json: store's JSON checker against ndjson_parse (cJSON), the
 * reference: fixed cases, then many random mutations of record lines that
 * must be accepted or refused alike, with the same top-level members; and
 * the readers of strings, integers and vectors. */
#include "ndjson.h"
#include "store_json.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

/* 1: accepted as an object, 0: refused; the message kind must agree. */
static int agree(const char *s, size_t n, char *why, size_t whylen)
{
	char e1[256] = "", e2[256] = "";
	struct store_json_list l = {0};
	cJSON *j = ndjson_parse(s, n, e1, sizeof e1);
	int ours = store_json_check_object(s, n, &l, e2, sizeof e2) == 0;
	int ok = 1;
	if (!!j != ours) {
		snprintf(why, whylen, "cJSON %s, store_json %s", j ? "accepts" : e1,
			 ours ? "accepts" : e2);
		ok = 0;
	} else if (!j) {
		/* same kind of refusal: the words before any column number */
		size_t k1 = strcspn(e1, "(0123456789"), k2 = strcspn(e2, "(0123456789");
		if (k1 != k2 || memcmp(e1, e2, k1)) {
			snprintf(why, whylen, "cJSON says '%s', store_json '%s'", e1, e2);
			ok = 0;
		}
	} else {
		size_t count = 0;
		for (cJSON *c = j->child; c; c = c->next)
			count++;
		if (count != l.n) {
			snprintf(why, whylen, "%zu members for cJSON, %zu for store_json", count,
				 l.n);
			ok = 0;
		}
		size_t i = 0;
		for (cJSON *c = j->child; ok && c; c = c->next, i++) {
			struct buf k = {0};
			store_json_unescape(l.m[i].key - 1, l.m[i].key_len + 2, &k);
			if (!k.p || strcmp(k.p, c->string))
				ok = 0;
			int type_ok = (cJSON_IsString(c) && l.m[i].type == SJ_STRING) ||
				      (cJSON_IsNumber(c) && l.m[i].type == SJ_NUMBER) ||
				      (cJSON_IsObject(c) && l.m[i].type == SJ_OBJECT) ||
				      (cJSON_IsArray(c) && l.m[i].type == SJ_ARRAY) ||
				      (cJSON_IsTrue(c) && l.m[i].type == SJ_TRUE) ||
				      (cJSON_IsFalse(c) && l.m[i].type == SJ_FALSE) ||
				      (cJSON_IsNull(c) && l.m[i].type == SJ_NULL);
			if (!type_ok)
				ok = 0;
			if (!ok)
				snprintf(why, whylen, "member %zu: key '%s' type %d vs '%s'", i,
					 k.p ? k.p : "", l.m[i].type, c->string);
			buf_free(&k);
		}
	}
	cJSON_Delete(j);
	store_json_list_free(&l);
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
	static const char alphabet[] = "{}[]\":,\\ue0-1.+EtrufalsnxZ9/bdD8\x01 \t";
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
	struct store_json_list l = {0};
	char err[256];
	const char *s = "{\"s\":\"a\\tb\\u00e9\\ud83d\\ude42\",\"i\":-42,\"f\":4.5,\"big\":1e300,"
			"\"v\":[0.5,-0.25,1e-3, 7 ],\"bad\":[1,\"x\"],\"huge\":[1e39],\"e\":[]}";
	T_EQ_INT(store_json_check_object(s, strlen(s), &l, err, sizeof err), 0, "check");
	struct buf b = {0};
	const struct store_json_member *m = store_json_find(&l, "s");
	if (m)
		store_json_unescape(m->val, m->val_len, &b);
	T_EQ_STR(b.p, "a\tb\xc3\xa9\xf0\x9f\x99\x82", "unescape: tab, BMP and a surrogate pair");
	buf_free(&b);
	long long v = 0;
	m = store_json_find(&l, "i");
	T_OK(m && store_json_integer(m->val, m->val_len, &v) == 0 && v == -42, "integer");
	m = store_json_find(&l, "f");
	T_OK(m && store_json_integer(m->val, m->val_len, &v) != 0, "4.5 is not an integer");
	m = store_json_find(&l, "big");
	T_OK(m && store_json_integer(m->val, m->val_len, &v) != 0, "1e300 is out of range");
	float *f = NULL;
	size_t dim = 0;
	m = store_json_find(&l, "v");
	T_OK(m && store_json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) == 0 && dim == 4 &&
		     f[0] == 0.5f && f[1] == -0.25f && f[2] == 1e-3f && f[3] == 7.0f,
	     "a vector");
	free(f);
	m = store_json_find(&l, "bad");
	T_OK(m && store_json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0 &&
		     strstr(err, "[1] is not a number"),
	     "a vector with a string: %s", err);
	m = store_json_find(&l, "huge");
	T_OK(m && store_json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0 &&
		     strstr(err, "out of the float32 range"),
	     "a number beyond float32: %s", err);
	m = store_json_find(&l, "e");
	T_OK(m && store_json_floats(m->val, m->val_len, &f, &dim, err, sizeof err) != 0, "an empty vector");
	T_OK(store_json_find(&l, "nope") == NULL, "a missing member");
	store_json_list_free(&l);

	/* the fast path of numbers gives strtod's float, digit for digit */
	long mismatches = 0;
	for (int k = 0; k < 100000; k++) {
		char t[64];
		snprintf(t, sizeof t, "[%s%u.%0*u]", rnd(2) ? "-" : "", rnd(1000), (int)(1 + rnd(9)),
			 rnd(1000000000));
		if (store_json_floats(t, strlen(t), &f, &dim, err, sizeof err) == 0) {
			if (f[0] != (float)strtod(t + 1, NULL))
				mismatches++;
			free(f);
		}
	}
	T_EQ_INT(mismatches, 0, "fast number path equals strtod on 100000 numbers");
}

int main(void)
{
	fixed();
	mutations();
	readers();
	return t_done();
}
