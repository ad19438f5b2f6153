/* embed_batch: the work of one job (a batch of records): skip the records
 * already done, look their texts up in the shared cache, send the new
 * distinct texts in one request (or hash them offline), check every
 * vector, and write each record with its embedding or its error. */
#ifndef LANES_EMBED_BATCH_H
#define LANES_EMBED_BATCH_H

#include <stdatomic.h>

#include "embed_cache.h"
#include "embedder.h"
#include "filter.h"

/* Settings are set before the run and read-only during it; the atomics
 * are the run's figures. */
struct embed_ctx {
	const char *field;      /* member holding the text */
	int force;              /* embed records that already have this run's vector */
	struct embedder emb;    /* emb.name is written as embedding_model,
				 * emb.digest as embedding_digest,
				 * emb.fingerprint as embedding_fingerprint */
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
