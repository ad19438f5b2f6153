/* classify_shortlist: the top-k taxonomy entries of each item by cosine
 * similarity, by brute force over every entry vector. Entries are packed
 * once into panels of SL_NR vectors stored dimension by dimension, so the
 * inner loop multiplies one item number by SL_NR entry numbers at a time
 * (a register-blocked matrix product, SL_MR items by SL_NR entries, that
 * the compiler turns into vector FMAs); each panel is reused for every
 * item of a batch while it sits in cache. */
#ifndef LANES_CLASSIFY_SHORTLIST_H
#define LANES_CLASSIFY_SHORTLIST_H

#include <stddef.h>

#define SL_MR 6  /* items per micro-kernel call */
#define SL_NR 16 /* entries per panel */

struct sl_index {
	size_t n;       /* entries */
	int dim;
	size_t npanel;  /* ceil(n / SL_NR) */
	float *panel;   /* npanel x dim x SL_NR, padded with zero vectors */
};

/* One shortlisted entry. */
struct sl_hit {
	long entry; /* index in the taxonomy; -1 in unused slots */
	float score;
};

/* Scales v[0..dim) to unit length. Returns its former length (0: v is
 * zero and stays zero). */
double sl_normalize(float *v, int dim);

/* Packs n unit vectors (n x dim, row by row) into a new index (free with
 * sl_index_free). The caller keeps vec. */
struct sl_index *sl_index_new(const float *vec, size_t n, int dim);
void sl_index_free(struct sl_index *ix);

/* For m items (q: m x dim unit vectors, row by row) writes the k best
 * entries of item i, best first, to hits[i*k .. i*k+k) (ties: the lower
 * entry index first; slots beyond the number of entries get entry -1).
 * Pure: safe from any thread at once. */
void sl_search(const struct sl_index *ix, const float *q, size_t m, int k,
	       struct sl_hit *hits);

#endif
