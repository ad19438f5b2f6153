/* template: prompt templates. `{{name}}` inserts a value: one given by
 * name, else the record's field `name` (strings raw, other values as
 * written in the record); `{{schema}}` the answer's schema (compact),
 * `{{#name}}...{{/name}}` keeps its inside only when the value is present
 * and not null, false or "", `{{^name}}...{{/name}}` only when it is not,
 * and `{{{{` writes a literal `{{`. Spaces and tabs around a name are
 * ignored. Two flags of tpl_compile give the plainer language of classify's
 * prompts. */
#ifndef LANES_TEMPLATE_H
#define LANES_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util.h"

struct tpl;

enum tpl_flags {
	/* Only `{{name}}`: no sections, no escape. A `{{` never closed is
	 * text; the name is whatever stands before the next `}}` (empty, or
	 * across lines, too), for the caller to check with tpl_unknown. Never
	 * fails to compile. */
	TPL_PLAIN = 1,
	/* A line of the template whose placeholders all come out empty is
	 * left out, so optional values leave no empty labels. */
	TPL_DROP_EMPTY = 2,
};

/* Compiles template text with flags (enum tpl_flags, or 0). Returns the
 * template (free with tpl_free), or NULL with "line N: what is wrong" in
 * err (unclosed or empty placeholder, a section closed by the wrong name
 * or never closed). */
struct tpl *tpl_compile(const char *text, size_t len, unsigned flags, char *err, size_t errlen);
void tpl_free(struct tpl *t);

/* What a rendering reads. */
struct tpl_vars {
	const cJSON *json;       /* the parsed record (NULL: none, and a name
				  * with no value renders empty) */
	const char *line;        /* its text, for values "as written" */
	size_t len;
	const char *text_field;  /* the field {{text}} reads (NULL: "text") */
	const char *schema;      /* what {{schema}} inserts (NULL: "") */
	const char *const *names; /* values by name, before the record's: */
	const char *const *values; /* names[i] -> values[i] (NULL: "") */
	size_t nvalues;
};

/* Appends the rendered prompt to out. Returns 0, or -1 when a placeholder
 * names a field the record does not have: then the field's name is in
 * missing (out holds a partial rendering the caller should discard). */
int tpl_render(const struct tpl *t, const struct tpl_vars *v, struct buf *out,
	       char *missing, size_t missinglen);

/* Whether `{{name}}` stands in the template (tpl_uses(t, "schema"): it
 * inserts the schema somewhere). */
int tpl_uses(const struct tpl *t, const char *name);
/* The first name a placeholder or section reads that is not one of
 * known[0..n), or NULL when there is none. Owned by t. */
const char *tpl_unknown(const struct tpl *t, const char *const *known, size_t n);
/* Appends the names of the fields the template reads, comma separated
 * ({{text}} under the name it reads), for the start log line. */
void tpl_fields(const struct tpl *t, const char *text_field, struct buf *out);

#endif
