/* consolidate_embed: the vectors of names, from the offline hash embedder
 * or the LLM server (batches of names per request, `workers` requests at
 * once through the pool), made unit length. Matches consolidate_embed_fn
 * (consolidate_match.h). */
#ifndef LANES_CONSOLIDATE_EMBED_H
#define LANES_CONSOLIDATE_EMBED_H

#include <stddef.h>

#include "llm.h"

struct consolidate_embedder {
	const char *model;  /* model asked of the server, or "hash" */
	int hash_dim;       /* > 0: the hash embedder, vectors of this size */
	int dim_hint;       /* OpenAI `dimensions`, 0 = the model's own */
	size_t batch;       /* names per request */
	int workers;        /* requests at once */
	struct llm *llm;    /* NULL with the hash embedder */
	long requests;      /* requests sent (set by the call) */
};

/* consolidate_embed_fn over a struct consolidate_embedder (ud). A name
 * without any word gets a zero vector (it matches nothing). Fails when a
 * request fails after its retries, or the server's vectors change size. */
int consolidate_embed(void *ud, const char *const *texts, size_t n, float **out, int *dim,
		      char *err, size_t errlen);

#endif
