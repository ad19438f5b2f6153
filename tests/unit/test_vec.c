/* Unit tests of vec: the blocked kernel against a plain double-precision
 * brute force on random vectors of awkward sizes (rows not a multiple of
 * the tiles or the row block, queries not a multiple of 4, dimensions not
 * a multiple of 8, k above the number of rows), through the index, the
 * plain row search, and rows streamed in blocks to three top-k lists
 * merged at the end (as store similar's workers do); ties, ids shared by
 * several rows (the best row counts), merging, NaN, cosines of rows of any
 * length, and normalisation. */
#include "t.h"
#include "util.h"
#include "vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ULL;

static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static float *random_units(size_t n, int dim)
{
	float *v = xmalloc((n * (size_t)dim + 1) * sizeof *v);
	for (size_t i = 0; i < n * (size_t)dim; i++)
		v[i] = frand();
	for (size_t i = 0; i < n; i++)
		vec_normalize(v + i * (size_t)dim, dim);
	return v;
}

enum how { BY_INDEX, BY_ROWS, BY_BLOCKS };
static const char *const how_name[] = {"index", "rows", "blocks to 3 lists, merged"};

/* Runs the search of e (n x dim) for q (m x dim) one way into t. Row i
 * has id 1000 + i for the row and scan searches, i for the index. */
static void run(enum how how, const float *e, size_t n, int dim, const float *q, size_t m,
		int k, struct vec_topk *t)
{
	size_t ld = vec_stride(dim), d = (size_t)dim;
	if (how == BY_INDEX) {
		struct vec_index *ix = vec_index_new(e, n, dim, NULL);
		vec_topk_init(t, m, k);
		vec_index_search(ix, q, m, t);
		vec_index_free(ix);
	} else if (how == BY_ROWS) {
		float *rows = xcalloc(n * ld + 1, sizeof *rows), *qp = xcalloc(m * ld + 1, sizeof *qp);
		for (size_t i = 0; i < n; i++)
			memcpy(rows + i * ld, e + i * d, d * sizeof *rows);
		for (size_t i = 0; i < m; i++)
			memcpy(qp + i * ld, q + i * d, d * sizeof *qp);
		vec_topk_init(t, m, k);
		vec_search_rows(rows, n, dim, NULL, 1000, qp, m, t);
		free(rows);
		free(qp);
	} else {
		/* uneven blocks (1 row, then 7s), dealt to three lists in turn */
		float *rows = xcalloc(7 * ld + 1, sizeof *rows), *qp = xcalloc(m * ld + 1, sizeof *qp);
		long ids[7];
		for (size_t i = 0; i < m; i++)
			memcpy(qp + i * ld, q + i * d, d * sizeof *qp);
		struct vec_topk part[3];
		for (int p = 0; p < 3; p++)
			vec_topk_init(&part[p], m, k);
		size_t i = 0, want = 1;
		for (int turn = 0; i < n; turn++) {
			size_t b = 0;
			for (; b < want && i < n; i++, b++) {
				memcpy(rows + b * ld, e + i * d, d * sizeof *rows);
				ids[b] = 1000 + (long)i;
			}
			vec_search_rows(rows, b, dim, ids, 0, qp, m, &part[turn % 3]);
			want = 7;
		}
		vec_topk_init(t, m, k);
		for (int p = 0; p < 3; p++) {
			vec_topk_merge(t, &part[p]);
			vec_topk_free(&part[p]);
		}
		free(rows);
		free(qp);
	}
}

/* Checks one way of searching against brute force: same rows (scores
 * within 1e-4, order by score). Returns the number of mismatching
 * queries. */
static int check(enum how how, size_t n, int dim, size_t m, int k)
{
	float *e = random_units(n, dim), *q = random_units(m, dim);
	struct vec_topk t;
	run(how, e, n, dim, q, m, k, &t);
	long base = how == BY_INDEX ? 0 : 1000;
	int bad = 0;
	double *s = xmalloc((n + 1) * sizeof *s);
	char *used = xmalloc(n + 1);
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			double acc = 0;
			for (int c = 0; c < dim; c++)
				acc += (double)q[i * (size_t)dim + (size_t)c] *
				       e[j * (size_t)dim + (size_t)c];
			s[j] = acc;
		}
		memset(used, 0, n);
		if (t.fill[i] != (n < (size_t)k ? (int)n : k))
			bad++;
		for (int r = 0; r < k; r++) {
			const struct vec_hit *h = &t.hit[i * (size_t)k + (size_t)r];
			if ((size_t)r >= n) {
				if (h->id != -1)
					bad++;
				continue;
			}
			size_t best = 0;
			int found = 0;
			for (size_t j = 0; j < n; j++)
				if (!used[j] && (!found || s[j] > s[best]))
					best = j, found = 1;
			used[best] = 1;
			long row = h->id - base;
			if (row < 0 || (size_t)row >= n || fabs(h->score - s[best]) > 1e-4 ||
			    fabs(s[row] - h->score) > 1e-4) {
				bad++;
				break;
			}
		}
	}
	free(s);
	free(used);
	vec_topk_free(&t);
	free(e);
	free(q);
	return bad;
}

static void test_ties(void)
{
	/* rows 0..39: three copies of the query at 5, 17 and 33 */
	int dim = 8;
	size_t n = 40;
	float *e = random_units(n, dim);
	float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	vec_normalize(q, dim);
	memcpy(e + 5 * 8, q, sizeof q);
	memcpy(e + 17 * 8, q, sizeof q);
	memcpy(e + 33 * 8, q, sizeof q);
	for (int how = BY_INDEX; how <= BY_BLOCKS; how++) {
		struct vec_topk t;
		run((enum how)how, e, n, dim, q, 1, 3, &t);
		long b = how == BY_INDEX ? 0 : 1000;
		T_OK(t.hit[0].id == b + 5 && t.hit[1].id == b + 17 && t.hit[2].id == b + 33,
		     "%s: equal scores, lower id first (got %ld %ld %ld)", how_name[how],
		     t.hit[0].id, t.hit[1].id, t.hit[2].id);
		T_OK(fabsf(t.hit[0].score - 1.0f) < 1e-5, "%s: identical unit vectors score 1",
		     how_name[how]);
		vec_topk_free(&t);
	}
	free(e);
}

/* Several rows per id: an id scores its best row, and comes once. */
static void test_groups(void)
{
	float e[5 * 2] = {1, 0, 0, 1, 0.6f, 0.8f, -1, 0, 0.8f, 0.6f};
	long ids[5] = {7, 3, 7, 3, 9};
	float q[2] = {1, 0};
	struct vec_index *ix = vec_index_new(e, 5, 2, ids);
	struct vec_topk t;
	vec_topk_init(&t, 1, 3);
	vec_index_search(ix, q, 1, &t);
	T_EQ_INT(t.fill[0], 3, "three distinct ids");
	T_OK(t.hit[0].id == 7 && fabsf(t.hit[0].score - 1) < 1e-6, "id 7 by its best row (1)");
	T_OK(t.hit[1].id == 9 && fabsf(t.hit[1].score - 0.8f) < 1e-6, "then 9 (0.8)");
	T_OK(t.hit[2].id == 3 && fabsf(t.hit[2].score - 0) < 1e-6,
	     "then 3 by its best row (0, not -1)");
	vec_topk_free(&t);
	/* k = 1: the best id survives although a worse row of it comes later */
	vec_topk_init(&t, 1, 1);
	vec_index_search(ix, q, 1, &t);
	T_OK(t.fill[0] == 1 && t.hit[0].id == 7 && fabsf(t.hit[0].score - 1) < 1e-6,
	     "k = 1: id 7 at 1");
	vec_topk_free(&t);
	vec_index_free(ix);
}

/* Cosines: rows of any length, once made unit, score their cosine. */
static void test_cosine(void)
{
	int dim = 19;
	size_t n = 700, ld = vec_stride(dim);
	float *e = random_units(n, dim), q[24] = {0};
	for (int c = 0; c < dim; c++)
		q[c] = e[3 * (size_t)dim + (size_t)c];
	/* row 3 is the query times 40: cosine 1; row 5 is all zeros */
	for (int c = 0; c < dim; c++) {
		e[3 * (size_t)dim + (size_t)c] *= 40;
		e[5 * (size_t)dim + (size_t)c] = 0;
		e[7 * (size_t)dim + (size_t)c] *= 0.01f;
	}
	float *rows = xcalloc(n * ld + 1, sizeof *rows);
	for (size_t i = 0; i < n; i++)
		memcpy(rows + i * ld, e + i * (size_t)dim, (size_t)dim * sizeof *e);
	vec_unit_rows(rows, n, dim);
	struct vec_topk t;
	vec_topk_init(&t, 1, 3);
	vec_search_rows(rows, n, dim, NULL, 0, q, 1, &t);
	T_OK(t.hit[0].id == 3 && fabsf(t.hit[0].score - 1) < 1e-5,
	     "cosine: a long copy of the query scores 1 (got %ld %f)", t.hit[0].id,
	     (double)t.hit[0].score);
	int bad = 0;
	for (int h = 1; h < t.fill[0]; h++) {
		double dot = 0, nn = 0;
		const float *r = e + (size_t)t.hit[h].id * (size_t)dim;
		for (int c = 0; c < dim; c++) {
			dot += (double)q[c] * r[c];
			nn += (double)r[c] * r[c];
		}
		if (fabs(dot / sqrt(nn) - t.hit[h].score) > 1e-4)
			bad++;
	}
	T_OK(bad == 0, "cosine: the others score their cosine");
	T_OK(rows[5 * ld] == 0 && rows[5 * ld + 1] == 0, "a zero row stays zero");
	vec_topk_free(&t);
	free(rows);
	free(e);
}

static void test_put_merge(void)
{
	struct vec_topk a, b;
	vec_topk_init(&a, 2, 2);
	vec_topk_init(&b, 2, 2);
	vec_topk_put(&a, 0, 1, 0.5f);
	vec_topk_put(&a, 0, 2, NAN);
	T_EQ_INT(a.fill[0], 1, "a NaN score is never kept");
	vec_topk_put(&a, 0, 3, 0.9f);
	vec_topk_put(&b, 0, 4, 0.7f);
	vec_topk_put(&b, 0, 1, 0.95f);
	vec_topk_put(&b, 1, 5, -0.5f);
	vec_topk_merge(&a, &b);
	T_OK(a.fill[0] == 2 && a.hit[0].id == 1 && fabsf(a.hit[0].score - 0.95f) < 1e-6 &&
	     a.hit[1].id == 3, "merge: id 1 at its better score, then 3 (got %ld %ld)",
	     a.hit[0].id, a.hit[1].id);
	T_OK(a.fill[1] == 1 && a.hit[1 * 2].id == 5, "merge: query 1 gets its hit");
	vec_topk_put(&a, 0, 1, 0.1f);
	T_OK(fabsf(a.hit[0].score - 0.95f) < 1e-6, "a worse score of a kept id changes nothing");
	vec_topk_free(&a);
	vec_topk_free(&b);
}

int main(void)
{
	static const struct {
		size_t n;
		int dim;
		size_t m;
		int k;
	} cases[] = {
		{1, 8, 1, 1},      {15, 8, 5, 3},     {16, 16, 6, 5},    {17, 33, 7, 5},
		{100, 64, 13, 10}, {257, 384, 32, 5}, {5, 12, 3, 9},     {1000, 8, 1, 50},
		{1100, 3, 2, 4},   {49, 768, 4, 7},   {2000, 20, 9, 1},
	};
	for (int how = BY_INDEX; how <= BY_BLOCKS; how++)
		for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
			int bad = check((enum how)how, cases[i].n, cases[i].dim, cases[i].m,
					cases[i].k);
			T_OK(bad == 0, "%s: top-%d of %zu rows x %d dims for %zu queries matches "
			     "brute force (%d queries differ)", how_name[how], cases[i].k,
			     cases[i].n, cases[i].dim, cases[i].m, bad);
		}
	test_ties();
	test_groups();
	test_cosine();
	test_put_merge();
	T_EQ_INT(vec_stride(1), 8, "stride of 1");
	T_EQ_INT(vec_stride(768), 768, "stride of 768");
	T_EQ_INT(vec_stride(769), 776, "stride of 769");
	float z[4] = {0, 0, 0, 0}, v[4] = {3, 0, 4, 0};
	double nz = vec_normalize(z, 4), nv = vec_normalize(v, 4);
	T_OK(nz == 0 && z[0] == 0, "a zero vector stays zero");
	T_OK(fabs(nv - 5) < 1e-9 && fabsf(v[0] - 0.6f) < 1e-6 && fabsf(v[2] - 0.8f) < 1e-6,
	     "normalise 3,4 -> 0.6,0.8");
	float a[3] = {1, 0, 0}, b[3] = {1, 1, 0}, c[3] = {-2, 0, 0}, zero[3] = {0, 0, 0};
	T_OK(fabs(vec_cosine(a, b, 3) - sqrt(0.5)) < 1e-12, "cosine of 1,0,0 and 1,1,0 is 1/sqrt 2");
	T_OK(vec_cosine(a, c, 3) == -1 && vec_cosine(b, b, 3) > 1 - 1e-15, "cosine -1 and 1");
	T_OK(vec_cosine(zero, zero, 3) == 1 && vec_cosine(a, zero, 3) == 0,
	     "cosine: two zero vectors agree, a zero and another do not");
	return t_done();
}
