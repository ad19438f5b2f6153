/* Unit tests of mine's prompt templates (placeholders, values as written,
 * missing fields, sections, the {{{{ escape, compile errors), of its answer
 * checks (fences, prose, compaction, schema errors) and of its file loading. */
#include "mine_answer.h"
#include "mine_files.h"
#include "mine_template.h"
#include "prompts.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

/* Renders tpl against record; returns the prompt, "MISSING <name>" or
 * "COMPILE <error>" in a static buffer. */
static const char *render(const char *tpl, const char *record, const char *text_field)
{
	static char out[2048];
	char err[256];
	struct tpl *t = tpl_compile(tpl, strlen(tpl), err, sizeof err);
	if (!t) {
		snprintf(out, sizeof out, "COMPILE %s", err);
		return out;
	}
	cJSON *j = cJSON_Parse(record);
	struct tpl_vars v = {j, record, strlen(record), text_field, "{\"type\":\"object\"}"};
	struct buf b = {0};
	char missing[64];
	if (tpl_render(t, &v, &b, missing, sizeof missing))
		snprintf(out, sizeof out, "MISSING %s", missing);
	else
		snprintf(out, sizeof out, "%s", b.p);
	buf_free(&b);
	cJSON_Delete(j);
	tpl_free(t);
	return out;
}

static const char rec[] =
	"{\"text\":\"Say \\\"hi\\\"\\nto \\u00e9mile\",\"doc\":\"a.txt\",\"t0\":1.50,"
	"\"big\":12345678901234567890,\"e\":1E3,\"ok\":true,\"none\":null,\"empty\":\"\","
	"\"obj\":{\"a\": [1, 2]},\"speaker\":\"Ann\",\"body\":\"other text\"}";

static void test_placeholders(void)
{
	T_EQ_STR(render("no placeholders", rec, NULL), "no placeholders", "literal text");
	T_OK(!strcmp(render("{{text}}", rec, NULL), "Say \"hi\"\nto \xc3\xa9mile"),
	     "strings are inserted raw (unescaped)");
	T_EQ_STR(render("[{{doc}}|{{speaker}}]", rec, NULL), "[a.txt|Ann]", "any field");
	T_EQ_STR(render("{{t0}} {{big}} {{e}}", rec, NULL), "1.50 12345678901234567890 1E3",
		 "numbers as written in the record");
	T_EQ_STR(render("{{ok}} {{none}} {{empty}}.", rec, NULL), "true null .",
		 "true, null and the empty string");
	T_EQ_STR(render("{{obj}}", rec, NULL), "{\"a\": [1, 2]}", "objects as written");
	T_EQ_STR(render("{{ speaker }}", rec, NULL), "Ann", "spaces around the name");
	T_EQ_STR(render("{{text}}", rec, "body"), "other text", "{{text}} reads --field");
	T_EQ_STR(render("{{schema}}", rec, NULL), "{\"type\":\"object\"}", "{{schema}}");
	T_EQ_STR(render("a {{missing}} b", rec, NULL), "MISSING missing", "missing field named");
	T_EQ_STR(render("{{text}}", "{\"x\":1}", "body"), "MISSING body",
		 "missing --field named by its real name");
	T_EQ_STR(render("{{{{text}} and {{{{", rec, NULL), "{{text}} and {{",
		 "{{{{ is a literal {{");
	T_EQ_STR(render("}} {\"a\": {\"b\": 1}}", rec, NULL), "}} {\"a\": {\"b\": 1}}",
		 "braces and }} alone are literal");
	T_EQ_STR(render("x{{{{{{speaker}}", rec, NULL), "x{{Ann", "escape then placeholder");
}

static void test_sections(void)
{
	T_EQ_STR(render("{{#t0}}at {{t0}}{{/t0}}.", rec, NULL), "at 1.50.", "section kept");
	T_EQ_STR(render("{{#t9}}at {{t9}}{{/t9}}.", rec, NULL), ".", "section of an absent field");
	T_EQ_STR(render("{{#none}}A{{/none}}{{#empty}}B{{/empty}}{{#ok}}C{{/ok}}", rec, NULL), "C",
		 "null and \"\" are empty, true is not");
	T_EQ_STR(render("{{^t9}}no t9{{/t9}}{{^t0}}no t0{{/t0}}", rec, NULL), "no t9",
		 "inverted sections");
	T_EQ_STR(render("{{#t0}}[{{#speaker}}{{speaker}}{{/speaker}}{{^x}}!{{/x}}]{{/t0}}", rec, NULL),
		 "[Ann!]", "nested sections");
	T_EQ_STR(render("{{#text}}{{text}}{{/text}}", "{\"body\":\"b\"}", "body"), "b",
		 "sections on text follow --field");
}

static void test_compile_errors(void)
{
	const char *got = render("line one\nbad {{text", rec, NULL);
	T_OK(strstr(got, "COMPILE line 2: \"{{\" is not closed") == got, "unclosed (got %s)", got);
	got = render("{{te\nxt}}", rec, NULL);
	T_OK(strstr(got, "not closed by \"}}\" on the same line") != NULL, "across lines (got %s)", got);
	got = render("a {{}}", rec, NULL);
	T_OK(strstr(got, "COMPILE line 1: empty or malformed") != NULL, "empty (got %s)", got);
	got = render("{{ }}", rec, NULL);
	T_OK(strstr(got, "empty or malformed") != NULL, "blank (got %s)", got);
	got = render("{{{text}}}", rec, NULL);
	T_OK(strstr(got, "empty or malformed placeholder (write {{{{") != NULL,
	     "three braces (got %s)", got);
	got = render("{{#a}}\n\nx{{/b}}", rec, NULL);
	T_EQ_STR(got, "COMPILE line 3: {{#a}} is closed by {{/b}}", "wrong close");
	got = render("x{{/b}}", rec, NULL);
	T_EQ_STR(got, "COMPILE line 1: nothing to close for {{/b}}", "stray close");
	got = render("{{#a}}x", rec, NULL);
	T_EQ_STR(got, "COMPILE section {{#a}} is never closed (add {{/a}})", "unclosed section");
}

static void test_info(void)
{
	char err[128];
	const char *s = "{{text}} {{#t0}}{{t0}} {{t1}}{{/t0}} {{schema}} {{text}}";
	struct tpl *t = tpl_compile(s, strlen(s), err, sizeof err);
	struct buf b = {0};
	tpl_fields(t, "body", &b);
	T_EQ_STR(b.p, "body,t0,t1", "fields read, once each");
	T_EQ_INT(tpl_uses_schema(t), 1, "uses the schema");
	tpl_free(t);
	t = tpl_compile("x", 1, err, sizeof err);
	T_EQ_INT(tpl_uses_schema(t), 0, "does not use the schema");
	tpl_free(t);
	buf_free(&b);
}

/* answer_check's result: the compact JSON or "ERR <message>". */
static const char *check(const char *answer, const char *schema)
{
	static char out[1024];
	char err[512];
	struct jschema *s = schema ? jschema_parse(schema, strlen(schema), err, sizeof err) : NULL;
	struct buf b = {0};
	if (answer_check(answer, s, &b, err, sizeof err))
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
	answer_correction(&b, "$.a: expected string, got number");
	T_OK(strstr(b.p, "not valid: $.a: expected string, got number.") != NULL,
	     "the correction names the error");
	buf_free(&b);
	answer_minify(&b, "{ \"a b\" : [ 1 , \"\\\\\" , \"\\\" \" ] }", 33);
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
		T_OK(strstr(flds.p, "text") && tpl_uses_schema(t), "it reads text and carries the schema");
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
	test_placeholders();
	test_sections();
	test_compile_errors();
	test_info();
	test_answers();
	test_files();
	return t_done();
}
