/* Unit tests of mine's answer checks (fences, prose, compaction, schema
 * errors) and of loading its prompt template and schema. */
#include "mine_answer.h"
#include "mine_files.h"
#include "prompts.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

/* mine_answer_check's result: the compact JSON or "ERR <message>". */
static const char *check(const char *answer, const char *schema)
{
	static char out[1024];
	char err[512];
	struct jschema *s = schema ? jschema_parse(schema, strlen(schema), err, sizeof err) : NULL;
	struct buf b = {0};
	if (mine_answer_check(answer, s, &b, err, sizeof err))
		snprintf(out, sizeof out, "ERR %s", err);
	else
		snprintf(out, sizeof out, "%s", b.p);
	buf_free(&b);
	jschema_free(s);
	return out;
}

static void test_answers(void)
{
	T_EQ_STR(check(" {\"a\" : [1.50, 2e3, 12345678901234567890],\n \"b\": \"x  y\\\" z\"} \n", NULL),
		 "{\"a\":[1.50,2e3,12345678901234567890],\"b\":\"x  y\\\" z\"}",
		 "compact, numbers and strings as the model wrote them");
	T_EQ_STR(check("```json\n{\"a\": 1}\n```", NULL), "{\"a\":1}", "a Markdown fence is removed");
	T_EQ_STR(check("```\n{\"a\": 1}\n```\n", NULL), "{\"a\":1}", "a bare fence too");
	T_EQ_STR(check("", NULL), "ERR the answer is empty", "empty");
	T_EQ_STR(check(" \n", NULL), "ERR the answer is empty", "blank");
	T_EQ_STR(check("Sure! Here is the JSON you asked for: {\"claims\": [", NULL),
		 "ERR the answer is not JSON (it starts \"Sure! Here is the JSON you asked for: "
		 "{\\\"...\" and breaks at byte 1)", "prose");
	T_EQ_STR(check("{\"a\": 1} I hope this helps", NULL),
		 "ERR the answer has more text after the JSON value: \"I hope this helps\"",
		 "trailing text");
	T_EQ_STR(check("[1]", NULL), "ERR the answer is a JSON array, not an object", "array");
	T_EQ_STR(check("\"x\"", NULL), "ERR the answer is a JSON string, not an object", "string");
	T_EQ_STR(check("{\"a\": \"\xff\"}", NULL), "ERR the answer is not valid UTF-8 (byte 8)",
		 "bad UTF-8");
	const char *schema = "{\"type\":\"object\",\"properties\":{\"claims\":{\"type\":\"array\","
			     "\"items\":{\"type\":\"object\",\"properties\":{\"quote\":{\"type\":"
			     "\"string\"}}}}},\"required\":[\"claims\"]}";
	T_EQ_STR(check("{\"claims\": [{\"quote\": \"q\"}, {\"quote\": 2}]}", schema),
		 "ERR $.claims[1].quote: expected string, got number", "schema error with its path");
	T_EQ_STR(check("{}", schema), "ERR $: missing required property \"claims\"",
		 "an empty object is not a valid answer for this schema");
	T_EQ_STR(check("{\"claims\": []}", schema), "{\"claims\":[]}", "empty lists are valid");
	struct buf b = {0};
	mine_answer_correction(&b, "$.a: expected string, got number");
	T_OK(strstr(b.p, "not valid: $.a: expected string, got number.") != NULL,
	     "the correction names the error");
	buf_free(&b);
	mine_answer_minify(&b, "{ \"a b\" : [ 1 , \"\\\\\" , \"\\\" \" ] }", 33);
	T_EQ_STR(b.p, "{\"a b\":[1,\"\\\\\",\"\\\" \"]}", "minify keeps strings with escapes");
	buf_free(&b);
}

static void test_files(void)
{
	char dir[] = "/tmp/lanes-mine-test-XXXXXX";
	T_OK(mkdtemp(dir) != NULL, "temporary directory");
	struct buf tried = {0};
	char *found = prompt_find("mine.txt", 0, &tried);
	T_OK(found && strstr(found, "pipelines/prompts/mine.txt"),
	     "the default template is found from the binary (%s)", found ? found : tried.p);
	char err[512];
	struct tpl *t = found ? mine_load_template(found, err, sizeof err) : NULL;
	T_OK(t != NULL, "the default template compiles");
	if (t) {
		struct buf flds = {0};
		tpl_fields(t, "text", &flds);
		T_OK(strstr(flds.p, "text") && tpl_uses(t, "schema"), "it reads text and carries the schema");
		buf_free(&flds);
	}
	tpl_free(t);
	free(found);
	buf_free(&tried);

	char *sp = xasprintf("%s/s.json", dir);
	FILE *f = fopen(sp, "w");
	fputs("{\"type\":\"array\"}", f);
	fclose(f);
	char *text = NULL;
	struct jschema *s = mine_load_schema(sp, &text, err, sizeof err);
	T_OK(!s && strstr(err, "must be \"object\""), "a schema for a non-object is refused (%s)", err);
	f = fopen(sp, "w");
	fputs("\n {\"type\":\"object\",\"pattern\":\"x\"}\n", f);
	fclose(f);
	s = mine_load_schema(sp, &text, err, sizeof err);
	T_OK(!s && strstr(err, "keyword \"pattern\" is not supported"), "unsupported keyword (%s)", err);
	f = fopen(sp, "w");
	fputs("\n {\"type\": \"object\",\n  \"description\": \"a  b\"}\n", f);
	fclose(f);
	s = mine_load_schema(sp, &text, err, sizeof err);
	T_OK(s && !strcmp(text, "{\"type\":\"object\",\"description\":\"a  b\"}"),
	     "schema text for the prompt: compact, strings untouched (%s)", text ? text : "");
	jschema_free(s);
	free(text);
	unlink(sp);
	rmdir(dir);
	free(sp);
}

int main(void)
{
	test_answers();
	test_files();
	return t_done();
}
