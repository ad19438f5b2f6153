/* classify_eval: scores classifications against gold labels (accuracy,
 * coverage, precision, per-status counts, the most confused pairs) and
 * prints the report as text or JSON, so that two models or modes can be
 * compared on the same gold set. */
#ifndef LANES_CLASSIFY_EVAL_H
#define LANES_CLASSIFY_EVAL_H

#include <stdio.h>

#include "classify_decide.h"
#include "classify_taxonomy.h"

struct cl_eval;

/* A new, empty tally for taxonomy t (which must outlive it). */
struct cl_eval *cl_eval_new(const struct taxonomy *t);
void cl_eval_free(struct cl_eval *ev);

/* Adds one item: gold is the index of the true entry, or -1 when no entry
 * is right; predicted is the entry given as label, or -1. */
void cl_eval_add(struct cl_eval *ev, long gold, long predicted, enum cl_status status);
/* Counts an item left out (no gold, or a gold id not in the taxonomy). */
void cl_eval_skip(struct cl_eval *ev);

/* What the report says about the run (shown in its header). */
struct cl_eval_info {
	const char *taxonomy_path;
	const char *taxonomy_hash;
	const char *mode;
	const char *model;       /* NULL in embed mode */
	const char *embed_model;
	double threshold;
	int top_k;
};

/* The figures, for tests and for the report. */
struct cl_eval_figures {
	long items, correct, labelled, labelled_correct, skipped;
	double accuracy, coverage, precision;
	long status[CL_NSTATUS];
};
void cl_eval_figures(const struct cl_eval *ev, struct cl_eval_figures *f);

/* Prints the report; with json one JSON object on one line. Up to
 * max_pairs confused pairs, most frequent first. Returns 0, or -1 when
 * writing failed. */
int cl_eval_report(const struct cl_eval *ev, const struct cl_eval_info *info, int json,
		   int max_pairs, FILE *out);

#endif
