/* embed_cache: a chained hash table of texts and their vectors, with a
 * FIFO of finished entries for eviction and reference counts so that an
 * entry someone waits on is never freed under them. One lock (pool.h)
 * guards everything; its condition wakes waiters when an entry finishes. */
#include "embed_cache.h"
#include "pool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096u
#define ENTRY_OVERHEAD 96 /* bytes counted per entry besides text and vector */

enum entry_state { PENDING, READY, FAILED };

struct embed_entry {
	uint64_t h;
	char *text;
	size_t len;
	float *vec;
	int dim;
	enum entry_state state;
	int refs;               /* the owner while pending, plus waiters */
	int linked;             /* in the table (failed entries leave it) */
	struct embedder_err err;
	struct embed_entry *next;          /* bucket chain */
	struct embed_entry *older, *newer; /* FIFO of ready entries */
};

struct embed_cache {
	struct lock *l;
	struct embed_entry *bucket[NBUCKETS];
	struct embed_entry *oldest, *newest;
	size_t max_bytes, bytes;
	struct embed_cache_stats st;
};

static size_t entry_bytes(const struct embed_entry *e)
{
	return e->len + (size_t)e->dim * sizeof(float) + ENTRY_OVERHEAD;
}

struct embed_cache *embed_cache_new(size_t max_bytes)
{
	struct embed_cache *c = xcalloc(1, sizeof *c);
	c->l = lock_new();
	c->max_bytes = max_bytes;
	return c;
}

static void entry_free(struct embed_entry *e)
{
	free(e->text);
	free(e->vec);
	free(e);
}

void embed_cache_free(struct embed_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct embed_entry *e = c->bucket[i], *n; e; e = n) {
			n = e->next;
			entry_free(e);
		}
	lock_free(c->l);
	free(c);
}

static void unlink_entry(struct embed_cache *c, struct embed_entry *e)
{
	struct embed_entry **p = &c->bucket[e->h % NBUCKETS];
	while (*p && *p != e)
		p = &(*p)->next;
	if (*p)
		*p = e->next;
	e->linked = 0;
	c->st.entries--;
	c->bytes -= entry_bytes(e);
	if (e->state == READY) {
		if (e->older)
			e->older->newer = e->newer;
		else
			c->oldest = e->newer;
		if (e->newer)
			e->newer->older = e->older;
		else
			c->newest = e->older;
		e->older = e->newer = NULL;
	}
}

/* Drops the oldest finished entries nobody waits on until within bounds;
 * pending entries stay (they are bounded by the records in flight). */
static void evict(struct embed_cache *c)
{
	struct embed_entry *e = c->oldest;
	while (c->bytes > c->max_bytes && e) {
		struct embed_entry *n = e->newer;
		if (e->refs == 0) {
			unlink_entry(c, e);
			entry_free(e);
			c->st.evicted++;
		}
		e = n;
	}
}

enum embed_claim embed_cache_claim(struct embed_cache *c, const char *text, size_t len,
				   uint64_t h, struct embed_entry **ep, float **vec, int *dim)
{
	lock_take(c->l);
	struct embed_entry *e = c->bucket[h % NBUCKETS];
	while (e && !(e->h == h && e->len == len && !memcmp(e->text, text, len)))
		e = e->next;
	enum embed_claim res;
	if (e && e->state == READY) {
		*vec = xmalloc((size_t)e->dim * sizeof **vec);
		memcpy(*vec, e->vec, (size_t)e->dim * sizeof **vec);
		*dim = e->dim;
		/* a hit counts as a fresh use: move it to the young end */
		if (e != c->newest) {
			if (e->older)
				e->older->newer = e->newer;
			else
				c->oldest = e->newer;
			e->newer->older = e->older;
			e->older = c->newest;
			e->newer = NULL;
			c->newest->newer = e;
			c->newest = e;
		}
		c->st.hits++;
		res = EMBED_HIT;
	} else if (e) {
		e->refs++;
		c->st.waits++;
		res = EMBED_WAIT;
	} else {
		e = xcalloc(1, sizeof *e);
		e->h = h;
		e->text = xstrndup(text, len);
		e->len = len;
		e->state = PENDING;
		e->refs = 1;
		e->linked = 1;
		e->next = c->bucket[h % NBUCKETS];
		c->bucket[h % NBUCKETS] = e;
		c->st.entries++;
		c->bytes += entry_bytes(e);
		c->st.misses++;
		res = EMBED_MINE;
	}
	*ep = e;
	lock_give(c->l);
	return res;
}

/* Drops one reference; frees an entry that left the table when the last
 * one goes. Called with the lock held. */
static void release(struct embed_entry *e)
{
	if (--e->refs == 0 && !e->linked)
		entry_free(e);
}

void embed_cache_fill(struct embed_cache *c, struct embed_entry *e, const float *vec, int dim)
{
	float *copy = xmalloc((size_t)dim * sizeof *copy);
	memcpy(copy, vec, (size_t)dim * sizeof *copy);
	lock_take(c->l);
	c->bytes -= entry_bytes(e);
	e->vec = copy;
	e->dim = dim;
	e->state = READY;
	c->bytes += entry_bytes(e);
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	release(e);
	evict(c);
	lock_broadcast(c->l);
	lock_give(c->l);
}

void embed_cache_fail(struct embed_cache *c, struct embed_entry *e, const struct embedder_err *err)
{
	lock_take(c->l);
	e->err = *err;
	unlink_entry(c, e);
	e->state = FAILED;
	release(e);
	lock_broadcast(c->l);
	lock_give(c->l);
}

int embed_cache_wait(struct embed_cache *c, struct embed_entry *e, float **vec, int *dim,
		     struct embedder_err *err)
{
	lock_take(c->l);
	while (e->state == PENDING)
		lock_wait(c->l);
	int rc = 0;
	if (e->state == READY) {
		*vec = xmalloc((size_t)e->dim * sizeof **vec);
		memcpy(*vec, e->vec, (size_t)e->dim * sizeof **vec);
		*dim = e->dim;
	} else {
		*err = e->err;
		rc = -1;
	}
	release(e);
	/* the entry may now be evictable */
	evict(c);
	lock_give(c->l);
	return rc;
}

void embed_cache_stats(struct embed_cache *c, struct embed_cache_stats *s)
{
	lock_take(c->l);
	*s = c->st;
	s->bytes = c->bytes;
	lock_give(c->l);
}
