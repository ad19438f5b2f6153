/* vec: exact nearest-neighbour search over float32 vectors. Scores are dot
 * products of query vectors with rows (cosine similarity when both are unit
 * length); for each query the k best rows, or the k best ids when several
 * rows share an id (an id's score is then the best of its rows), are kept
 * best first. One register-blocked kernel does every search: classify's
 * shortlist over a taxonomy copied once into an index, and `store similar`
 * over stored vectors that each worker streams from its slice of the
 * database in blocks (vec_search_rows into its own top k, merged at the
 * end), so that memory stays bounded by the blocks, whatever the number
 * of rows.
 *
 * Rows are stored with a stride of vec_stride(dim) floats (dim rounded up
 * to a multiple of 8) whose padding is zero, so that the kernel never
 * handles a ragged end. */
#ifndef LANES_VEC_H
#define LANES_VEC_H

#include <stddef.h>

/* Floats from one row to the next: dim rounded up to a multiple of 8. */
size_t vec_stride(int dim);

/* The cosine of a[0..dim) and b[0..dim), summed in double: 1 when both
 * are zero, 0 when one alone is. */
double vec_cosine(const float *a, const float *b, int dim);

/* Scales v[0..dim) to unit length. Returns its former length (0: v is
 * zero and stays zero). */
double vec_normalize(float *v, int dim);

/* One kept row or id. */
struct vec_hit {
	long id;     /* -1 in unused slots */
	float score;
};

/* The k best hits of m queries. Order: higher score first, equal scores
 * by lower id; an id is kept once, with its best score; NaN scores are
 * never kept. */
struct vec_topk {
	size_t m;
	int k;
	struct vec_hit *hit; /* m x k, query i's at hit[i*k ..], best first */
	int *fill;           /* hits used per query */
};

/* Sets t up empty for m queries of k hits (k >= 1); free with
 * vec_topk_free. */
void vec_topk_init(struct vec_topk *t, size_t m, int k);
void vec_topk_free(struct vec_topk *t);
/* Offers one hit to query i. */
void vec_topk_put(struct vec_topk *t, size_t i, long id, float score);
/* Offers every hit of from to into (same m and k): into becomes the top k
 * of both. */
void vec_topk_merge(struct vec_topk *into, const struct vec_topk *from);

/* Scores n rows (rows[i*vec_stride(dim) ..], zero padded) against m
 * queries (q, same layout) and offers each to t: row i as ids[i], or as
 * first + i when ids is NULL. Call it block after block to stream rows;
 * single-threaded: each thread keeps its own t (merged with
 * vec_topk_merge). */
void vec_search_rows(const float *rows, size_t n, int dim, const long *ids, long first,
		     const float *q, size_t m, struct vec_topk *t);

/* A fixed set of rows searched many times (classify's taxonomy). */
struct vec_index {
	size_t n;
	int dim;
	float *rows;   /* n x vec_stride(dim), zero padded */
	long *ids;     /* n ids, or NULL: row i is id i */
};

/* Copies n rows of dim floats (vec: row after row, no padding) into a new
 * index. ids (n of them, copied) say which id each row stands for, NULL
 * for id = row. Free with vec_index_free. */
struct vec_index *vec_index_new(const float *vec, size_t n, int dim, const long *ids);
void vec_index_free(struct vec_index *ix);
/* Offers every row of ix to t for m queries (q: m x dim floats, row after
 * row, no padding). Pure: any number of threads may search one index. */
void vec_index_search(const struct vec_index *ix, const float *q, size_t m,
		      struct vec_topk *t);

/* Scales each of n rows (rows[i*vec_stride(dim) ..], zero padded) to unit
 * length, so that their scores are cosines; a zero row stays zero. */
void vec_unit_rows(float *rows, size_t n, int dim);

#endif
