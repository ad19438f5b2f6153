/* classify_setup: what classify's main does around the record work: reads
 * the settings and the taxonomy, checks the server and its models, builds
 * the taxonomy's vectors and their index, wires the run, and reports at
 * the end (the classes line, the client's figures, the --eval report). */
#ifndef LANES_CLASSIFY_SETUP_H
#define LANES_CLASSIFY_SETUP_H

#include "app.h"
#include "classify_decide.h"
#include "classify_embed.h"
#include "classify_run.h"
#include "classify_taxonomy.h"
#include "fingerprint.h"
#include "llmapp.h"
#include "vec.h"

/* Everything set up before the first record is read, released in one
 * place (classify_setup_free), also on early exits. */
struct classify_setup {
	char *tax_path, *model, *embed_model, *field, *cache_dir, *emb_name;
	enum classify_mode mode;
	double threshold;
	int top_k, dim, dim_set;
	int examples;          /* examples take part in the shortlist */
	long batch;
	int in_fd;             /* the gold set's file (--eval FILE), else 0 */
	const char *in_name;   /* "<stdin>" or the gold set's name */
	int eval, json, force;
	struct ask_tpl tpl;
	struct taxonomy *tax;
	char tax_hex[17];
	char fingerprint[FINGERPRINT_LEN]; /* of the settings (fingerprint.h) */
	struct llmapp la;
	char emb_digest[64];
	struct embedder emb;
	struct classify_tax_vectors tv;
	struct vec_index *ix;
};

/* Reads the settings, the prompt template and the taxonomy, and opens the
 * gold set of eval (NULL: not eval mode; "-": stdin). Returns 0, or an exit
 * status after logging why. */
int classify_setup_read(struct app *a, struct classify_setup *s, const char *eval, int json,
			int force);
/* Sizes the pool, logs the start line and, unless everything is offline
 * (hash embedder, embed mode), checks the server and its models. Returns 0
 * or an exit status (llmapp_start exits by itself on a bad server). */
int classify_setup_start(struct app *a, struct classify_setup *s);
/* The taxonomy's vectors (cache plus embedding) and the shortlist index.
 * Returns 0 or an exit status (3, or 130/143 when a signal stopped it). */
int classify_setup_index(struct app *a, struct classify_setup *s);
/* Fills run from s and the tunables: the run reads s, which must outlive
 * it. */
void classify_setup_run(struct app *a, const struct classify_setup *s, struct classify_run *run);
/* After the last record, before app_finish: logs the classes line and the
 * client's figures, prints the --eval report, frees run's tally. A report
 * that cannot be written is logged and counted in a->run_errors. */
void classify_setup_report(struct app *a, struct classify_setup *s, struct classify_run *run);
/* Ends the run before any record was read: releases the client, the
 * rejects file, the tunables and s; returns code. */
int classify_setup_exit(struct app *a, struct classify_setup *s, int code);
void classify_setup_free(struct classify_setup *s);

#endif
