/* classify_cache: the on-disk cache of taxonomy vectors, so that a rerun
 * embeds nothing it has embedded before. One file per (taxonomy file,
 * embedding model, dimension setting); each vector is keyed by the hash of
 * the text it was computed from, so a changed entry misses and is
 * re-embedded while the others hit. Written atomically (temporary file,
 * then rename).
 *
 * File layout, little-endian:
 *   magic    8 bytes  "LNSVEC01"
 *   version  u32      1
 *   dim      u32      numbers per vector
 *   count    u64      vectors
 *   mlen     u32      bytes of the model name
 *   reserved u32      0
 *   model    mlen bytes, then zero bytes up to a multiple of 8
 *   hashes   count x u64   fnv64 of each vector's text
 *   vectors  count x dim x float32 (unit length)
 * The file is exactly this long; anything else is ignored as unusable. */
#ifndef LANES_CLASSIFY_CACHE_H
#define LANES_CLASSIFY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

#define VCACHE_MAGIC "LNSVEC01"
#define VCACHE_VERSION 1

struct classify_cache {
	char *model;
	int dim;
	size_t n;
	uint64_t *hash;
	float *vec; /* n x dim */
	struct strmap *rows; /* the 8 bytes of a hash -> its first row */
};

/* The cache directory: dir when not empty, else $XDG_CACHE_HOME/lanes, else
 * $HOME/.cache/lanes. Returns a new string (caller frees), or NULL when
 * neither variable is set. */
char *classify_cache_dir(const char *dir);

/* The cache file for a taxonomy (its absolute path, so two taxonomies do
 * not share a file), a model identity and a dimension setting (0: none):
 * "<dir>/classify-<16 hex>.vec". Returns a new string (caller frees). */
char *classify_cache_path(const char *dir, const char *taxonomy_path, const char *model, int dim);

/* Reads a cache file. Returns it (free with classify_cache_free), or NULL: with
 * err "" when the file does not exist, else with the reason it is unusable
 * (bad magic, wrong size, other model) in err. model is the identity the
 * vectors must have been made with. */
struct classify_cache *classify_cache_read(const char *path, const char *model, char *err, size_t errlen);
void classify_cache_free(struct classify_cache *c);

/* The vector cached for this text hash, or NULL. */
const float *classify_cache_get(const struct classify_cache *c, uint64_t hash);

/* Writes n vectors (n x dim floats) with their hashes to path atomically,
 * creating the directory when needed. Returns 0, or -1 with the reason in
 * err (the old file, if any, is then unchanged). */
int classify_cache_write(const char *path, const char *model, int dim, size_t n,
		 const uint64_t *hash, const float *vec, char *err, size_t errlen);

#endif
