/* store_body: the record text the store keeps and gives back, whatever
 * the backend: merging a put into the stored body on the text (never
 * re-encoded), dropping what the later stages made of a text that
 * changed, vectors as little-endian float32 bytes, and the record line
 * rebuilt from the body, a vector and the stages' errors. */
#ifndef LANES_STORE_BODY_H
#define LANES_STORE_BODY_H

#include <stddef.h>

#include "record.h"
#include "util.h"

/* Scratch space reused from record to record; free with
 * store_body_free. */
struct store_body {
	struct buf merged;   /* the body to write */
	struct buf tmp;
	struct record_members mold, mnew;
	unsigned char *used;
	size_t used_cap;
	unsigned char *le;   /* vector bytes on big-endian hosts */
	size_t le_cap;
};
void store_body_free(struct store_body *b);

/* The body to write when nw[0..nwn) is put over the stored old[0..oldn):
 * old with each member of nw replacing the one of the same key where it
 * stands, nw's other members appended in their order, the bytes around
 * them as they are. When both have a "text" and it changed, the members of
 * the stages derived from the text (stage.h) that nw does not bring
 * itself are dropped, and *stale is set (else cleared). Points *out at the
 * result (in b, valid until the next call) and returns 0; -1 when either
 * text is not an object (*out is then nw). */
int store_body_merge(struct store_body *b, const char *old, size_t oldn, const char *nw,
		     size_t nwn, const char **out, size_t *outn, int *stale);

/* The dim floats of v as stored: little-endian float32 (v itself on a
 * little-endian host, else a copy in b). */
const void *store_body_vec_bytes(struct store_body *b, const float *v, size_t dim);

/* Appends to errs (an object being built, empty at first) the entry of
 * one failed stage: raw, its errors.<stage> as the stage wrote it (or
 * {code, message} when raw is NULL or not an object), with the store's
 * "failures" count added. Close it with store_body_errors_end. */
void store_body_error(struct buf *errs, const char *stage, const char *raw, size_t rawn,
		      const char *code, const char *message, long long failures);
void store_body_errors_end(struct buf *errs);

/* Appends to out the JSON array of the vbytes / 4 little-endian float32
 * of vec, each the shortest text that reads back as the same float32. */
void store_body_vec_json(struct buf *out, const unsigned char *vec, size_t vbytes);

/* Appends to out the record line: body, then "embedding" (the shortest
 * text that reads back as each float32 of vec, vbytes / 4 of them) and
 * "embedding_model" when vec and model are given, then "errors" (the
 * object in errs) when it is not empty. */
void store_body_line(struct buf *out, const char *body, size_t blen, const char *model,
		     const unsigned char *vec, size_t vbytes, const struct buf *errs);

#endif
