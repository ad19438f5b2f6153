/* embed_cache: the run's memory of texts already embedded, shared by all
 * workers, so that identical texts are sent once per run, within a batch
 * and across batches, even while the first copy is still on its way.
 * Keyed by the text's FNV-1a hash plus a full comparison of the text;
 * bounded in bytes (oldest finished entries go first); thread safe. */
#ifndef LANES_EMBED_CACHE_H
#define LANES_EMBED_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "embedder.h"

struct embed_cache;
struct embed_entry;

enum embed_claim {
	EMBED_HIT,  /* the vector was copied out */
	EMBED_MINE, /* new: the caller embeds it and publishes the result */
	EMBED_WAIT, /* another call (or this one) is embedding it: wait */
};

struct embed_cache_stats {
	long hits;    /* texts found finished in the cache */
	long waits;   /* texts found on their way (duplicates in flight) */
	long misses;  /* texts the caller had to embed */
	long evicted; /* finished entries dropped to stay within the bound */
	long entries;
	size_t bytes;
};

/* Creates an empty cache holding at most about max_bytes of texts and
 * vectors. Never fails. */
struct embed_cache *embed_cache_new(size_t max_bytes);
/* Frees the cache; no entry may still be pending or waited on. */
void embed_cache_free(struct embed_cache *c);

/* Looks up text[0..len) whose fnv64 is h.
 * EMBED_HIT: *vec gets a copy of the vector (the caller frees it), *dim
 * its size. EMBED_MINE: *e is a new pending entry the caller must finish
 * with embed_cache_fill or embed_cache_fail. EMBED_WAIT: *e is pending;
 * the caller must call embed_cache_wait(e) once, after publishing its own
 * EMBED_MINE entries (so that no two callers wait on each other). */
enum embed_claim embed_cache_claim(struct embed_cache *c, const char *text, size_t len,
				   uint64_t h, struct embed_entry **e, float **vec, int *dim);
/* Publishes the vector (copied) of an entry claimed EMBED_MINE. */
void embed_cache_fill(struct embed_cache *c, struct embed_entry *e, const float *vec, int dim);
/* Publishes the failure of an entry claimed EMBED_MINE: its waiters get the
 * error and the text leaves the cache (a later record tries again). */
void embed_cache_fail(struct embed_cache *c, struct embed_entry *e, const struct embedder_err *err);
/* Waits for a pending entry. Returns 0 with a copy of the vector in *vec
 * (the caller frees it) and *dim, or -1 with the owner's error in *err. */
int embed_cache_wait(struct embed_cache *c, struct embed_entry *e, float **vec, int *dim,
		     struct embedder_err *err);

void embed_cache_stats(struct embed_cache *c, struct embed_cache_stats *s);

#endif
