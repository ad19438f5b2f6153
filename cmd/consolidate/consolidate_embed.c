/* consolidate_embed: names to unit vectors (see the header). */
#include "consolidate_embed.h"
#include "pool.h"
#include "util.h"
#include "vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
	const char *const *texts;
	size_t n;
	struct embedder_result *res;
	struct embedder_stats st;
};

static void work(void *jp, int worker, void *ud)
{
	(void)worker;
	const struct consolidate_embedder *ce = ud;
	struct job *j = jp;
	embedder_run(&ce->e, j->texts, NULL, j->n, j->res, &j->st);
}

static void emitted(void *jp, void *ud)
{
	(void)jp;
	(void)ud;
}

int consolidate_embed(void *ud, const char *const *texts, size_t n, float **out, int *dim,
		      char *err, size_t errlen)
{
	struct consolidate_embedder *ce = ud;
	size_t per = ce->e.batch ? ce->e.batch : 32;
	size_t nj = (n + per - 1) / per;
	struct job *jobs = xcalloc(nj + 1, sizeof *jobs);
	struct embedder_result *res = xcalloc(n + 1, sizeof *res);
	int workers = ce->workers > 0 ? ce->workers : 1;
	struct pool *p = pool_new(workers, 2 * (size_t)workers + 2, 0, work, emitted, NULL, ce);
	for (size_t i = 0; i < nj; i++) {
		jobs[i].texts = texts + i * per;
		jobs[i].n = n - i * per < per ? n - i * per : per;
		jobs[i].res = res + i * per;
		pool_submit(p, &jobs[i]);
	}
	pool_finish(p);
	int rc = 0, d = 0;
	for (size_t i = 0; i < nj; i++)
		ce->requests += jobs[i].st.attempts;
	for (size_t i = 0; i < n && !rc; i++) {
		if (res[i].vec && d && res[i].dim != d) {
			snprintf(err, errlen, "%s answered vectors of %d and of %d numbers",
				 ce->e.model, d, res[i].dim);
			rc = -1;
		} else if (res[i].vec) {
			d = res[i].dim;
		} else if (!res[i].refused && strcmp(res[i].err.code, "no_text")) {
			snprintf(err, errlen, "cannot embed the names with %s: %s: %s", ce->e.model,
				 res[i].err.code, res[i].err.message);
			rc = -1;
		}
	}
	float *v = NULL;
	if (!rc) {
		size_t dd = (size_t)(d > 0 ? d : 1);
		v = xcalloc(n * dd + 1, sizeof *v);
		for (size_t i = 0; i < n; i++)
			if (res[i].vec) {
				memcpy(v + i * dd, res[i].vec, dd * sizeof *v);
				vec_normalize(v + i * dd, (int)dd);
			}
		*out = v;
		*dim = (int)dd;
	}
	for (size_t i = 0; i < n; i++)
		free(res[i].vec);
	free(res);
	free(jobs);
	return rc;
}
