/* consolidate_run: one run of consolidate: the settings and the start-up
 * checks, the record work (the mentions of each record, read by the
 * workers and collected in input order by the writer), and the end, once
 * every record is in: filing the mentions (consolidate_match.c), the LLM
 * check (consolidate_check.c), ids, and the entities written out, or the
 * --eval report. */
#ifndef LANES_CONSOLIDATE_RUN_H
#define LANES_CONSOLIDATE_RUN_H

#include <stdatomic.h>

#include "app.h"
#include "ask.h"
#include "consolidate_check.h"
#include "consolidate_embed.h"
#include "consolidate_entity.h"
#include "consolidate_match.h"
#include "consolidate_mention.h"
#include "filter.h"
#include "llmapp.h"

enum consolidate_mode { CONSOLIDATE_EMBED, CONSOLIDATE_VERIFY };

struct consolidate_run {
	struct app *a;
	struct consolidate_list *lists;
	int nlists;
	enum consolidate_mode mode;
	double threshold, uncertain;
	char *embed_model, *emb_name, *model, *entities_path;
	int all, json;
	const char *eval;          /* gold set (eval mode), else NULL */
	int in_fd;                 /* the input: 0, or the gold set */
	const char *in_name;
	struct ask_tpl tpl;
	struct llmapp la;          /* the server, when one is used */
	struct consolidate_embedder emb;
	struct consolidate_set set;
	long loaded;               /* entities read back */
	struct consolidate_mentions ms; /* the run's mentions (writer thread) */
	struct consolidate_match match;
	struct consolidate_check check;
	struct filter *f;
	atomic_int input_done;     /* set by main once the input is read */
	int done;                  /* the end ran */
	int code;                  /* exit status the end asks for, 0 if none */
	long written, fresh, updated;
};

/* Reads the settings, the lists, the prompt (verify mode) and the entities
 * of an earlier run; checks the server and its models unless everything
 * is offline; sizes the pool and logs the start line. Returns 0, or an
 * exit status after saying why. */
int consolidate_run_setup(struct app *a, struct consolidate_run *run, const char *eval, int json,
			  int all);
/* The filter function: the mentions of each record of the job. */
void consolidate_run_job(struct job *job, int worker, void *ud);
/* The emitted hook: collects a record's mentions in input order. */
void consolidate_run_emitted(struct rec *r, void *ud);
/* The idle hook: once the input is read and every record emitted, runs
 * the end (once). */
void consolidate_run_idle(void *ud);
/* After filter_finish, before app_finish: logs the client's figures,
 * counts a failed end (logged) in the app's run_errors, frees the run. */
void consolidate_run_finish(struct consolidate_run *run);
/* Frees everything (also after a setup that failed). */
void consolidate_run_free(struct consolidate_run *run);

#endif
