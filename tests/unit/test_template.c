/* Unit tests of common/template.c: placeholders, values as written,
 * missing fields, sections, the {{{{ escape, compile errors, and the plain
 * language of classify's prompts (named values, lines of empty
 * placeholders dropped). */
#include "t.h"
#include "template.h"
#include "util.h"

#include <stdlib.h>

/* Renders tpl against record; returns the prompt, "MISSING <name>" or
 * "COMPILE <error>" in a static buffer. */
static const char *render(const char *tpl, const char *record, const char *text_field)
{
	static char out[2048];
	char err[256];
	struct tpl *t = tpl_compile(tpl, strlen(tpl), 0, err, sizeof err);
	if (!t) {
		snprintf(out, sizeof out, "COMPILE %s", err);
		return out;
	}
	cJSON *j = cJSON_Parse(record);
	struct tpl_vars v = {.json = j, .line = record, .len = strlen(record),
			     .text_field = text_field, .schema = "{\"type\":\"object\"}"};
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

/* Renders tpl in classify's language with names[i] -> values[i]. */
static const char *render_plain(const char *tpl, const char *const *names,
				const char *const *values, size_t n)
{
	static char out[1024];
	char err[128];
	struct tpl *t = tpl_compile(tpl, strlen(tpl), TPL_PLAIN | TPL_DROP_EMPTY, err, sizeof err);
	struct tpl_vars v = {.names = names, .values = values, .nvalues = n};
	struct buf b = {0};
	if (!t)
		snprintf(out, sizeof out, "COMPILE %s", err);
	else if (tpl_render(t, &v, &b, NULL, 0))
		snprintf(out, sizeof out, "FAILED");
	else
		snprintf(out, sizeof out, "%s", b.p);
	buf_free(&b);
	tpl_free(t);
	return out;
}

static void test_plain(void)
{
	static const char *const names[] = {"text", "label", "synonyms"};
	const char *values[] = {"Java dev", "Software developers", ""};
	T_EQ_STR(render_plain("Item: {{text}}\nAlso: {{synonyms}}\nCategory: {{ label }}\nEnd\n",
			      names, values, 3),
		 "Item: Java dev\nCategory: Software developers\nEnd\n",
		 "a line whose placeholders are empty is left out");
	T_EQ_STR(render_plain("{{label}}/{{synonyms}} and {{unknown}}", names, values, 3),
		 "Software developers/ and ", "a line with one full placeholder stays");
	T_EQ_STR(render_plain("no placeholders, {{ unclosed", names, values, 3),
		 "no placeholders, {{ unclosed", "text without placeholders as is");
	char err[128];
	const char *s = "{{text}} {{#label}} {{{{x}} {{schema}}";
	struct tpl *t = tpl_compile(s, strlen(s), TPL_PLAIN, err, sizeof err);
	static const char *const known[] = {"text", "schema"};
	T_EQ_STR(tpl_unknown(t, known, 2), "#label", "no sections: the first unknown name");
	T_EQ_INT(tpl_uses(t, "text") && tpl_uses(t, "schema") && !tpl_uses(t, "label"), 1,
		 "the names used");
	tpl_free(t);
}

static void test_info(void)
{
	char err[128];
	const char *s = "{{text}} {{#t0}}{{t0}} {{t1}}{{/t0}} {{schema}} {{text}}";
	struct tpl *t = tpl_compile(s, strlen(s), 0, err, sizeof err);
	struct buf b = {0};
	tpl_fields(t, "body", &b);
	T_EQ_STR(b.p, "body,t0,t1", "fields read, once each");
	T_EQ_INT(tpl_uses(t, "schema"), 1, "uses the schema");
	tpl_free(t);
	t = tpl_compile("x", 1, 0, err, sizeof err);
	T_EQ_INT(tpl_uses(t, "schema"), 0, "does not use the schema");
	tpl_free(t);
	buf_free(&b);
}

int main(void)
{
	test_placeholders();
	test_sections();
	test_compile_errors();
	test_info();
	test_plain();
	return t_done();
}
