/* embedder: server or hash vectors for embed and classify. */
#include "embedder.h"
#include "embedder_hash.h"
#include "stage.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct stage *const emb_stage = &stage_table[STAGE_EMBED];

static void set_err(struct embedder_err *e, const char *code, const char *msg, int attempts)
{
	snprintf(e->code, sizeof e->code, "%s", code);
	snprintf(e->message, sizeof e->message, "%s", msg);
	e->attempts = attempts;
}

/* Refused for its content (400, 413, 422, llama-server's 500 "input is
 * too large"): a smaller request may pass. */
static int refused_whole(const struct llm_result *lr)
{
	return lr->status == LLM_FATAL && lr->refused;
}

/* Every number finite: a server may answer NaN or numbers out of float32. */
static int all_finite(const float *v, int dim)
{
	for (int i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* One request for texts[0..n), split on refusal. */
static void send_part(const struct embedder *e, const char *const *texts,
		      const char *const *ids, size_t n, struct embedder_result *res,
		      struct embedder_stats *st)
{
	st->texts += (long)n;
	st->calls++;
	struct llm_result lr;
	int dim = 0;
	float *v = llm_embed(e->llm, e->model, texts, ids, n, e->dim_hint, &dim, &lr);
	st->attempts += lr.attempts;
	if (v) {
		for (size_t i = 0; i < n; i++) {
			const float *src = v + i * (size_t)dim;
			if (!all_finite(src, dim)) {
				set_err(&res[i].err, "bad_vector", "the server answered a number that "
					"is not a finite float32 (NaN, infinite or out of range)", 1);
				continue;
			}
			res[i].vec = xmalloc((size_t)dim * sizeof *res[i].vec);
			memcpy(res[i].vec, src, (size_t)dim * sizeof *res[i].vec);
			res[i].dim = dim;
		}
		free(v);
		return;
	}
	if (refused_whole(&lr) && n > 1) {
		size_t h = n / 2;
		send_part(e, texts, ids, h, res, st);
		send_part(e, texts + h, ids ? ids + h : NULL, n - h, res + h, st);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		set_err(&res[i].err, lr.code[0] ? lr.code : "llm_error", lr.message, lr.attempts);
		res[i].refused = n == 1 && refused_whole(&lr);
	}
}

void embedder_run(const struct embedder *e, const char *const *texts, const char *const *ids,
		  size_t n, struct embedder_result *res, struct embedder_stats *st)
{
	struct embedder_stats mine = {0};
	if (e->hash_dim > 0) {
		mine.texts = (long)n;
		for (size_t i = 0; i < n; i++) {
			res[i].vec = xmalloc((size_t)e->hash_dim * sizeof *res[i].vec);
			res[i].dim = e->hash_dim;
			if (embedder_hash(texts[i], strlen(texts[i]), e->hash_dim, res[i].vec)) {
				free(res[i].vec);
				res[i].vec = NULL;
				set_err(&res[i].err, "no_text", "the text has nothing to hash", 1);
			}
		}
	} else {
		size_t batch = e->batch ? e->batch : n;
		for (size_t off = 0; off < n; off += batch)
			send_part(e, texts + off, ids ? ids + off : NULL,
				  n - off < batch ? n - off : batch, res + off, &mine);
	}
	if (st) {
		st->texts += mine.texts;
		st->calls += mine.calls;
		st->attempts += mine.attempts;
	}
}

int embedder_has(const struct embedder *e, const cJSON *rec, int dim, float *v)
{
	struct stage_stamp run = {e->name, e->digest, e->fingerprint, NULL};
	if (!stage_stamped(emb_stage, rec, &run))
		return 0;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, emb_stage->result);
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	if (n == 0 || (dim > 0 && n != dim))
		return 0;
	int k = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr) {
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
			return 0;
		if (v)
			v[k] = (float)x->valuedouble;
		k++;
	}
	return 1;
}
