/* mine_answer: checks a model's answer and compacts it for the record. */
#include "mine_answer.h"

#include "json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s))
		(*s)++, (*n)--;
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

void mine_answer_minify(struct buf *out, const char *s, size_t n)
{
	json_minify(out, s, n);
	if (!out->p)
		buf_puts(out, "");
}

/* A quotable excerpt of the answer for messages. */
static void excerpt(struct buf *b, const char *s, size_t n)
{
	size_t k = n > 40 ? utf8_floor(s, 40) : n;
	struct buf t = {0};
	buf_append(&t, s, k);
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] == '\n' || t.p[i] == '\r' || t.p[i] == '\t')
			t.p[i] = ' ';
	buf_json_str(b, t.p, t.len);
	if (k < n) {
		b->len--; /* inside the closing quote */
		buf_puts(b, "...\"");
	}
	buf_free(&t);
}

int mine_answer_check(const char *text, const struct jschema *schema, struct buf *compact,
		 char *err, size_t errlen)
{
	buf_reset(compact);
	const char *s = text ? text : "";
	size_t n = strlen(s);
	trim(&s, &n);
	if (!n) {
		snprintf(err, errlen, "the answer is empty");
		return -1;
	}
	long bad = utf8_check(s, n);
	if (bad >= 0) {
		snprintf(err, errlen, "the answer is not valid UTF-8 (byte %ld)", bad + 1);
		return -1;
	}
	/* ```json ... ``` around the object, as chat models like to write */
	if (n >= 6 && !strncmp(s, "```", 3)) {
		const char *nl = memchr(s, '\n', n);
		if (nl) {
			n -= (size_t)(nl + 1 - s);
			s = nl + 1;
			trim(&s, &n);
			if (n >= 3 && !strncmp(s + n - 3, "```", 3))
				n -= 3;
			trim(&s, &n);
		}
	}
	/* the scanner every tool reads records with; it refuses what cJSON
	 * would read differently from other readers (json.h) */
	size_t used = 0;
	char why[256];
	int type = json_scan(s, n, &used, NULL, why, sizeof why);
	if (type < 0) {
		struct buf b = {0};
		excerpt(&b, s, n);
		if (!strncmp(why, "not JSON", 8))
			snprintf(err, errlen, "the answer is not JSON (it starts %s and breaks at "
				 "byte %zu)", b.p, used + 1);
		else
			snprintf(err, errlen, "the answer is not JSON that every reader reads "
				 "alike: %s (it starts %s)", why, b.p);
		buf_free(&b);
		return -1;
	}
	const char *rest = s + used;
	size_t rest_n = n - used;
	trim(&rest, &rest_n);
	if (rest_n) {
		struct buf b = {0};
		excerpt(&b, rest, rest_n);
		snprintf(err, errlen, "the answer has more text after the JSON value: %s", b.p);
		buf_free(&b);
		return -1;
	}
	if (type != JSON_OBJECT) {
		snprintf(err, errlen, "the answer is a JSON %s, not an object",
			 type == JSON_ARRAY ? "array" : type == JSON_STRING ? "string"
			 : type == JSON_NUMBER ? "number"
			 : type == JSON_TRUE || type == JSON_FALSE ? "boolean" : "null");
		return -1;
	}
	cJSON *j = cJSON_ParseWithLength(s, used);
	if (!j) { /* cannot happen: cJSON reads what json_scan accepts */
		snprintf(err, errlen, "the answer is not JSON (refused by cJSON)");
		return -1;
	}
	int rc = schema ? jschema_validate(schema, j, err, errlen) : 0;
	cJSON_Delete(j);
	if (rc)
		return -1;
	mine_answer_minify(compact, s, used);
	return 0;
}

void mine_answer_correction(struct buf *out, const char *err)
{
	buf_printf(out, "Your answer was not valid: %s. Answer again with only the corrected "
		   "JSON object, following the schema you were given, with no other text.", err);
}
