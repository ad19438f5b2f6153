/* consolidate_match: the rules that file mentions under entities (see the
 * header). */
#include "consolidate_match.h"
#include "vec.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Entities an embedding search proposes. */
#define VEC_CANDIDATES 3

/* The alias vectors of one list: row i stands for entity ent[i]. */
struct consolidate_rows {
	float *v;    /* n x vec_stride(dim), zero padded */
	long *ent;
	size_t n, cap;
};

/* The candidates of one mention, with what the rules know of each. */
struct cand {
	long e;
	int full_exact;     /* the mention is the entity's full name */
	int more_specific;  /* the entity's full name has more words, and covers the mention */
	int alias_exact;    /* an alias of the entity has the mention's key */
};

struct cands {
	struct cand *c;
	size_t n, cap;
	const struct consolidate_set *set;
	const struct consolidate_mention *m;
};

static void add_cand(long e, void *ud)
{
	struct cands *cs = ud;
	for (size_t i = 0; i < cs->n; i++)
		if (cs->c[i].e == e)
			return;
	const struct consolidate_set *s = cs->set;
	const struct consolidate_entity *ent = &s->e[e];
	const struct consolidate_name *mn = &cs->m->n;
	enum consolidate_kind kind = s->lists[ent->list].kind;
	const struct consolidate_name *full = &ent->alias[ent->full].n;
	struct cand c = {.e = e};
	for (size_t i = 0; i < ent->nalias; i++)
		if (!strcmp(ent->alias[i].n.key, mn->key))
			c.alias_exact = 1;
	c.full_exact = !strcmp(full->key, mn->key);
	c.more_specific = full->ntok > mn->ntok && consolidate_name_covers(full, mn);
	if (!c.alias_exact && !consolidate_name_compatible(mn, full, kind))
		return;
	/* a partial name that several entities shared does not grow into a
	 * full one: "Moreau" (which Moreau?) is not Jacques Moreau */
	if (ent->ambiguous && !c.full_exact && !c.alias_exact)
		return;
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? 2 * cs->cap : 8;
		cs->c = xrealloc(cs->c, cs->cap * sizeof *cs->c);
	}
	cs->c[cs->n++] = c;
}

static int any(const struct cand *c)
{
	(void)c;
	return 1;
}

static int more_specific(const struct cand *c)
{
	return c->more_specific;
}

static int full_exact(const struct cand *c)
{
	return c->full_exact;
}

static int alias_exact(const struct cand *c)
{
	return c->alias_exact;
}

/* The only candidate that passes test (and is mentioned in doc, unless doc
 * is NULL): its entity; -1 when none does, -2 when several do. */
static long only(const struct cands *cs, int (*test)(const struct cand *), const char *doc)
{
	long found = -1;
	for (size_t i = 0; i < cs->n; i++) {
		if (!test(&cs->c[i]) || (doc && !consolidate_set_in_doc(cs->set, cs->c[i].e, doc)))
			continue;
		if (found >= 0)
			return -2;
		found = cs->c[i].e;
	}
	return found;
}

/* The entity the name rules give m, -1 for none, -2 for several that
 * nothing tells apart. *by_doc is set when the document decided. */
static long by_name(const struct consolidate_set *s, const struct consolidate_mention *m,
		    int *by_doc)
{
	struct cands cs = {.set = s, .m = m};
	const struct consolidate_name *n = &m->n;
	consolidate_set_find(s, m->list, 'k', n->key, add_cand, &cs);
	consolidate_set_find(s, m->list, 's', n->squash, add_cand, &cs);
	if (s->lists[m->list].kind == CONSOLIDATE_PERSON) {
		for (int i = 0; i < n->ntok; i++)
			if (n->tok[i][1])
				consolidate_set_find(s, m->list, 'w', n->tok[i], add_cand, &cs);
	} else {
		if (n->acronym)
			consolidate_set_find(s, m->list, 'a', n->acronym, add_cand, &cs);
		if (n->initials)
			consolidate_set_find(s, m->list, 'a', n->initials, add_cand, &cs);
	}
	*by_doc = 0;
	long e = -1;
	if (cs.n == 1) {
		e = cs.c[0].e;
	} else if (cs.n > 1) {
		/* a partial name: the entity it is part of, or the one of the
		 * same document; else a full name's own entity */
		long spec = only(&cs, more_specific, NULL);
		if (spec >= 0) {
			e = spec;
		} else if (spec == -2 && m->doc && (e = only(&cs, more_specific, m->doc)) >= 0) {
			*by_doc = 1;
		} else if ((e = only(&cs, full_exact, NULL)) >= 0 ||
			   (e = only(&cs, alias_exact, NULL)) >= 0) {
			/* decided by the name */
		} else if (m->doc && (e = only(&cs, any, m->doc)) >= 0) {
			*by_doc = 1;
		} else {
			e = -2;
		}
	}
	free(cs.c);
	return e;
}

static const float *key_vec(const struct consolidate_match *m, const char *key)
{
	long r = strmap_get(m->key_row, key);
	return r >= 0 ? m->kvec + (size_t)r * vec_stride(m->dim) : NULL;
}

static void add_row(struct consolidate_match *m, int list, long e, const char *key)
{
	const float *v = key_vec(m, key);
	if (!v)
		return;
	struct consolidate_rows *r = &m->rows[list];
	size_t ld = vec_stride(m->dim);
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = xrealloc(r->v, r->cap * ld * sizeof *r->v);
		r->ent = xrealloc(r->ent, r->cap * sizeof *r->ent);
	}
	memcpy(r->v + r->n * ld, v, ld * sizeof *v);
	r->ent[r->n++] = e;
}

/* Rows for the aliases of e from alias index `from` on. */
static void add_alias_rows(struct consolidate_match *m, long e, size_t from)
{
	const struct consolidate_entity *ent = &m->set->e[e];
	for (size_t i = from; i < ent->nalias; i++)
		add_row(m, ent->list, e, ent->alias[i].n.key);
}

/* Embeds every distinct key of the set's aliases and of the mentions. */
static int embed_keys(struct consolidate_match *m, const struct consolidate_mentions *ms,
		      char *err, size_t errlen)
{
	const char **texts = NULL;
	size_t n = 0, cap = 0;
	m->key_row = strmap_new();
	const struct consolidate_set *s = m->set;
	for (size_t i = 0; i < s->n + ms->n; i++) {
		const struct consolidate_entity *e = i < s->n ? &s->e[i] : NULL;
		size_t na = e ? e->nalias : 1;
		for (size_t a = 0; a < na; a++) {
			const char *key = e ? e->alias[a].n.key : ms->m[i - s->n].n.key;
			if (strmap_get(m->key_row, key) >= 0)
				continue;
			strmap_put(m->key_row, key, (long)n);
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				texts = xrealloc(texts, cap * sizeof *texts);
			}
			texts[n++] = key;
		}
	}
	float *v = NULL;
	int dim = 0;
	int rc = n ? m->embed(m->embed_ud, texts, n, &v, &dim, err, errlen) : 0;
	free(texts);
	if (rc)
		return -1;
	m->dim = dim > 0 ? dim : 1;
	m->st.embedded = (long)n;
	/* padded rows, so that a key's vector is a query of the kernel */
	size_t ld = vec_stride(m->dim);
	m->kvec = xcalloc(n * ld + 1, sizeof *m->kvec);
	for (size_t i = 0; i < n; i++)
		memcpy(m->kvec + i * ld, v + i * (size_t)m->dim, (size_t)m->dim * sizeof *v);
	free(v);
	return 0;
}

/* Mentions with more words first, then in input order. */
struct order {
	int ntok;
	size_t i;
};

static int by_specificity(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	if (x->ntok != y->ntok)
		return x->ntok > y->ntok ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void add_pair(struct consolidate_match *m, long fresh, long other, long mention,
		     float score)
{
	m->pair = xrealloc(m->pair, (m->npair + 1) * sizeof *m->pair);
	m->pair[m->npair++] = (struct consolidate_pair){fresh, other, mention, score};
	m->st.pairs++;
}

/* Files mention i; returns its entity. */
static long file_one(struct consolidate_match *m, const struct consolidate_mentions *ms, size_t i)
{
	struct consolidate_set *s = m->set;
	const struct consolidate_mention *mn = &ms->m[i];
	long held = consolidate_set_held(s, mn->list, mn->record, mn->name);
	if (held >= 0) {
		m->st.held++;
		return held;
	}
	int doc = 0;
	long e = by_name(s, mn, &doc);
	struct vec_hit hits[VEC_CANDIDATES];
	int nhits = 0;
	if (e >= 0) {
		m->st.by_name++;
		m->st.by_doc += doc;
	} else if (e == -1 && m->rows[mn->list].n) {
		const struct consolidate_rows *r = &m->rows[mn->list];
		struct vec_topk top;
		vec_topk_init(&top, 1, VEC_CANDIDATES);
		vec_search_rows(r->v, r->n, m->dim, r->ent, 0, key_vec(m, mn->n.key), 1, &top);
		nhits = top.fill[0];
		memcpy(hits, top.hit, (size_t)nhits * sizeof *hits);
		vec_topk_free(&top);
		if (nhits && hits[0].score >= m->threshold) {
			e = hits[0].id;
			m->st.by_vector++;
		}
	}
	int fresh = e < 0, ambiguous = e == -2;
	if (fresh) {
		e = consolidate_set_add(s, mn->list);
		s->e[e].ambiguous = ambiguous;
		m->st.fresh++;
		m->st.ambiguous += ambiguous;
	}
	size_t before = s->e[e].nalias;
	consolidate_set_mention(s, e, mn);
	add_alias_rows(m, e, before);
	if (fresh && m->check)
		for (int h = 0; h < nhits; h++)
			if (hits[h].score >= m->uncertain && hits[h].score < m->threshold)
				add_pair(m, e, hits[h].id, (long)i, hits[h].score);
	return e;
}

int consolidate_match_run(struct consolidate_match *m, const struct consolidate_mentions *ms,
			  char *err, size_t errlen)
{
	struct consolidate_set *s = m->set;
	if (embed_keys(m, ms, err, errlen))
		return -1;
	m->rows = xcalloc((size_t)s->nlists + 1, sizeof *m->rows);
	for (size_t e = 0; e < s->n; e++)
		add_alias_rows(m, (long)e, 0);
	m->entity_of = xmalloc((ms->n + 1) * sizeof *m->entity_of);
	struct order *order = xmalloc((ms->n + 1) * sizeof *order);
	for (size_t i = 0; i < ms->n; i++)
		order[i] = (struct order){ms->m[i].n.ntok, i};
	qsort(order, ms->n, sizeof *order, by_specificity);
	for (size_t k = 0; k < ms->n; k++)
		m->entity_of[order[k].i] = file_one(m, ms, order[k].i);
	free(order);
	return 0;
}

void consolidate_match_free(struct consolidate_match *m)
{
	if (m->rows)
		for (int l = 0; l < m->set->nlists; l++) {
			free(m->rows[l].v);
			free(m->rows[l].ent);
		}
	free(m->rows);
	free(m->kvec);
	strmap_free(m->key_row);
	free(m->entity_of);
	free(m->pair);
	m->rows = NULL;
	m->kvec = NULL;
	m->key_row = NULL;
	m->entity_of = NULL;
	m->pair = NULL;
}
