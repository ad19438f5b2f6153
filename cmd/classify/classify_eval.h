/* classify_eval: scores classifications against gold labels (accuracy,
 * coverage, precision, per-status counts, the most confused pairs) and
 * prints the report as text or JSON, so that two models or modes can be
 * compared on the same gold set. */
#ifndef LANES_CLASSIFY_EVAL_H
#define LANES_CLASSIFY_EVAL_H

#include <stdio.h>

#include "classify_decide.h"
#include "classify_taxonomy.h"

struct classify_eval;

/* A new, empty tally for taxonomy t (which must outlive it). */
struct classify_eval *classify_eval_new(const struct taxonomy *t);
void classify_eval_free(struct classify_eval *ev);

/* Adds one item: gold is the index of the true entry, or -1 when no entry
 * is right; predicted is the entry given as label, or -1. */
void classify_eval_add(struct classify_eval *ev, long gold, long predicted, enum classify_status status);
/* Counts an item left out (no gold, or a gold id not in the taxonomy). */
void classify_eval_skip(struct classify_eval *ev);

/* What the report says about the run (shown in its header). */
struct classify_eval_info {
	const char *taxonomy_path;
	const char *taxonomy_hash;
	const char *mode;
	const char *model;       /* NULL in embed mode */
	const char *embed_model;
	double threshold;
	int top_k;
};

/* The figures, for tests and for the report. */
struct classify_eval_figures {
	long items, correct, labelled, labelled_correct, skipped;
	double accuracy, coverage, precision;
	long status[CLASSIFY_NSTATUS];
};
void classify_eval_figures(const struct classify_eval *ev, struct classify_eval_figures *f);

/* Prints the report; with json one JSON object on one line. Up to
 * max_pairs confused pairs, most frequent first. Returns 0, or -1 when
 * writing failed. */
int classify_eval_report(const struct classify_eval *ev, const struct classify_eval_info *info, int json,
		   int max_pairs, FILE *out);

#endif
