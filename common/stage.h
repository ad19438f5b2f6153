/* stage: the one table of the pipeline's stages and the members of a
 * record each one owns (its result, the model that made it, the server's
 * digest of that model), shared by the tools that write them (mine, embed,
 * classify) and by store, which tracks each stage's status from them; and
 * the stamp of a stage's result: a record stamped with the model of the
 * run is done; a new result replaces the stamp and the stage's earlier
 * error. Safe from any thread. */
#ifndef LANES_STAGE_H
#define LANES_STAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "filter.h"

enum stage_id { STAGE_SEGMENT, STAGE_MINE, STAGE_EMBED, STAGE_CLASSIFY, STAGE_COUNT };

/* The members of one stage's result. A NULL member name: the stage has
 * no such member. */
struct stage {
	const char *name;    /* the stage, and its entry in "errors": "mine" */
	const char *result;  /* its output: "text", "mined", "embedding", "class" */
	const char *model;   /* the model that made it: "mined_model" */
	const char *digest;  /* the server's digest of that model: "mined_digest" */
	/* the fingerprint of everything the result depends on besides the
	 * digest (fingerprint.h): "mined_fingerprint" */
	const char *fingerprint;
	/* the hash of the exact input it was made from: "mined_input" */
	const char *input;
	/* 1: model and digest are members of the result object (class.model),
	 * not of the record */
	int nested;
	/* a member of the result object whose value "error" says the stage
	 * failed (class.status), or NULL */
	const char *status;
	/* 1: made from the record's text, so stale when the text changes */
	int derived;
	/* 1: the result is a vector (an array of numbers) */
	int vector;
};

/* The stages in pipeline order, indexed by enum stage_id. */
extern const struct stage stage_table[STAGE_COUNT];

/* The stage named name[0..len), or NULL. */
const struct stage *stage_find(const char *name, size_t len);

/* Whether two model names are the same model: equal, or Ollama's untagged
 * "m" and "m:latest" (a name with a ':' has a tag). */
int stage_same_model(const char *a, const char *b);
/* The other spelling of model under stage_same_model ("m:latest" for "m",
 * "m" for "m:latest"), for a query that must match both (the store's SQL):
 * out, or model itself when it has none or it does not fit out. */
const char *stage_model_alias(const char *model, char *out, size_t outlen);

/* What a run stamps on the results it makes. */
struct stage_stamp {
	const char *model;
	const char *digest;      /* the server's, NULL or "" when it has none */
	const char *fingerprint; /* fingerprint.h; NULL: none */
	const char *input;       /* the input hash of this record; NULL: none */
};

/* Whether the stamp of stage st in the object o (the record, or the
 * result object of a nested stage) is the one of this run: its model
 * member names the same model; its digest, when both it and the run have
 * one, is the run's (the same name pulled again is another model); its
 * fingerprint, when both have one, is the run's (a result made with other
 * settings is stale; a result from before fingerprints is not known to
 * be). The result itself is the caller's to check. */
int stage_stamped(const struct stage *st, const cJSON *o, const struct stage_stamp *run);

/* Emits r with st->result set to the raw JSON val[0..len), the stamp's
 * members set (digest, fingerprint and input removed when the stamp has
 * none), and any earlier errors.<st->name> removed; marks it REC_OK. For
 * a stage whose stamp is not nested. */
void stage_set(const struct stage *st, struct rec *r, const char *val, size_t len,
	       const struct stage_stamp *stamp);

/* Passes r on as done by this run (REC_SKIPPED): unchanged, except that an
 * errors.<st->name> entry goes, as the result it has is the one this run
 * would make (an error left by a run with another model or settings would
 * otherwise keep the record failed for ever). */
void stage_pass_done(const struct stage *st, struct rec *r);

#endif
