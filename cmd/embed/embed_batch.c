/* embed_batch: one job = one batch of records = at most one request.
 * Order of work: claim every text in the shared cache, send the texts this
 * job owns, publish their vectors (or errors), and only then wait for the
 * texts other jobs own, so that no two jobs ever wait on each other. */
#include "embed_batch.h"
#include "embed_hash.h"
#include "embed_record.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
	struct rec *r;
	const char *text;   /* owned by r->json */
	size_t len;
	struct embed_entry *e;
	enum embed_claim claim;
	float *vec;         /* owned */
	int dim;
	int failed;
	struct embed_err err;
};

struct result {
	float *vec;         /* owned; NULL on failure */
	int dim;
	struct embed_err err;
};

static void set_err(struct embed_err *e, const char *code, const char *msg, int attempts)
{
	snprintf(e->code, sizeof e->code, "%s", code);
	snprintf(e->message, sizeof e->message, "%s", msg);
	e->attempts = attempts;
}

/* Embeds texts[0..n) into res[0..n). A request the server refuses as a
 * whole (400, 413, 422: one text too long, too many tokens) is split in
 * halves until the culprit stands alone, so the other texts still get
 * their vectors. */
static void send_texts(struct embed_ctx *x, const char *const *texts, size_t n,
		       struct result *res, int *retries)
{
	atomic_fetch_add(&x->texts_sent, (long)n);
	if (x->hash_dim > 0) {
		for (size_t i = 0; i < n; i++) {
			res[i].vec = xmalloc((size_t)x->hash_dim * sizeof *res[i].vec);
			res[i].dim = x->hash_dim;
			if (embed_hash(texts[i], strlen(texts[i]), x->hash_dim, res[i].vec)) {
				free(res[i].vec);
				res[i].vec = NULL;
				set_err(&res[i].err, "no_text", "the text has nothing to hash", 1);
			}
		}
		return;
	}
	atomic_fetch_add(&x->requests, 1);
	struct llm_result lr;
	int dim = 0;
	float *v = llm_embed(x->llm, x->llm_model, texts, n, x->dim_hint, &dim, &lr);
	if (lr.attempts > 1)
		*retries += lr.attempts - 1;
	if (v) {
		for (size_t i = 0; i < n; i++) {
			res[i].vec = xmalloc((size_t)dim * sizeof *res[i].vec);
			memcpy(res[i].vec, v + i * (size_t)dim, (size_t)dim * sizeof *res[i].vec);
			res[i].dim = dim;
		}
		free(v);
		return;
	}
	int whole = lr.http_status == 400 || lr.http_status == 413 || lr.http_status == 422;
	if (lr.status == LLM_FATAL && whole && n > 1) {
		size_t h = n / 2;
		send_texts(x, texts, h, res, retries);
		send_texts(x, texts + h, n - h, res + h, retries);
		return;
	}
	for (size_t i = 0; i < n; i++)
		set_err(&res[i].err, lr.code[0] ? lr.code : "llm_error", lr.message, lr.attempts);
}

/* Every number finite, and the run's one dimension (the first vector
 * fixes it). Returns 1, or 0 with err set. */
static int vector_ok(struct embed_ctx *x, const float *v, int dim, struct embed_err *err)
{
	for (int i = 0; i < dim; i++)
		if (!isfinite(v[i])) {
			set_err(err, "bad_vector", "the server answered a number that is not a "
				"finite float32 (NaN, infinite or out of range)", 1);
			return 0;
		}
	int want = 0;
	if (atomic_compare_exchange_strong(&x->dim, &want, dim) || want == dim)
		return 1;
	atomic_fetch_add(&x->mismatched, 1);
	char msg[256];
	snprintf(msg, sizeof msg, "model %s answered %d numbers where this run's vectors have %d; "
		 "vectors of different sizes cannot be compared", x->model, dim, want);
	set_err(err, "dim_mismatch", msg, 1);
	return 0;
}

void embed_work(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct embed_ctx *x = ud;
	int fixed = x->hash_dim > 0 ? x->hash_dim : x->dim_hint;
	struct item *it = xcalloc(job->n ? job->n : 1, sizeof *it);
	struct item **owner = xcalloc(job->n ? job->n : 1, sizeof *owner);
	const char **send = xcalloc(job->n ? job->n : 1, sizeof *send);
	size_t nit = 0, nsend = 0;

	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED)
			continue;
		if (embed_record_done(r->json, x->model, x->digest, fixed)) {
			rec_pass(r);
			r->outcome = REC_SKIPPED;
			continue;
		}
		const char *text, *code;
		size_t len;
		char msg[256];
		if (embed_record_text(r, x->field, &text, &len, &code, msg, sizeof msg)) {
			rec_fail(r, "embed", code, msg, 1);
			continue;
		}
		struct item *m = &it[nit++];
		m->r = r;
		m->text = text;
		m->len = len;
		m->claim = embed_cache_claim(x->cache, text, len, fnv64(FNV64_INIT, text, len), &m->e,
					     &m->vec, &m->dim);
		if (m->claim == EMBED_MINE) {
			owner[nsend] = m;
			send[nsend++] = text;
		}
	}

	if (nsend) {
		struct result *res = xcalloc(nsend, sizeof *res);
		int retries = 0;
		send_texts(x, send, nsend, res, &retries);
		/* retries count requests repeated, once per request */
		owner[0]->r->retries += retries;
		for (size_t k = 0; k < nsend; k++) {
			struct item *m = owner[k];
			if (res[k].vec && vector_ok(x, res[k].vec, res[k].dim, &res[k].err)) {
				embed_cache_fill(x->cache, m->e, res[k].vec, res[k].dim);
				m->vec = res[k].vec;
				m->dim = res[k].dim;
			} else {
				free(res[k].vec);
				embed_cache_fail(x->cache, m->e, &res[k].err);
				m->failed = 1;
				m->err = res[k].err;
			}
		}
		free(res);
	}

	for (size_t k = 0; k < nit; k++) {
		struct item *m = &it[k];
		if (m->claim == EMBED_WAIT &&
		    embed_cache_wait(x->cache, m->e, &m->vec, &m->dim, &m->err))
			m->failed = 1;
		if (m->failed)
			rec_fail(m->r, "embed", m->err.code, m->err.message, m->err.attempts);
		else
			embed_record_ok(m->r, m->vec, m->dim, x->model, x->digest);
		free(m->vec);
	}
	free(it);
	free(owner);
	free(send);
}
