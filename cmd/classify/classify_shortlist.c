/* classify_shortlist: brute-force cosine top-k over packed entry panels.
 * The micro-kernel uses GCC/Clang vector types (8 floats) so that -O2
 * emits vector code without -march flags; on x86-64 with glibc it is also
 * built for x86-64-v3 (AVX2 + FMA) and the loader picks the best version
 * for the CPU (target_clones). */
#include "classify_shortlist.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
#if defined(__clang__)
#define SL_KERNEL_ATTR __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
/* ISO C mode turns off a*b+c contraction; the kernel wants FMAs */
#define SL_KERNEL_ATTR \
	__attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#endif
#else
#define SL_KERNEL_ATTR
#endif

double sl_normalize(float *v, int dim)
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

struct sl_index *sl_index_new(const float *vec, size_t n, int dim)
{
	struct sl_index *ix = xcalloc(1, sizeof *ix);
	ix->n = n;
	ix->dim = dim;
	ix->npanel = (n + SL_NR - 1) / SL_NR;
	size_t d = (size_t)dim;
	ix->panel = xcalloc(ix->npanel * d * SL_NR + 1, sizeof *ix->panel);
	for (size_t e = 0; e < n; e++) {
		float *p = ix->panel + (e / SL_NR) * d * SL_NR + e % SL_NR;
		const float *v = vec + e * d;
		for (size_t k = 0; k < d; k++)
			p[k * SL_NR] = v[k];
	}
	return ix;
}

void sl_index_free(struct sl_index *ix)
{
	if (!ix)
		return;
	free(ix->panel);
	free(ix);
}

/* A macro, not a function: returning a vector by value changes the ABI
 * between the two builds of the kernel. */
#define SPLAT(x) ((v8f){(x), (x), (x), (x), (x), (x), (x), (x)})

/* out[i*SL_NR + j] = dot(item i, entry j of the panel) for SL_MR items
 * (rows of q, ld floats apart) and the SL_NR entries of one panel. Twelve
 * accumulators of 8 floats stay in registers; each step loads two panel
 * vectors and broadcasts one number per item. */
SL_KERNEL_ATTR
static void kernel(const float *restrict q, size_t ld, const float *restrict panel,
		   size_t dim, float *restrict out)
{
	v8f a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0};
	v8f a30 = {0}, a31 = {0}, a40 = {0}, a41 = {0}, a50 = {0}, a51 = {0};
	const float *restrict q0 = q, *restrict q1 = q + ld, *restrict q2 = q + 2 * ld;
	const float *restrict q3 = q + 3 * ld, *restrict q4 = q + 4 * ld, *restrict q5 = q + 5 * ld;
	for (size_t k = 0; k < dim; k++) {
		v8f p0, p1, b;
		memcpy(&p0, panel + k * SL_NR, sizeof p0);
		memcpy(&p1, panel + k * SL_NR + 8, sizeof p1);
		b = SPLAT(q0[k]);
		a00 += b * p0;
		a01 += b * p1;
		b = SPLAT(q1[k]);
		a10 += b * p0;
		a11 += b * p1;
		b = SPLAT(q2[k]);
		a20 += b * p0;
		a21 += b * p1;
		b = SPLAT(q3[k]);
		a30 += b * p0;
		a31 += b * p1;
		b = SPLAT(q4[k]);
		a40 += b * p0;
		a41 += b * p1;
		b = SPLAT(q5[k]);
		a50 += b * p0;
		a51 += b * p1;
	}
	memcpy(out + 0, &a00, sizeof a00);
	memcpy(out + 8, &a01, sizeof a01);
	memcpy(out + 16, &a10, sizeof a10);
	memcpy(out + 24, &a11, sizeof a11);
	memcpy(out + 32, &a20, sizeof a20);
	memcpy(out + 40, &a21, sizeof a21);
	memcpy(out + 48, &a30, sizeof a30);
	memcpy(out + 56, &a31, sizeof a31);
	memcpy(out + 64, &a40, sizeof a40);
	memcpy(out + 72, &a41, sizeof a41);
	memcpy(out + 80, &a50, sizeof a50);
	memcpy(out + 88, &a51, sizeof a51);
}

/* Inserts (entry, score) into a row of k hits kept best first; fill is how
 * many are used. An equal score goes after the ones already there, and
 * entries arrive in index order, so ties keep the lower index first. */
static void insert(struct sl_hit *row, int k, int *fill, long entry, float score)
{
	int pos = *fill < k ? *fill : k - 1;
	if (*fill == k && !(score > row[k - 1].score))
		return;
	while (pos > 0 && score > row[pos - 1].score) {
		row[pos] = row[pos - 1];
		pos--;
	}
	row[pos].entry = entry;
	row[pos].score = score;
	if (*fill < k)
		(*fill)++;
}

void sl_search(const struct sl_index *ix, const float *q, size_t m, int k,
	       struct sl_hit *hits)
{
	size_t d = (size_t)ix->dim;
	size_t mpad = (m + SL_MR - 1) / SL_MR * SL_MR;
	float *qp = xcalloc(mpad * d + 1, sizeof *qp);
	memcpy(qp, q, m * d * sizeof *qp);
	int *fill = xcalloc(m + 1, sizeof *fill);
	float *thr = xmalloc((m + 1) * sizeof *thr);
	for (size_t i = 0; i < m; i++) {
		thr[i] = -INFINITY;
		for (int j = 0; j < k; j++)
			hits[i * (size_t)k + (size_t)j] = (struct sl_hit){-1, -INFINITY};
	}
	float out[SL_MR * SL_NR];
	for (size_t p = 0; p < ix->npanel; p++) {
		const float *panel = ix->panel + p * d * SL_NR;
		size_t base = p * SL_NR;
		size_t valid = ix->n - base < SL_NR ? ix->n - base : SL_NR;
		for (size_t b = 0; b < mpad; b += SL_MR) {
			kernel(qp + b * d, d, panel, d, out);
			for (size_t i = b; i < b + SL_MR && i < m; i++) {
				const float *s = out + (i - b) * SL_NR;
				struct sl_hit *row = hits + i * (size_t)k;
				for (size_t j = 0; j < valid; j++) {
					if (fill[i] == k && !(s[j] > thr[i]))
						continue;
					insert(row, k, &fill[i], (long)(base + j), s[j]);
					if (fill[i] == k)
						thr[i] = row[k - 1].score;
				}
			}
		}
	}
	free(qp);
	free(fill);
	free(thr);
}
