/* stage: a stage's result in a record, stamped with the model that made
 * it: the result (mined, embedding), <stage>_model and <stage>_digest (the
 * server's digest of the model, when it has one). A record stamped with
 * the model of the run is done; a new result replaces the stamp and the
 * stage's earlier error. Safe from any thread. */
#ifndef LANES_STAGE_H
#define LANES_STAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "filter.h"

/* The members of one stage's result. */
struct stage_keys {
	const char *stage;   /* its entry in "errors": "mine", "embed" */
	const char *result;  /* "mined", "embedding" */
	const char *model;   /* "mined_model", "embedding_model" */
	const char *digest;  /* "mined_digest", "embedding_digest" */
};

/* Whether two model names are the same model: equal, or Ollama's untagged
 * "m" and "m:latest" (a name with a ':' has a tag). */
int stage_same_model(const char *a, const char *b);

/* Whether rec is stamped with model: its k->model member names the same
 * model, and its k->digest, when both it and the server have one, is
 * digest (NULL or "": the server has none). The result itself is the
 * caller's to check. */
int stage_stamped(const struct stage_keys *k, const cJSON *rec, const char *model,
		  const char *digest);

/* Emits r with k->result set to the raw JSON val[0..len), k->model to
 * model, k->digest to digest (removed when digest is NULL or ""), and any
 * earlier errors.<k->stage> removed; marks it REC_OK. */
void stage_set(const struct stage_keys *k, struct rec *r, const char *val, size_t len,
	       const char *model, const char *digest);

#endif
