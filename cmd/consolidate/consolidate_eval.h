/* consolidate_eval: how well mentions were grouped, against gold labels
 * (each item's `gold`: the same label for the mentions of one entity).
 * Pairwise: of the pairs of mentions (of one list) put in the same entity,
 * the share that have the same gold label (precision); of the pairs with
 * the same gold label, the share put in the same entity (recall). Also the
 * worst wrong merges and splits. */
#ifndef LANES_CONSOLIDATE_EVAL_H
#define LANES_CONSOLIDATE_EVAL_H

#include <stdio.h>

#include "consolidate_entity.h"
#include "consolidate_mention.h"

/* What the report says about the run. */
struct consolidate_eval_info {
	const char *gold_path;
	const char *mode;
	const char *embed_model;
	const char *model;      /* chat model of the check, NULL without */
	double threshold, uncertain;
};

/* Writes the report of the mentions ms filed as entity_of says (entities
 * of s; mentions without gold are left out and counted) to out, as text
 * or as one JSON object. Returns 0, or -1 when writing failed. */
int consolidate_eval_report(const struct consolidate_set *s, const struct consolidate_mentions *ms,
			    const long *entity_of, const struct consolidate_eval_info *info,
			    int json, FILE *out);

#endif
