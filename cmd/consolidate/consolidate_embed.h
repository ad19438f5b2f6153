/* consolidate_embed: the vectors of names through the shared embedding
 * client (embedder.h: the LLM server, or the offline hash embedder), in
 * jobs of `batch` names run by `workers` threads of the pool at once,
 * made unit length. Matches consolidate_embed_fn (consolidate_match.h). */
#ifndef LANES_CONSOLIDATE_EMBED_H
#define LANES_CONSOLIDATE_EMBED_H

#include <stddef.h>

#include "embedder.h"

struct consolidate_embedder {
	struct embedder e;  /* the client; e.batch names per job */
	int workers;        /* jobs at once */
	long requests;      /* requests sent, retries included (set by the call) */
};

/* consolidate_embed_fn over a struct consolidate_embedder (ud). A name
 * that has no vector on its own (nothing to hash, refused alone by the
 * server) gets a zero vector: it matches nothing. Fails when a request
 * fails after its retries, or vectors come in two sizes. */
int consolidate_embed(void *ud, const char *const *texts, size_t n, float **out, int *dim,
		      char *err, size_t errlen);

#endif
