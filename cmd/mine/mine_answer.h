/* mine_answer: turns a model's text into the `mined` value: strips a code
 * fence, parses, requires an object, validates it against the schema and
 * compacts it; and words the correction fed back after an invalid answer. */
#ifndef MINE_ANSWER_H
#define MINE_ANSWER_H

#include <stddef.h>

#include "jsonschema.h"
#include "util.h"

/* Checks text (the model's whole answer). Returns 0 with the object, as the
 * model wrote it minus insignificant whitespace, in compact (reset first);
 * or -1 with what is wrong in err ("the answer is not JSON: ...", or the
 * validator's "$.claims[0].type: ..."). Thread safe. */
int mine_answer_check(const char *text, const struct jschema *schema, struct buf *compact,
		 char *err, size_t errlen);

/* Appends the user turn sent after an invalid answer whose problem is err. */
void mine_answer_correction(struct buf *out, const char *err);

/* Appends s[0..n) without the whitespace outside strings. s must be valid
 * JSON text. */
void mine_answer_minify(struct buf *out, const char *s, size_t n);

#endif
