/* vec: exact top-k search by dot product (see vec.h). The micro-kernel
 * scores a tile of MR queries by NR rows with MR x NR accumulators of 8
 * floats that stay in registers, reading both sides row by row (no packing,
 * so streamed rows are scored where they lie). It uses GCC/Clang vector
 * types, so that -O2 emits vector code without -march flags; on x86-64 with
 * glibc it is also built for x86-64-v3 (AVX2 + FMA) and the loader picks
 * the version for the CPU (target_clones). Rows are walked in blocks that
 * stay in cache while every query is scored against them. */
#include "vec.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
#if defined(__clang__)
#define VEC_KERNEL_ATTR __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
/* ISO C mode turns off a*b+c contraction; the kernel wants FMAs */
#define VEC_KERNEL_ATTR \
	__attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#endif
#else
#define VEC_KERNEL_ATTR
#endif

/* Rows scored against every query before moving on: 48 rows of 768
 * floats (144 KB) stay in L2 while the queries pass over them. */
#define ROW_BLOCK 48

size_t vec_stride(int dim)
{
	return ((size_t)dim + 7) / 8 * 8;
}

double vec_normalize(float *v, int dim)
{
	double s = 0;
	for (int i = 0; i < dim; i++)
		s += (double)v[i] * v[i];
	double norm = sqrt(s);
	if (norm > 0)
		for (int i = 0; i < dim; i++)
			v[i] = (float)(v[i] / norm);
	return norm;
}

double vec_cosine(const float *a, const float *b, int dim)
{
	double ab = 0, aa = 0, bb = 0;
	for (int i = 0; i < dim; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	if (aa == 0 || bb == 0)
		return aa == bb ? 1 : 0;
	return ab / sqrt(aa * bb);
}

/* ---- top k ---- */

void vec_topk_init(struct vec_topk *t, size_t m, int k)
{
	t->m = m;
	t->k = k;
	t->hit = xmalloc((m * (size_t)k + 1) * sizeof *t->hit);
	t->fill = xcalloc(m + 1, sizeof *t->fill);
	for (size_t i = 0; i < m * (size_t)k; i++)
		t->hit[i] = (struct vec_hit){-1, -INFINITY};
}

void vec_topk_free(struct vec_topk *t)
{
	free(t->hit);
	free(t->fill);
	t->hit = NULL;
	t->fill = NULL;
}

/* Whether (s, id) goes before h: a higher score, or an equal one with a
 * lower id. */
static inline int better(float s, long id, const struct vec_hit *h)
{
	return s > h->score || (s == h->score && id < h->id);
}

static void put(struct vec_hit *h, int k, int *fill, long id, float s)
{
	if (isnan(s))
		return;
	int n = *fill, pos = -1;
	for (int p = 0; p < n; p++)
		if (h[p].id == id) {
			pos = p;
			break;
		}
	if (pos >= 0) {
		if (!(s > h[pos].score))
			return;
	} else if (n == k) {
		if (!better(s, id, &h[k - 1]))
			return;
		pos = k - 1;
	} else {
		pos = n;
		(*fill)++;
	}
	while (pos > 0 && better(s, id, &h[pos - 1])) {
		h[pos] = h[pos - 1];
		pos--;
	}
	h[pos] = (struct vec_hit){id, s};
}

/* put, after the test that rejects most scores once the row is full. */
static inline void offer(struct vec_topk *t, size_t i, long id, float s)
{
	int k = t->k;
	struct vec_hit *h = t->hit + i * (size_t)k;
	if (t->fill[i] == k && !better(s, id, &h[k - 1]))
		return;
	put(h, k, &t->fill[i], id, s);
}

void vec_topk_put(struct vec_topk *t, size_t i, long id, float score)
{
	put(t->hit + i * (size_t)t->k, t->k, &t->fill[i], id, score);
}

void vec_topk_merge(struct vec_topk *into, const struct vec_topk *from)
{
	for (size_t i = 0; i < from->m && i < into->m; i++) {
		const struct vec_hit *h = from->hit + i * (size_t)from->k;
		for (int j = 0; j < from->fill[i]; j++)
			vec_topk_put(into, i, h[j].id, h[j].score);
	}
}

/* ---- the kernel ---- */

/* The sum of a vector's 8 numbers (by pointer: passing a vector by value
 * changes the ABI between the builds of the kernel). */
static inline __attribute__((always_inline)) float hsum(const v8f *a)
{
	float f[8];
	memcpy(f, a, sizeof f);
	return ((f[0] + f[4]) + (f[1] + f[5])) + ((f[2] + f[6]) + (f[3] + f[7]));
}

/* out[i * nr + j] = dot(q row i, r row j) for mr queries and nr rows, both
 * ld floats apart, len (a multiple of 8) floats long. Inlined with constant
 * mr and nr and its small loops unrolled, the accumulators live in
 * registers. */
static inline __attribute__((always_inline)) void
micro(const float *restrict q, const float *restrict r, size_t ld, size_t len,
      float *restrict out, const int mr, const int nr)
{
	v8f acc[4][8];
#pragma GCC unroll 4
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++)
			acc[i][j] = (v8f){0};
	for (size_t k = 0; k < len; k += 8) {
		v8f rv[8];
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++)
			memcpy(&rv[j], r + (size_t)j * ld + k, sizeof rv[j]);
#pragma GCC unroll 4
		for (int i = 0; i < mr; i++) {
			v8f qv;
			memcpy(&qv, q + (size_t)i * ld + k, sizeof qv);
#pragma GCC unroll 8
			for (int j = 0; j < nr; j++)
				acc[i][j] += qv * rv[j];
		}
	}
#pragma GCC unroll 4
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++)
			out[i * nr + j] = hsum(&acc[i][j]);
}

/* The tiles: 4 queries x 3 rows (12 accumulators: the most that leave
 * registers for the operands), 4 x 1 for the rows left over, 1 x 8 for the
 * queries left over (a single query streams rows at full speed), 1 x 1. */
#define TILE(name, mr, nr)                                                     \
	VEC_KERNEL_ATTR static void name(const float *q, const float *r,       \
					 size_t ld, float *out)                \
	{                                                                      \
		micro(q, r, ld, ld, out, mr, nr);                              \
	}
TILE(tile43, 4, 3)
TILE(tile41, 4, 1)
TILE(tile18, 1, 8)
TILE(tile11, 1, 1)

static inline long id_of(const long *ids, long first, size_t row)
{
	return ids ? ids[row] : first + (long)row;
}

/* Scores rows[0..n) against q[0..m) (both with stride ld, zero padded)
 * into t. */
static void search(const float *rows, size_t n, size_t ld, const long *ids, long first,
		   const float *q, size_t m, struct vec_topk *t)
{
	float out[32];
	for (size_t r0 = 0; r0 < n; r0 += ROW_BLOCK) {
		size_t rend = n - r0 < ROW_BLOCK ? n : r0 + ROW_BLOCK;
		size_t i = 0;
		for (; i + 4 <= m; i += 4) {
			const float *qi = q + i * ld;
			size_t j = r0;
			for (; j + 3 <= rend; j += 3) {
				tile43(qi, rows + j * ld, ld, out);
				for (int a = 0; a < 4; a++)
					for (int b = 0; b < 3; b++)
						offer(t, i + (size_t)a, id_of(ids, first, j + (size_t)b),
						      out[a * 3 + b]);
			}
			for (; j < rend; j++) {
				tile41(qi, rows + j * ld, ld, out);
				for (int a = 0; a < 4; a++)
					offer(t, i + (size_t)a, id_of(ids, first, j), out[a]);
			}
		}
		for (; i < m; i++) {
			const float *qi = q + i * ld;
			size_t j = r0;
			for (; j + 8 <= rend; j += 8) {
				tile18(qi, rows + j * ld, ld, out);
				for (int b = 0; b < 8; b++)
					offer(t, i, id_of(ids, first, j + (size_t)b), out[b]);
			}
			for (; j < rend; j++) {
				tile11(qi, rows + j * ld, ld, out);
				offer(t, i, id_of(ids, first, j), out[0]);
			}
		}
	}
}

void vec_search_rows(const float *rows, size_t n, int dim, const long *ids, long first,
		     const float *q, size_t m, struct vec_topk *t)
{
	search(rows, n, vec_stride(dim), ids, first, q, m, t);
}

/* A zero-padded copy of n rows of dim floats. */
static float *padded(const float *v, size_t n, int dim)
{
	size_t ld = vec_stride(dim), d = (size_t)dim;
	float *p = xcalloc(n * ld + 1, sizeof *p);
	for (size_t i = 0; i < n; i++)
		memcpy(p + i * ld, v + i * d, d * sizeof *p);
	return p;
}

/* ---- a fixed index ---- */

struct vec_index *vec_index_new(const float *vec, size_t n, int dim, const long *ids)
{
	struct vec_index *ix = xcalloc(1, sizeof *ix);
	ix->n = n;
	ix->dim = dim;
	ix->rows = padded(vec, n, dim);
	if (ids) {
		ix->ids = xmalloc((n + 1) * sizeof *ix->ids);
		memcpy(ix->ids, ids, n * sizeof *ids);
	}
	return ix;
}

void vec_index_free(struct vec_index *ix)
{
	if (!ix)
		return;
	free(ix->rows);
	free(ix->ids);
	free(ix);
}

void vec_index_search(const struct vec_index *ix, const float *q, size_t m,
		      struct vec_topk *t)
{
	float *qp = padded(q, m, ix->dim);
	search(ix->rows, ix->n, vec_stride(ix->dim), ix->ids, 0, qp, m, t);
	free(qp);
}

/* ---- cosines ---- */

void vec_unit_rows(float *rows, size_t n, int dim)
{
	size_t ld = vec_stride(dim);
	for (size_t i = 0; i < n; i++) {
		float *r = rows + i * ld;
		v8f acc = {0};
		for (size_t k = 0; k < ld; k += 8) {
			v8f x;
			memcpy(&x, r + k, sizeof x);
			acc += x * x;
		}
		float ss = hsum(&acc);
		if (ss > 0 && isfinite(ss)) {
			float inv = 1 / sqrtf(ss);
			for (size_t k = 0; k < ld; k++)
				r[k] *= inv;
		}
	}
}
