/* bench_classify_shortlist: times classify's shortlist (vec_index_search) alone,
 * on the entry vectors of a classify cache file and on item vectors from
 * a file of float32, in jobs of `batch` items over `threads` pool workers
 * (as classify runs them). Prints one line "threads=T items=N seconds=S
 * items_per_s=R" and writes each item's best entry index, one per line,
 * to top1 (for the cross-check with NumPy). Built by bench_classify.sh
 * against classify's objects.
 * Usage: bench_classify_shortlist CACHE MODEL ITEMS.f32 K THREADS BATCH TOP1 */
#include "classify_cache.h"
#include "pool.h"
#include "util.h"
#include "vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench {
	const struct vec_index *ix;
	const float *q;
	int k;
	long *top1; /* each item's best entry */
};

struct bjob {
	size_t first, n;
};

static void work(void *jp, int worker, void *ud)
{
	(void)worker;
	struct bench *b = ud;
	struct bjob *j = jp;
	size_t d = (size_t)b->ix->dim;
	struct vec_topk t;
	vec_topk_init(&t, j->n, b->k);
	vec_index_search(b->ix, b->q + j->first * d, j->n, &t);
	for (size_t i = 0; i < j->n; i++)
		b->top1[j->first + i] = t.hit[i * (size_t)b->k].id;
	vec_topk_free(&t);
}

static void emit(void *jp, void *ud)
{
	(void)ud;
	free(jp);
}

static long arg_long(const char *s, const char *what)
{
	long v;
	if (parse_long(s, 1, 1L << 30, &v)) {
		fprintf(stderr, "bench_classify_shortlist: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: bench_classify_shortlist CACHE MODEL ITEMS.f32 K THREADS "
			"BATCH TOP1\n");
		return 2;
	}
	char err[512];
	struct vcache *c = vcache_read(argv[1], argv[2], err, sizeof err);
	if (!c) {
		fprintf(stderr, "bench_classify_shortlist: %s\n", err[0] ? err : "no cache file");
		return 1;
	}
	size_t len = 0;
	float *q = (float *)read_file(argv[3], &len);
	size_t d = (size_t)c->dim;
	if (!q || len % (d * sizeof *q)) {
		fprintf(stderr, "bench_classify_shortlist: %s is not a whole number of %zu-float "
			"vectors\n", argv[3], d);
		return 1;
	}
	size_t m = len / (d * sizeof *q);
	int k = (int)arg_long(argv[4], "k");
	int threads = (int)arg_long(argv[5], "threads");
	size_t batch = (size_t)arg_long(argv[6], "batch");

	struct vec_index *ix = vec_index_new(c->vec, c->n, c->dim, NULL);
	struct bench b = {ix, q, k, xmalloc((m + 1) * sizeof *b.top1)};
	double t0 = now_ms();
	struct pool *p = pool_new(threads, (size_t)threads * 2 + 2, 0, work, emit, NULL, &b);
	for (size_t first = 0; first < m; first += batch) {
		struct bjob *j = xmalloc(sizeof *j);
		j->first = first;
		j->n = m - first < batch ? m - first : batch;
		pool_submit(p, j);
	}
	pool_finish(p);
	double secs = (now_ms() - t0) / 1000;
	printf("threads=%d items=%zu seconds=%.4f items_per_s=%.1f\n", threads, m, secs,
	       (double)m / secs);
	FILE *f = fopen(argv[7], "w");
	for (size_t i = 0; f && i < m; i++)
		fprintf(f, "%ld\n", b.top1[i]);
	if (!f || fclose(f)) {
		fprintf(stderr, "bench_classify_shortlist: cannot write %s\n", argv[7]);
		return 1;
	}
	free(b.top1);
	free(q);
	vec_index_free(ix);
	vcache_free(c);
	return 0;
}
