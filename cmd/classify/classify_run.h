/* classify_run: the record work of classify. For each job of records it
 * skips those already classified with the same taxonomy and models, finds
 * each item's vector (the record's own `embedding` when it is of the embed
 * model, else one batch request for the job), shortlists the taxonomy,
 * decides, and writes `class` (and errors.classify on failure). In eval
 * mode it tallies the results against the records' `gold` ids instead of
 * writing records. */
#ifndef LANES_CLASSIFY_RUN_H
#define LANES_CLASSIFY_RUN_H

#include <cjson/cJSON.h>
#include <stdatomic.h>

#include "classify_decide.h"
#include "classify_embed.h"
#include "classify_eval.h"
#include "vec.h"
#include "classify_taxonomy.h"
#include "filter.h"

struct classify_run {
	const struct taxonomy *tax;
	char tax_hex[17];
	const struct vec_index *ix;
	int top_k;
	const char *field;
	const struct embedder *emb;
	struct classify_decider dec;
	const char *model_digest;  /* chat model digest, "" when unknown */
	int force;                 /* classify records that already have a class */
	const char *fingerprint;   /* of this run's settings (fingerprint.h); NULL: none */
	struct classify_eval *ev;        /* eval mode: the tally (writer thread); NULL otherwise */
	const char *where;         /* input name for messages ("<stdin>", the gold file) */
	/* counters */
	long status[CLASSIFY_NSTATUS];   /* writer thread */
	long eval_warned;          /* writer thread */
	atomic_long embedded;      /* item vectors computed */
	atomic_long reused;        /* item vectors taken from the record */
};

/* The filter function: processes every record of the job (ud: the run). */
void classify_run_job(struct job *job, int worker, void *ud);
/* The emitted hook: counts statuses; in eval mode tallies and drops the
 * output. */
void classify_run_emitted(struct rec *r, void *ud);

/* Whether rec already has a class from this run's taxonomy, models and
 * mode (and fingerprint, when both have one), with a status other than
 * error. */
int classify_run_class_done(const cJSON *rec, const struct classify_run *run);

/* Writes the `class` object for a decision and the item's hits (nhits
 * valid ones, best first) into out (reset first), with the run's
 * fingerprint and input, the record's input hash (NULL: none). */
void classify_run_class_json(struct buf *out, const struct classify_run *run, const struct classify_decision *d,
		   const struct vec_hit *hits, int nhits, const char *input);

#endif
