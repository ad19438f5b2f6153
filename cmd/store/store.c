/* store: picks the backend of a database name and passes each call of the
 * store API on to it; the parts of the API no backend owns (status names,
 * the stats of the stages). */
#include "store.h"
#include "stage.h"
#include "store_backend.h"

#include <stdlib.h>
#include <string.h>

struct store {
	const struct store_backend *be;
	void *c; /* the backend's connection */
};

/* In order: the first whose handles() says yes; SQLite takes the rest. */
static const struct store_backend *const backends[] = {
	&store_backend_pg,
	&store_backend_sqlite,
};

struct store *store_open(const struct store_opts *o, char *err, size_t errlen)
{
	const char *db = o->db ? o->db : "";
	const struct store_backend *be = &store_backend_sqlite;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		if (backends[i]->handles(db)) {
			be = backends[i];
			break;
		}
	}
	void *c = be->open(o, err, errlen);
	if (!c)
		return NULL;
	struct store *s = xcalloc(1, sizeof *s);
	s->be = be;
	s->c = c;
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->be->close(s->c);
	free(s);
}

int store_write(struct store *s, const struct store_rec *r, long *lost, char *err,
		size_t errlen)
{
	return s->be->write(s->c, r, lost, err, errlen);
}

int store_prune_doc(struct store *s, const char *doc, size_t doc_len, long long max_seq,
		    long *removed, long *lost, char *err, size_t errlen)
{
	return s->be->prune_doc(s->c, doc, doc_len, max_seq, removed, lost, err, errlen);
}

int store_delete(struct store *s, const char *key, size_t len, int by_doc, long *removed,
		 long *lost, char *err, size_t errlen)
{
	return s->be->delete_records(s->c, key, len, by_doc, removed, lost, err, errlen);
}

int store_commit(struct store *s, long *lost, char *err, size_t errlen)
{
	return s->be->commit(s->c, lost, err, errlen);
}

long store_batch_records(const struct store *s)
{
	return s->be->batch_records(s->c);
}

double store_batch_age_ms(const struct store *s)
{
	return s->be->batch_age_ms(s->c);
}

int store_get(struct store *s, const char *id, const char *model, struct buf *out, char *err,
	      size_t errlen)
{
	return s->be->get(s->c, id, model, out, err, errlen);
}

/* The query the backends get: q with model's other spelling in alias. */
static struct store_query with_alias(const struct store_query *q, char *alias, size_t len)
{
	struct store_query b = *q;
	b.model_alias = q->model ? stage_model_alias(q->model, alias, len) : NULL;
	return b;
}

int store_scan(struct store *s, const struct store_query *q, store_row_fn fn, void *ud,
	       char *err, size_t errlen)
{
	char alias[256];
	struct store_query b = with_alias(q, alias, sizeof alias);
	return s->be->scan(s->c, &b, fn, ud, err, errlen);
}

int store_claim(struct store *s, const struct store_query *q, const struct store_claim *cl,
		store_row_fn fn, void *ud, char *err, size_t errlen)
{
	char alias[256];
	struct store_query b = with_alias(q, alias, sizeof alias);
	return s->be->claim(s->c, &b, cl, fn, ud, err, errlen);
}

int store_claims_held(struct store *s, const char *stage, const char *worker, long *held,
		      char *err, size_t errlen)
{
	return s->be->claims_held(s->c, stage, worker, held, err, errlen);
}

int store_vectors(struct store *s, const struct store_query *q, const char *model, int part,
		  int nparts, int ids, store_vec_fn fn, void *ud, char *err, size_t errlen)
{
	return s->be->vectors(s->c, q, model, part, nparts, ids, fn, ud, err, errlen);
}

int store_models(struct store *s, struct store_model_count **models, size_t *n, char *err,
		 size_t errlen)
{
	*models = NULL;
	*n = 0;
	return s->be->models(s->c, models, n, err, errlen);
}

void store_models_free(struct store_model_count *models, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(models[i].model);
	free(models);
}

int store_get_key(struct store *s, long long key, const char *model, struct buf *out,
		  char *err, size_t errlen)
{
	return s->be->get_key(s->c, key, model, out, err, errlen);
}

int store_result_get(struct store *s, const char *stage, const char *fingerprint,
		     const char *input, struct buf *members, struct buf *vec, char *err,
		     size_t errlen)
{
	buf_reset(members);
	buf_reset(vec);
	return s->be->result_get(s->c, stage, fingerprint, input, members, vec, err, errlen);
}

int store_log_add(struct store *s, const struct store_log_entry *e, long *lost, char *err,
		  size_t errlen)
{
	return s->be->log_add(s->c, e, lost, err, errlen);
}

int store_log_scan(struct store *s, const struct store_log_query *q, store_row_fn fn,
		   void *ud, char *err, size_t errlen)
{
	return s->be->log_scan(s->c, q, fn, ud, err, errlen);
}

int store_docs(struct store *s, store_doc_fn fn, void *ud, char *err, size_t errlen)
{
	return s->be->docs(s->c, fn, ud, err, errlen);
}

int store_stats(struct store *s, struct store_stats *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	for (size_t k = 0; k < STAGE_COUNT; k++)
		store_stats_stage(st, stage_table[k].name);
	if (s->be->stats(s->c, st, err, errlen)) {
		store_stats_free(st);
		return -1;
	}
	for (size_t i = 0; i < st->nstages; i++) {
		struct store_stage_count *c = &st->stages[i];
		st->given_up += c->given_up;
		c->missing = st->records - c->ok - c->error - c->given_up;
		if (c->missing < 0)
			c->missing = 0;
	}
	return 0;
}

struct store_stage_count *store_stats_stage(struct store_stats *st, const char *name)
{
	for (size_t i = 0; i < st->nstages; i++)
		if (!strcmp(st->stages[i].stage, name))
			return &st->stages[i];
	st->stages = xrealloc(st->stages, (st->nstages + 1) * sizeof *st->stages);
	struct store_stage_count *c = &st->stages[st->nstages++];
	memset(c, 0, sizeof *c);
	c->stage = xstrdup(name);
	return c;
}

void store_stats_add(struct store_stats *st, const char *name, const char *status, long n)
{
	struct store_stage_count *sc = store_stats_stage(st, name ? name : "");
	switch (store_status_parse(status ? status : "")) {
	case STORE_OK: sc->ok += n; break;
	case STORE_ERROR: sc->error += n; break;
	case STORE_GIVEN_UP: sc->given_up += n; break;
	default: break;
	}
}

void store_stats_free(struct store_stats *st)
{
	for (size_t i = 0; i < st->nstages; i++)
		free(st->stages[i].stage);
	for (size_t i = 0; i < st->nmodels; i++)
		free(st->models[i].model);
	for (size_t i = 0; i < st->nusage; i++)
		free(st->usage[i].stage);
	free(st->stages);
	free(st->models);
	free(st->usage);
	memset(st, 0, sizeof *st);
}

int store_backup(struct store *s, const char *path, char *err, size_t errlen)
{
	return s->be->backup(s->c, path, err, errlen);
}

enum store_status store_status_parse(const char *s)
{
	if (!strcmp(s, "ok"))
		return STORE_OK;
	if (!strcmp(s, "error"))
		return STORE_ERROR;
	if (!strcmp(s, "given_up"))
		return STORE_GIVEN_UP;
	if (!strcmp(s, "missing"))
		return STORE_MISSING;
	return STORE_ANY;
}

const char *store_status_name(enum store_status st)
{
	switch (st) {
	case STORE_OK: return "ok";
	case STORE_ERROR: return "error";
	case STORE_GIVEN_UP: return "given_up";
	case STORE_MISSING: return "missing";
	default: return "any";
	}
}
