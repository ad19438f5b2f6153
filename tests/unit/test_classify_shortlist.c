/* Unit tests of classify_shortlist: the blocked kernel against a plain
 * double-precision brute force on random vectors of awkward sizes (entries
 * not a multiple of the panel, items not a multiple of the micro-kernel,
 * k above the number of entries), ties, and normalisation. */
#include "t.h"
#include "classify_shortlist.h"
#include "util.h"

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
	float *v = xmalloc(n * (size_t)dim * sizeof *v);
	for (size_t i = 0; i < n * (size_t)dim; i++)
		v[i] = frand();
	for (size_t i = 0; i < n; i++)
		sl_normalize(v + i * (size_t)dim, dim);
	return v;
}

/* Checks sl_search against brute force: same entries (scores within
 * 1e-4, order by score). Returns the number of mismatching items. */
static int check(size_t n, int dim, size_t m, int k)
{
	float *e = random_units(n, dim), *q = random_units(m, dim);
	struct sl_index *ix = sl_index_new(e, n, dim);
	struct sl_hit *hits = xmalloc(m * (size_t)k * sizeof *hits);
	sl_search(ix, q, m, k, hits);
	int bad = 0;
	double *s = xmalloc(n * sizeof *s);
	char *used = xmalloc(n);
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			double acc = 0;
			for (int d = 0; d < dim; d++)
				acc += (double)q[i * (size_t)dim + (size_t)d] * e[j * (size_t)dim + (size_t)d];
			s[j] = acc;
		}
		memset(used, 0, n);
		for (int r = 0; r < k; r++) {
			const struct sl_hit *h = &hits[i * (size_t)k + (size_t)r];
			if ((size_t)r >= n) {
				if (h->entry != -1)
					bad++;
				continue;
			}
			/* the best unused entry by brute force */
			size_t best = 0;
			int found = 0;
			for (size_t j = 0; j < n; j++)
				if (!used[j] && (!found || s[j] > s[best]))
					best = j, found = 1;
			used[best] = 1;
			if (h->entry < 0 || fabs(h->score - s[best]) > 1e-4 ||
			    fabs(s[h->entry] - h->score) > 1e-4) {
				bad++;
				break;
			}
		}
	}
	free(s);
	free(used);
	free(hits);
	sl_index_free(ix);
	free(e);
	free(q);
	return bad;
}

static void test_ties(void)
{
	/* entries 0..39: three copies of the same vector at 5, 17 and 33 */
	int dim = 8;
	size_t n = 40;
	float *e = random_units(n, dim);
	float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	sl_normalize(q, dim);
	memcpy(e + 5 * 8, q, sizeof q);
	memcpy(e + 17 * 8, q, sizeof q);
	memcpy(e + 33 * 8, q, sizeof q);
	struct sl_index *ix = sl_index_new(e, n, dim);
	struct sl_hit h[3];
	sl_search(ix, q, 1, 3, h);
	T_OK(h[0].entry == 5 && h[1].entry == 17 && h[2].entry == 33,
	     "equal scores: lower index first (got %ld %ld %ld)", h[0].entry, h[1].entry,
	     h[2].entry);
	T_OK(fabsf(h[0].score - 1.0f) < 1e-5, "identical unit vectors score 1");
	sl_index_free(ix);
	free(e);
}

int main(void)
{
	static const struct {
		size_t n;
		int dim;
		size_t m;
		int k;
	} cases[] = {
		{1, 8, 1, 1},     {15, 8, 5, 3},   {16, 16, 6, 5},  {17, 33, 7, 5},
		{100, 64, 13, 10}, {257, 384, 32, 5}, {5, 12, 3, 9},   {1000, 8, 1, 50},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int bad = check(cases[i].n, cases[i].dim, cases[i].m, cases[i].k);
		T_OK(bad == 0, "top-%d of %zu entries x %d dims for %zu items matches brute force "
		     "(%d items differ)", cases[i].k, cases[i].n, cases[i].dim, cases[i].m, bad);
	}
	test_ties();
	float z[4] = {0, 0, 0, 0}, v[4] = {3, 0, 4, 0};
	double nz = sl_normalize(z, 4), nv = sl_normalize(v, 4);
	T_OK(nz == 0 && z[0] == 0, "a zero vector stays zero");
	T_OK(fabs(nv - 5) < 1e-9 && fabsf(v[0] - 0.6f) < 1e-6 && fabsf(v[2] - 0.8f) < 1e-6,
	     "normalise 3,4 -> 0.6,0.8");
	return t_done();
}
