/* embed_batch: one job = one batch of records = at most one request.
 * Order of work: claim every text in the shared cache, send the texts this
 * job owns, publish their vectors (or errors), and only then wait for the
 * texts other jobs own, so that no two jobs ever wait on each other. */
#include "embed_batch.h"
#include "embed_record.h"
#include "fingerprint.h"
#include "reqlog.h"
#include "stage.h"
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
	struct embedder_err err;
};

/* The run's one dimension (the first vector fixes it). Returns 1, or 0
 * with err set. */
static int dim_ok(struct embed_ctx *x, int dim, struct embedder_err *err)
{
	int want = 0;
	if (atomic_compare_exchange_strong(&x->dim, &want, dim) || want == dim)
		return 1;
	atomic_fetch_add(&x->mismatched, 1);
	char msg[256];
	snprintf(msg, sizeof msg, "model %s answered %d numbers where this run's vectors have %d; "
		 "vectors of different sizes cannot be compared", x->emb.name, dim, want);
	snprintf(err->code, sizeof err->code, "dim_mismatch");
	snprintf(err->message, sizeof err->message, "%s", msg);
	err->attempts = 1;
	return 0;
}

/* The record of m with its vector and this run's stamp. */
static void record_ok(const struct embed_ctx *x, struct item *m)
{
	char input[FINGERPRINT_LEN];
	const char *fields[] = {x->field};
	fingerprint_input(m->r->line, m->r->len, fields, 1, input);
	struct stage_stamp stamp = {x->emb.name, x->emb.digest, x->emb.fingerprint, input};
	embed_record_ok(m->r, m->vec, m->dim, &stamp);
}

void embed_work(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct embed_ctx *x = ud;
	int fixed = x->emb.hash_dim > 0 ? x->emb.hash_dim : x->emb.dim_hint;
	struct item *it = xcalloc(job->n ? job->n : 1, sizeof *it);
	struct item **owner = xcalloc(job->n ? job->n : 1, sizeof *owner);
	const char **send = xcalloc(job->n ? job->n : 1, sizeof *send);
	const char **send_ids = xcalloc(job->n ? job->n : 1, sizeof *send_ids);
	size_t nit = 0, nsend = 0;

	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED)
			continue;
		if (!x->force && embedder_has(&x->emb, r->json, fixed, NULL)) {
			stage_pass_done(&stage_table[STAGE_EMBED], r);
			continue;
		}
		const char *text, *code;
		size_t len;
		char msg[256];
		if (embed_record_text(r, x->field, &text, &len, &code, msg, sizeof msg)) {
			rec_fail(r, stage_table[STAGE_EMBED].name, code, msg, 1);
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
			send_ids[nsend] = reqlog_id(r->json);
			send[nsend++] = text;
		}
	}

	if (nsend) {
		struct embedder_result *res = xcalloc(nsend, sizeof *res);
		struct embedder_stats st = {0};
		embedder_run(&x->emb, send, send_ids, nsend, res, &st);
		atomic_fetch_add(&x->texts_sent, st.texts);
		atomic_fetch_add(&x->requests, st.calls);
		/* retries count requests repeated, once per request */
		owner[0]->r->retries += (int)(st.attempts - st.calls);
		for (size_t k = 0; k < nsend; k++) {
			struct item *m = owner[k];
			if (res[k].vec && dim_ok(x, res[k].dim, &res[k].err)) {
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
		if (m->failed && !strcmp(m->err.code, "abandoned")) {
			/* a stop request: passed on unchanged, left pending */
			rec_pass(m->r);
			m->r->outcome = REC_SKIPPED;
		} else if (m->failed)
			rec_fail(m->r, stage_table[STAGE_EMBED].name, m->err.code, m->err.message,
				 m->err.attempts);
		else
			record_ok(x, m);
		free(m->vec);
	}
	free(it);
	free(owner);
	free(send);
	free(send_ids);
}
