/* embedder: the embedding client of embed and classify. Turns texts into
 * vectors with the LLM server (llm_embed, at most `batch` texts per
 * request) or the offline hash embedder (embedder_hash.h). A request the
 * server refuses as a whole for its content (HTTP 400, 413, 422, or
 * llama-server's 500 "input is too large": a text over the context, too
 * many tokens) is split in halves until the culprit stands alone, so that
 * the other texts still get their vectors; every
 * vector is checked (finite numbers). Also tells whether a record already
 * holds this model's vector, so that it is neither embedded again (embed)
 * nor recomputed (classify). Safe from any thread. */
#ifndef LANES_EMBEDDER_H
#define LANES_EMBEDDER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "llm.h"

struct embedder {
	const char *model;  /* model asked of the server ("hash": offline) */
	const char *name;   /* identity written with vectors: model, or "hash-<dim>" */
	const char *digest; /* server-reported digest of the model, "" when unknown */
	/* the fingerprint of the settings a record's vector must have been
	 * made with (embed's, fingerprint.h); NULL: not checked */
	const char *fingerprint;
	int hash_dim;       /* > 0: the offline hash embedder, vectors of this size */
	int dim_hint;       /* OpenAI `dimensions`, 0 = the model's own */
	size_t batch;       /* texts per request, 0 = all in one */
	struct llm *llm;    /* the server; NULL with the hash embedder */
};

/* Why a text has no vector, as written to errors.<stage>. */
struct embedder_err {
	char code[32];
	char message[512];
	int attempts;
};

/* The outcome for one text. err.code "abandoned": a stop request ended
 * the request before its answer (the record stays pending). */
struct embedder_result {
	float *vec;         /* dim numbers (the caller frees), NULL when it failed */
	int dim;
	int refused;        /* the server refused this text on its own */
	struct embedder_err err;
};

/* What embedding some texts cost. */
struct embedder_stats {
	long texts;         /* texts sent in requests (or hashed), splits included */
	long calls;         /* requests, retries excluded */
	long attempts;      /* requests, retries included */
};

/* Embeds texts[0..n) into res[0..n) (zeroed by the caller), in order, and
 * adds the cost to *st (may be NULL). Every text gets a vector or an
 * error. ids: the records of the texts, named in the request log (may be
 * NULL). */
void embedder_run(const struct embedder *e, const char *const *texts, const char *const *ids,
		  size_t n, struct embedder_result *res, struct embedder_stats *st);

/* Whether rec holds e's vector: `embedding_model` names e's model (Ollama's
 * m = m:latest), `embedding_digest` and `embedding_fingerprint`, when both
 * sides know one, agree, and `embedding` is an array of dim finite numbers
 * (dim <= 0: any size but empty). When so and v is not NULL, copies the
 * numbers into v. */
int embedder_has(const struct embedder *e, const cJSON *rec, int dim, float *v);

#endif
