/* consolidate_check: the LLM check of the uncertain band. Each pair (a new
 * entity, an entity whose name is close but not close enough) becomes a
 * verify-style question (the prompt template consolidate_verify.txt, a
 * strict answer YES, NO or UNCERTAIN, through ask.c), asked by `workers`
 * threads of the pool at once; then, best score first, a YES merges the
 * new entity into the other. NO, UNCERTAIN and failed questions keep them
 * apart. */
#ifndef LANES_CONSOLIDATE_CHECK_H
#define LANES_CONSOLIDATE_CHECK_H

#include "ask.h"
#include "consolidate_entity.h"
#include "consolidate_match.h"
#include "consolidate_mention.h"

/* The placeholders a check prompt may use; it needs name and other. */
extern const struct ask_tpl_spec consolidate_check_spec;

struct consolidate_check {
	struct ask q;             /* the model and its answers */
	const struct ask_tpl *tpl;
	int workers;
	/* what happened */
	long asked, yes, no, uncertain, failed, merged, requests;
	char first_error[600];    /* the first failed question's code and message */
};

/* Asks about the n pairs and merges the YES ones into s. */
void consolidate_check_run(struct consolidate_check *c, struct consolidate_set *s,
			   const struct consolidate_mentions *ms, const struct consolidate_pair *pair,
			   size_t n);

#endif
