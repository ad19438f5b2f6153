/* jsonschema: a validator of the JSON Schema subset that LLM servers accept
 * for structured output (Ollama `format`, OpenAI `response_format`
 * json_schema): type (a name or an array of names, "null" included),
 * properties, required, additionalProperties, items, enum, const,
 * minItems/maxItems, minLength/maxLength (in code points),
 * minimum/maximum/exclusiveMinimum/exclusiveMaximum, anyOf/oneOf; the
 * annotations title, description, default, examples, format, $schema, $id,
 * $comment are accepted and not checked. A schema using any other keyword
 * is refused when it is loaded, so that nothing it asks for is silently left
 * unchecked. Error messages name the JSON path of the value:
 * `$.claims[2].quote: expected string, got number`. */
#ifndef LANES_JSONSCHEMA_H
#define LANES_JSONSCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct jschema;

/* Checks schema and keeps a copy of it. Returns the compiled schema (free
 * with jschema_free), or NULL with a message naming the place in the schema
 * in err ("$.properties.name: keyword \"pattern\" is not supported ...");
 * schema itself is never changed or kept. */
struct jschema *jschema_new(const cJSON *schema, char *err, size_t errlen);
/* Parses schema text (a file's contents) and compiles it; NULL with a
 * message in err on bad JSON or an unsupported schema. */
struct jschema *jschema_parse(const char *text, size_t len, char *err, size_t errlen);
void jschema_free(struct jschema *s);

/* The schema as JSON (owned by s), e.g. to send it to the server. */
const cJSON *jschema_json(const struct jschema *s);

/* Validates v. Returns 0, or -1 with the first error found in err (the
 * path of the offending value, then what is wrong). Thread safe: s is only
 * read. */
int jschema_validate(const struct jschema *s, const cJSON *v, char *err, size_t errlen);

/* Deep equality of JSON values as JSON Schema sees it: numbers by value,
 * objects regardless of member order. */
int jschema_equal(const cJSON *a, const cJSON *b);

#endif
