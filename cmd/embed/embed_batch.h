/* embed_batch: the work of one job (a batch of records): skip the records
 * already done, look their texts up in the shared cache, send the new
 * distinct texts in one request (or hash them offline), check every
 * vector, and write each record with its embedding or its error. */
#ifndef LANES_EMBED_BATCH_H
#define LANES_EMBED_BATCH_H

#include <stdatomic.h>

#include "embed_cache.h"
#include "filter.h"
#include "llm.h"

/* Settings are set before the run and read-only during it; the atomics
 * are the run's figures. */
struct embed_ctx {
	const char *field;      /* member holding the text */
	const char *model;      /* written as embedding_model */
	const char *digest;     /* written as embedding_digest; "" = none */
	int hash_dim;           /* > 0: the offline hash embedder, this size */
	struct llm *llm;        /* else: the server */
	const char *llm_model;  /* model name sent to the server */
	int dim_hint;           /* OpenAI "dimensions", 0 = the model's own */
	struct embed_cache *cache;
	atomic_int dim;         /* fixed by the first vector (or up front) */
	atomic_long texts_sent; /* texts in requests (or hashed) */
	atomic_long requests;   /* calls made, retries excluded */
	atomic_long mismatched; /* vectors refused for their dimension */
};

/* filter_fn: processes every record of job (ud: struct embed_ctx). Every
 * record that is not rejected comes out: embedded (REC_OK), unchanged
 * (REC_SKIPPED), or with errors.embed (REC_FAILED). */
void embed_work(struct job *job, int worker, void *ud);

#endif
