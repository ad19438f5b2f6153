/* Unit tests of common/jsonschema: every supported keyword, the JSON paths
 * in error messages, and schemas refused at load time. */
#include "jsonschema.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>

static struct jschema *load(const char *text, char *err, size_t errlen)
{
	return jschema_parse(text, strlen(text), err, errlen);
}

/* Validates doc against schema; returns the error text ("" when valid) in a
 * static buffer, or "LOAD: <message>" when the schema does not load. */
static const char *check(const char *schema, const char *doc)
{
	static char out[1024];
	char err[512];
	struct jschema *s = load(schema, err, sizeof err);
	if (!s) {
		snprintf(out, sizeof out, "LOAD: %s", err);
		return out;
	}
	cJSON *v = cJSON_Parse(doc);
	if (!v) {
		jschema_free(s);
		return "BAD TEST DOCUMENT";
	}
	out[0] = '\0';
	if (jschema_validate(s, v, err, sizeof err))
		snprintf(out, sizeof out, "%s", err);
	cJSON_Delete(v);
	jschema_free(s);
	return out;
}

#define VALID(schema, doc, what) T_EQ_STR(check(schema, doc), "", what)
#define INVALID(schema, doc, msg, what) T_EQ_STR(check(schema, doc), msg, what)

static int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void test_type(void)
{
	VALID("{\"type\":\"string\"}", "\"x\"", "string");
	INVALID("{\"type\":\"string\"}", "1", "$: expected string, got number", "string vs number");
	VALID("{\"type\":\"number\"}", "1.5", "number");
	VALID("{\"type\":\"integer\"}", "3", "integer");
	VALID("{\"type\":\"integer\"}", "3.0", "3.0 is an integer");
	INVALID("{\"type\":\"integer\"}", "3.5", "$: expected integer, got number", "3.5 is not");
	VALID("{\"type\":\"boolean\"}", "false", "boolean");
	INVALID("{\"type\":\"boolean\"}", "\"true\"", "$: expected boolean, got string", "boolean vs string");
	VALID("{\"type\":\"null\"}", "null", "null");
	VALID("{\"type\":\"object\"}", "{}", "object");
	INVALID("{\"type\":\"object\"}", "[]", "$: expected object, got array", "object vs array");
	VALID("{\"type\":\"array\"}", "[1]", "array");
	VALID("{\"type\":[\"string\",\"null\"]}", "null", "array of types: null");
	VALID("{\"type\":[\"string\",\"null\"]}", "\"a\"", "array of types: string");
	INVALID("{\"type\":[\"string\",\"null\"]}", "7", "$: expected string or null, got number",
		"array of types names them all");
	VALID("{}", "[1,{\"a\":null}]", "empty schema takes anything");
	VALID("true", "3", "true schema");
	INVALID("false", "3", "$: no value is allowed here", "false schema");
}

static void test_objects(void)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},"
			"\"b\":{\"type\":\"integer\"}},\"required\":[\"a\"]}";
	VALID(s, "{\"a\":\"x\"}", "required present");
	VALID(s, "{\"a\":\"x\",\"b\":2,\"c\":true}", "additional allowed by default");
	INVALID(s, "{\"b\":2}", "$: missing required property \"a\"", "required missing");
	INVALID(s, "{\"a\":\"x\",\"b\":\"2\"}", "$.b: expected integer, got string", "property type");
	const char *closed = "{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":false}";
	VALID(closed, "{\"a\":1}", "closed object: known property");
	INVALID(closed, "{\"a\":1,\"zz\":2}",
		"$: property \"zz\" is not allowed (additionalProperties is false)", "closed object");
	const char *typed = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}";
	VALID(typed, "{\"x\":1,\"y\":2}", "additionalProperties schema");
	INVALID(typed, "{\"x\":1,\"y z\":\"2\"}", "$[\"y z\"]: expected number, got string",
		"odd keys are quoted in paths");
	VALID("{\"additionalProperties\":true}", "{\"q\":1}", "additionalProperties true");
}

static void test_arrays(void)
{
	const char *s = "{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,\"maxItems\":2}";
	VALID(s, "[\"a\"]", "one item");
	VALID(s, "[\"a\",\"b\"]", "two items");
	INVALID(s, "[]", "$: expected at least 1 items, got 0", "minItems");
	INVALID(s, "[\"a\",\"b\",\"c\"]", "$: expected at most 2 items, got 3", "maxItems");
	INVALID(s, "[\"a\",2]", "$[1]: expected string, got number", "items path");
	const char *claims =
		"{\"type\":\"object\",\"properties\":{\"claims\":{\"type\":\"array\",\"items\":"
		"{\"type\":\"object\",\"properties\":{\"quote\":{\"type\":\"string\"}},"
		"\"required\":[\"quote\"]}}}}";
	INVALID(claims, "{\"claims\":[{\"quote\":\"a\"},{\"quote\":\"b\"},{\"quote\":3}]}",
		"$.claims[2].quote: expected string, got number", "nested path as in the issue");
	INVALID(claims, "{\"claims\":[{\"quote\":\"a\"},{}]}",
		"$.claims[1]: missing required property \"quote\"", "required in an item");
	VALID("{\"type\":\"array\",\"items\":true}", "[1,\"a\"]", "items true");
}

static void test_strings_numbers(void)
{
	const char *s = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
	VALID(s, "\"ab\"", "length 2");
	INVALID(s, "\"a\"", "$: expected at least 2 characters, got 1", "minLength");
	INVALID(s, "\"abcd\"", "$: expected at most 3 characters, got 4", "maxLength");
	VALID(s, "\"\xc3\xa9t\xc3\xa9\"", "lengths count code points, not bytes");
	VALID("{\"maxLength\":1}", "\"\xf0\x9f\x98\x80\"", "one emoji is one character");
	VALID("{\"minLength\":5}", "3", "minLength ignores non-strings");
	const char *n = "{\"type\":\"number\",\"minimum\":0,\"maximum\":1}";
	VALID(n, "0", "minimum inclusive");
	VALID(n, "1", "maximum inclusive");
	INVALID(n, "-0.5", "$: expected a number >= 0, got -0.5", "minimum");
	INVALID(n, "1.25", "$: expected a number <= 1, got 1.25", "maximum");
	const char *ex = "{\"exclusiveMinimum\":0,\"exclusiveMaximum\":10}";
	VALID(ex, "5", "exclusive bounds (numbers)");
	INVALID(ex, "0", "$: expected a number > 0, got 0", "exclusiveMinimum");
	INVALID(ex, "10", "$: expected a number < 10, got 10", "exclusiveMaximum");
	const char *d4 = "{\"minimum\":0,\"exclusiveMinimum\":true,\"maximum\":1,\"exclusiveMaximum\":true}";
	INVALID(d4, "0", "$: expected a number > 0, got 0", "draft 4 boolean exclusiveMinimum");
	INVALID(d4, "1", "$: expected a number < 1, got 1", "draft 4 boolean exclusiveMaximum");
	VALID(d4, "0.5", "draft 4 inside");
	INVALID("{\"minimum\":0.1}", "0.05", "$: expected a number >= 0.1, got 0.05",
		"numbers are written short");
}

static void test_enum_const(void)
{
	const char *e = "{\"enum\":[\"fact\",\"opinion\",null,1]}";
	VALID(e, "\"fact\"", "enum string");
	VALID(e, "null", "enum null");
	VALID(e, "1.0", "enum numbers compare by value");
	INVALID(e, "\"guess\"", "$: expected one of \"fact\", \"opinion\", null, 1, got \"guess\"",
		"enum miss");
	VALID("{\"enum\":[{\"a\":1,\"b\":[true]}]}", "{\"b\":[true],\"a\":1}",
	      "enum objects compare regardless of member order");
	INVALID("{\"enum\":[[1,2]]}", "[2,1]", "$: expected one of [1,2], got [2,1]",
		"arrays compare in order");
	VALID("{\"const\":\"x\"}", "\"x\"", "const");
	INVALID("{\"const\":{\"k\":false}}", "{\"k\":true}", "$: expected {\"k\":false}, got {\"k\":true}",
		"const miss");
	cJSON *t = cJSON_CreateTrue(), *f = cJSON_CreateFalse();
	T_OK(!jschema_equal(t, f) && jschema_equal(t, t), "booleans compare by value");
	cJSON_Delete(t);
	cJSON_Delete(f);
}

static void test_alternatives(void)
{
	const char *nullable = "{\"properties\":{\"t0\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"null\"}]}}}";
	VALID(nullable, "{\"t0\":1.5}", "anyOf number");
	VALID(nullable, "{\"t0\":null}", "anyOf null");
	INVALID(nullable, "{\"t0\":\"1\"}", "$.t0: expected number or null, got string",
		"anyOf of types reads like a type list");
	const char *mixed = "{\"anyOf\":[{\"type\":\"string\",\"maxLength\":2},{\"type\":\"integer\"}]}";
	VALID(mixed, "\"ab\"", "anyOf first");
	VALID(mixed, "7", "anyOf second");
	const char *got = check(mixed, "\"abc\"");
	T_OK(starts_with(got, "$: matches none of the anyOf alternatives: 1) $: expected at most 2 "
			      "characters, got 3; 2) $: expected integer, got string"),
	     "anyOf lists why each alternative failed (got \"%s\")", got);
	const char *one = "{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}";
	VALID(one, "1.5", "oneOf: exactly one");
	INVALID(one, "2", "$: matches 2 of the oneOf alternatives, expected exactly one", "oneOf: two");
	const char *oa = "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}";
	VALID(oa, "null", "oneOf nullable");
	INVALID(oa, "[]", "$: expected string or null, got array", "oneOf of types");
	const char *nb = "{\"type\":\"string\",\"nullable\":true}";
	VALID(nb, "null", "OpenAPI nullable");
	INVALID(nb, "1", "$: expected string or null, got number", "nullable names null");
	const char *deep = "{\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"object\",\"properties\":"
			   "{\"b\":{\"type\":\"string\"}}},{\"type\":\"null\"}]}}}";
	got = check(deep, "{\"a\":{\"b\":2}}");
	T_OK(strstr(got, "$.a.b: expected string, got number") != NULL,
	     "nested paths inside alternatives (got \"%s\")", got);
}

static void test_refused(void)
{
	const char *got = check("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
				"\"pattern\":\"^a\"}}}", "{}");
	T_OK(starts_with(got, "LOAD: $.properties.name: keyword \"pattern\" is not supported"),
	     "unsupported keyword named with its place (got \"%s\")", got);
	got = check("{\"$defs\":{},\"$ref\":\"#/$defs/x\"}", "{}");
	T_OK(starts_with(got, "LOAD: $: keyword \"$defs\" is not supported; write referenced"),
	     "references refused with advice (got \"%s\")", got);
	got = check("{\"items\":[{\"type\":\"string\"}]}", "[]");
	T_OK(strstr(got, "tuple") != NULL, "tuple items refused (got \"%s\")", got);
	got = check("{\"type\":\"text\"}", "1");
	T_OK(starts_with(got, "LOAD: $: unknown type \"text\""), "unknown type name (got \"%s\")", got);
	got = check("{\"minItems\":-1}", "1");
	T_OK(strstr(got, "non-negative integer") != NULL, "bad minItems (got \"%s\")", got);
	got = check("{\"required\":\"a\"}", "1");
	T_OK(strstr(got, "\"required\" must be an array") != NULL, "bad required (got \"%s\")", got);
	got = check("{\"enum\":[]}", "1");
	T_OK(strstr(got, "non-empty array") != NULL, "empty enum (got \"%s\")", got);
	got = check("{\"anyOf\":[{\"type\":\"string\"},{\"uniqueItems\":true}]}", "1");
	T_OK(starts_with(got, "LOAD: $.anyOf[1]: keyword \"uniqueItems\""),
	     "path into alternatives (got \"%s\")", got);
	got = check("{\"properties\":{\"a\":3}}", "1");
	T_OK(starts_with(got, "LOAD: $.properties.a: a schema must be an object"),
	     "non-schema property (got \"%s\")", got);
	got = check("{\"type\":\"object\",", "1");
	T_OK(starts_with(got, "LOAD: not valid JSON"), "bad JSON (got \"%s\")", got);
	VALID("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":\"t\","
	      "\"description\":\"d\",\"$comment\":\"c\",\"examples\":[1],\"default\":2,"
	      "\"format\":\"date\",\"$id\":\"x\"}", "\"not a date\"",
	      "annotations are accepted and not checked");
}

static void test_api(void)
{
	char err[64];
	cJSON *j = cJSON_Parse("{\"type\":\"object\"}");
	struct jschema *s = jschema_new(j, err, sizeof err);
	T_OK(s != NULL, "jschema_new");
	cJSON_Delete(j);
	T_OK(s && cJSON_IsObject(jschema_json(s)), "keeps its own copy");
	cJSON *v = cJSON_Parse("{\"properties\":1}");
	T_EQ_INT(jschema_validate(s, v, err, sizeof err), 0, "valid");
	T_EQ_STR(err, "", "err cleared when valid");
	cJSON_Delete(v);
	v = cJSON_Parse("[\"a very long value that does not fit in the small buffer\"]");
	T_EQ_INT(jschema_validate(s, v, err, 10), -1, "invalid, small buffer");
	T_EQ_STR(err, "$: expect", "message cut to the buffer");
	cJSON_Delete(v);
	jschema_free(s);
	jschema_free(NULL);
	T_OK(jschema_new(NULL, err, sizeof err) == NULL, "NULL schema refused");
	/* issue 8: a schema file is read as records are (json.h) */
	char e2[256];
	s = load("{\"type\":\"object\",\"type\":\"array\"}", e2, sizeof e2);
	T_OK(!s && strstr(e2, "duplicate member \"type\""), "a schema with a key twice: %s", e2);
	s = load("\v{\"type\":\"object\"}", e2, sizeof e2);
	T_OK(!s && strstr(e2, "control byte 0x0B"), "a \\v before the schema: %s", e2);
	s = load("\xEF\xBB\xBF{\"type\":\"object\"}", e2, sizeof e2);
	T_OK(s != NULL, "a schema file with a byte order mark loads: %s", s ? "" : e2);
	jschema_free(s);
	s = load("{\"type\":", e2, sizeof e2);
	T_OK(!s && strstr(e2, "not valid JSON (near line 1, byte"), "a cut schema: %s", e2);
}

static void test_default_schema(void)
{
	const char *root = getenv("LANES_ROOT");
	char *path = xasprintf("%s/pipelines/prompts/mine.schema.json", root ? root : ".");
	size_t len;
	char *text = read_file(path, &len);
	T_OK(text != NULL, "default mine schema readable");
	if (text) {
		char err[512] = "";
		struct jschema *s = jschema_parse(text, len, err, sizeof err);
		T_OK(s != NULL, "default mine schema loads (%s)", err);
		cJSON *v = cJSON_Parse("{\"claims\":[],\"people\":[],\"organisations\":[],"
				       "\"jargon\":[],\"mental_models\":[]}");
		T_OK(s && jschema_validate(s, v, err, sizeof err) == 0,
		     "empty arrays are a valid answer (%s)", err);
		cJSON_Delete(v);
		jschema_free(s);
	}
	free(text);
	free(path);
}

int main(void)
{
	test_type();
	test_objects();
	test_arrays();
	test_strings_numbers();
	test_enum_const();
	test_alternatives();
	test_refused();
	test_api();
	test_default_schema();
	return t_done();
}
