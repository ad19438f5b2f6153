/* embed_record: what embed reads from and writes into one record: its
 * text, and the record with the embedding (or the error) added. Whether
 * it is already done is embedder_has (embedder.h). */
#ifndef LANES_EMBED_RECORD_H
#define LANES_EMBED_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "filter.h"
#include "stage.h"

/* Finds the text to embed: the string member field of r. Returns 0 and
 * points *text (owned by r->json) at it, or -1 with an error code and a
 * message saying what is wrong (no such string, empty, NUL inside). */
int embed_record_text(const struct rec *r, const char *field, const char **text, size_t *len,
		      const char **code, char *msg, size_t msglen);

/* Appends a vector as a JSON array, each number as buf_put_float spells it.
 * Every number must be finite. */
void embed_put_vector(struct buf *b, const float *v, int dim);

/* Emits r with embedding and its stamp (stage.h: embedding_model,
 * embedding_digest, embedding_fingerprint, embedding_input; those the
 * stamp has not removed) and any earlier errors.embed removed; marks it
 * REC_OK. */
void embed_record_ok(struct rec *r, const float *v, int dim, const struct stage_stamp *stamp);

#endif
