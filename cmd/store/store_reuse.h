/* store_reuse: results reused by content for `store pending`: a pending
 * record whose input (the fields the stage reads, hashed as
 * fingerprint_input does) was already processed under the same settings
 * (fingerprint) comes out with that result and its stamp filled in, so
 * that the tool passes it on as done instead of asking the server again,
 * and `store put` stores it. */
#ifndef LANES_STORE_REUSE_H
#define LANES_STORE_REUSE_H

#include <stddef.h>

#include "stage.h"
#include "store.h"

struct store_reuse {
	struct store *s;
	const struct stage *stage;
	const char *fingerprint;
	const char *const *fields; /* what the input hash reads */
	size_t nfields;
	long reused;               /* records filled so far */
	struct buf members, vec, tmp, json;
};

/* Writes into out (reset first) the record line[0..len) with the result
 * kept for its input under r's fingerprint: its members set where they
 * stand or appended, the vector of a vector stage as a JSON array.
 * Returns 1 when there was one (and counts it), 0 when not (out
 * untouched), -1 with err. */
int store_reuse_fill(struct store_reuse *r, const char *line, size_t len, struct buf *out,
		     char *err, size_t errlen);
void store_reuse_free(struct store_reuse *r);

#endif
