/* consolidate_match: files each new mention under an entity. Mentions go
 * most specific name first (most words), then in input order, so that full
 * names make entities before the partial names that refer to them. For
 * each mention, in order of the rules (man/consolidate.1, RULES):
 *   1. names: entities with an alias of the same key, or one the rules of
 *      consolidate_name find compatible (partial names, initials,
 *      acronyms, the same letters); among several, the one whose full name
 *      it is, then the only one that is more specific, then the only one
 *      mentioned in the same document; several left: a new entity of its
 *      own, marked ambiguous;
 *   2. embeddings: when no name matches, the entity with the most similar
 *      alias (cosine of the keys' vectors, common/vec.c) if it reaches
 *      the threshold; in the uncertain band below it, a new entity and a
 *      pair for the LLM check (consolidate_check.c);
 *   3. otherwise a new entity. */
#ifndef LANES_CONSOLIDATE_MATCH_H
#define LANES_CONSOLIDATE_MATCH_H

#include "consolidate_entity.h"
#include "consolidate_mention.h"

/* Embeds n texts into out (n x *dim floats, unit length; *dim is set by
 * the first call and must not change). Returns 0, or -1 with err set. */
typedef int (*consolidate_embed_fn)(void *ud, const char *const *texts, size_t n, float **out,
				    int *dim, char *err, size_t errlen);

/* A new entity that may be an older one: asked of the LLM. */
struct consolidate_pair {
	long fresh;      /* the entity made for the mention */
	long other;      /* the entity it may be */
	long mention;    /* index of the mention in the run's list */
	float score;     /* cosine of the two names */
};

struct consolidate_match_stats {
	long held;        /* mentions an entity already held (an earlier run) */
	long by_name;     /* filed by the name rules */
	long by_doc;      /* of those, decided by the document */
	long by_vector;   /* filed by embedding similarity */
	long fresh;       /* new entities */
	long ambiguous;   /* of those, partial names several entities share */
	long pairs;       /* pairs for the LLM check */
	long embedded;    /* names embedded */
};

struct consolidate_match {
	struct consolidate_set *set;
	double threshold;         /* cosine to merge at */
	double uncertain;         /* cosine from which a pair is checked */
	int check;                /* collect pairs for the LLM check */
	consolidate_embed_fn embed;
	void *embed_ud;
	long *entity_of;          /* per mention of the run: its entity (the one
				   * that held it already, for those held) */
	struct consolidate_pair *pair;
	size_t npair;
	struct consolidate_match_stats st;
	/* private: key vectors and alias rows per list */
	struct strmap *key_row;
	float *kvec;
	int dim;
	struct consolidate_rows *rows;
};

/* Files every mention of ms (which stays the caller's) into m->set, fills
 * entity_of and the pairs. Returns 0, or -1 with err set when embedding
 * failed (nothing is filed then). */
int consolidate_match_run(struct consolidate_match *m, const struct consolidate_mentions *ms,
			  char *err, size_t errlen);
void consolidate_match_free(struct consolidate_match *m);

#endif
