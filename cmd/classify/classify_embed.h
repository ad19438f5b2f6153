/* classify_embed: turns texts into unit vectors with the shared embedding
 * client (embedder.h: the LLM server or the offline hash embedder), and
 * builds the taxonomy's vectors from the cache plus whatever the cache
 * lacks. */
#ifndef LANES_CLASSIFY_EMBED_H
#define LANES_CLASSIFY_EMBED_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "classify_taxonomy.h"
#include "embedder.h"

/* Copies a record's own embedding into v (dim numbers, made unit length)
 * when it can be reused: embedder_has (embedder.h). Returns 1 when
 * copied, 0 when not reusable. */
int classify_embed_reuse(const struct embedder *e, const cJSON *rec, int dim, float *v);

/* The taxonomy's vectors and where they came from. */
struct classify_tax_vectors {
	float *vec;          /* n x dim unit vectors (owned) */
	long *entry;         /* n: the entry each vector stands for (owned) */
	size_t n;            /* vectors: the entries' texts, then their examples */
	int dim;
	size_t from_cache;   /* vectors that were in the cache */
	size_t embedded;     /* vectors embedded now */
	long requests;       /* embedding requests sent */
	char *cache_path;    /* NULL when there is no cache directory */
};

/* Builds the vectors of every entry of t (and, when examples is set, of
 * each of its examples that is not blank nor a repeat): reads the cache
 * file of (t, e), embeds the texts it lacks (workers requests at once),
 * writes the cache back when it changed. Cache trouble is logged and only
 * costs time. Returns 0, or -1 with a message in err when embedding
 * failed or a stop signal came (what was embedded before is still saved
 * for the next run). Free out with classify_embed_taxonomy_free. */
int classify_embed_taxonomy(const struct taxonomy *t, const struct embedder *e, int examples,
		   const char *cache_dir, int workers, struct classify_tax_vectors *out, char *err,
		   size_t errlen);
void classify_embed_taxonomy_free(struct classify_tax_vectors *v);

#endif
