/* consolidate_embed: names to unit vectors (see the header). */
#include "consolidate_embed.h"
#include "embed_hash.h"
#include "pool.h"
#include "util.h"
#include "vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct batch {
	const char *const *texts;
	size_t n;
	float *vec;   /* n x dim, from the server */
	int dim;
	struct llm_result res;
};

static void work(void *job, int worker, void *ud)
{
	(void)worker;
	const struct consolidate_embedder *e = ud;
	struct batch *b = job;
	b->vec = llm_embed(e->llm, e->model, b->texts, b->n, e->dim_hint, &b->dim, &b->res);
}

static void emitted(void *job, void *ud)
{
	(void)job;
	(void)ud;
}

static int hashed(const struct consolidate_embedder *e, const char *const *texts, size_t n,
		  float **out, int *dim)
{
	size_t d = (size_t)e->hash_dim;
	float *v = xcalloc(n * d + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		embed_hash(texts[i], strlen(texts[i]), e->hash_dim, v + i * d);
	*out = v;
	*dim = e->hash_dim;
	return 0;
}

int consolidate_embed(void *ud, const char *const *texts, size_t n, float **out, int *dim,
		      char *err, size_t errlen)
{
	struct consolidate_embedder *e = ud;
	if (e->hash_dim > 0)
		return hashed(e, texts, n, out, dim);
	size_t per = e->batch ? e->batch : 32, nb = (n + per - 1) / per;
	struct batch *b = xcalloc(nb + 1, sizeof *b);
	int workers = e->workers > 0 ? e->workers : 1;
	struct pool *p = pool_new(workers, 2 * (size_t)workers + 2, 0, work, emitted, NULL, e);
	for (size_t i = 0; i < nb; i++) {
		b[i].texts = texts + i * per;
		b[i].n = n - i * per < per ? n - i * per : per;
		pool_submit(p, &b[i]);
	}
	pool_finish(p);
	int rc = 0, d = 0;
	for (size_t i = 0; i < nb && !rc; i++) {
		e->requests += b[i].res.attempts;
		if (!b[i].vec) {
			snprintf(err, errlen, "cannot embed names with %s: %s", e->model,
				 b[i].res.message[0] ? b[i].res.message : b[i].res.code);
			rc = -1;
		} else if (d && b[i].dim != d) {
			snprintf(err, errlen, "%s answered vectors of %d and of %d numbers", e->model,
				 d, b[i].dim);
			rc = -1;
		}
		d = b[i].dim;
	}
	float *v = NULL;
	if (!rc) {
		size_t dd = (size_t)d;
		v = xmalloc((n * dd + 1) * sizeof *v);
		for (size_t i = 0; i < nb; i++)
			memcpy(v + i * per * dd, b[i].vec, b[i].n * dd * sizeof *v);
		for (size_t i = 0; i < n; i++) {
			float *r = v + i * dd;
			for (size_t k = 0; k < dd; k++)
				if (!isfinite(r[k])) {
					snprintf(err, errlen, "%s answered a vector with a number that is "
						 "not finite", e->model);
					rc = -1;
				}
			vec_normalize(r, d);
		}
	}
	for (size_t i = 0; i < nb; i++)
		free(b[i].vec);
	free(b);
	if (rc) {
		free(v);
		return -1;
	}
	*out = v;
	*dim = d;
	return 0;
}
