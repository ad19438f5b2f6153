/* mine_template: prompt templates. `{{name}}` inserts the record's field
 * `name` (strings raw, other values as written in the record), `{{schema}}`
 * the answer's schema (compact), `{{#name}}...{{/name}}` keeps its inside
 * only when the field is present and not null, false or "",
 * `{{^name}}...{{/name}}` only when it is not, and `{{{{` writes a literal
 * `{{`. */
#ifndef MINE_TEMPLATE_H
#define MINE_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util.h"

struct tpl;

/* Compiles template text. Returns the template (free with tpl_free), or
 * NULL with "line N: what is wrong" in err (unclosed or empty placeholder,
 * a section closed by the wrong name or never closed). */
struct tpl *tpl_compile(const char *text, size_t len, char *err, size_t errlen);
void tpl_free(struct tpl *t);

/* What a rendering reads. */
struct tpl_vars {
	const cJSON *json;       /* the parsed record */
	const char *line;        /* its text, for values "as written" */
	size_t len;
	const char *text_field;  /* the field {{text}} reads (NULL: "text") */
	const char *schema;      /* what {{schema}} inserts (NULL: "") */
};

/* Appends the rendered prompt to out. Returns 0, or -1 when a placeholder
 * names a field the record does not have: then the field's name is in
 * missing (out holds a partial rendering the caller should discard). */
int tpl_render(const struct tpl *t, const struct tpl_vars *v, struct buf *out,
	       char *missing, size_t missinglen);

/* Whether the template inserts the schema somewhere. */
int tpl_uses_schema(const struct tpl *t);
/* Appends the names of the fields the template reads, comma separated
 * ({{text}} under the name it reads), for the start log line. */
void tpl_fields(const struct tpl *t, const char *text_field, struct buf *out);

#endif
