/* classify_embed: turns texts into unit vectors, with the LLM server
 * (llm_embed, in batches) or the offline hash embedder, and builds the
 * taxonomy's vectors from the cache plus whatever the cache lacks. */
#ifndef LANES_CLASSIFY_EMBED_H
#define LANES_CLASSIFY_EMBED_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "classify_taxonomy.h"
#include "llm.h"

struct cl_embedder {
	const char *model;  /* model asked of the server, or "hash" */
	const char *name;   /* identity recorded with vectors: the model, or "hash-<dim>" */
	const char *digest; /* server-reported digest, "" when unknown */
	int hash_dim;       /* > 0: the offline hash embedder, this size */
	int dim_hint;       /* OpenAI `dimensions`, 0 = none */
	size_t batch;       /* texts per request */
	struct llm *llm;    /* NULL with the hash embedder */
};

/* Embeds n texts. Returns n x *dim unit vectors (caller frees), or NULL
 * with res saying why (a server failure after its retries, or vectors of
 * different sizes). *requests (may be NULL) grows by the requests sent.
 * Safe from any thread. */
float *cl_embed(const struct cl_embedder *e, const char *const *texts, size_t n, int *dim,
		struct llm_result *res, long *requests);

/* Whether a failed embedding request was refused as a whole for its
 * content (HTTP 400, 413, 422: a text over the context, too many tokens),
 * so that smaller parts of it may pass. */
int cl_embed_refused(const struct llm_result *res);

/* Copies a record's own embedding into v (dim numbers, made unit length)
 * when it can be reused: `embedding_model` names e's model, `embedding`
 * has dim finite numbers, and `embedding_digest`, when both sides know
 * one, agrees. Returns 1 when copied, 0 when not reusable. */
int cl_reuse_embedding(const struct cl_embedder *e, const cJSON *rec, int dim, float *v);

/* The taxonomy's vectors and where they came from. */
struct cl_tax_vectors {
	float *vec;          /* n x dim unit vectors (owned) */
	int dim;
	size_t from_cache;   /* entries whose vector was in the cache */
	size_t embedded;     /* entries embedded now */
	long requests;       /* embedding requests sent */
	char *cache_path;    /* NULL when there is no cache directory */
};

/* Builds the vectors of every entry of t: reads the cache file of (t, e),
 * embeds the entries it lacks (workers requests at once), writes the cache
 * back when it changed. Cache trouble is logged and only costs time.
 * Returns 0, or -1 with a message in err when embedding failed or a stop
 * signal came (what was embedded before is still saved for the next run).
 * Free out with cl_tax_vectors_free. */
int cl_tax_vectors(const struct taxonomy *t, const struct cl_embedder *e, const char *cache_dir,
		   int workers, struct cl_tax_vectors *out, char *err, size_t errlen);
void cl_tax_vectors_free(struct cl_tax_vectors *v);

#endif
