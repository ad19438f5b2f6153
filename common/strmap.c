/* strmap: string -> long, open addressing with linear probing; the table
 * doubles when it is half full, so a probe stays short. */
#include "strmap.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char *key;   /* NULL: empty */
	size_t len;
	uint64_t h;
	long value;
};

struct strmap {
	struct slot *s;
	size_t cap, n;   /* cap: a power of two */
};

struct strmap *strmap_new(void)
{
	struct strmap *m = xcalloc(1, sizeof *m);
	m->cap = 16;
	m->s = xcalloc(m->cap, sizeof *m->s);
	return m;
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->s[i].key);
	free(m->s);
	free(m);
}

static struct slot *find(const struct strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);
	for (;;) {
		struct slot *s = &m->s[i];
		if (!s->key || (s->h == h && s->len == len && !memcmp(s->key, key, len)))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

long strmap_getn(const struct strmap *m, const void *key, size_t len)
{
	const struct slot *s = find(m, key, len, fnv64(FNV64_INIT, key, len));
	return s->key ? s->value : -1;
}

long strmap_get(const struct strmap *m, const char *key)
{
	return strmap_getn(m, key, strlen(key));
}

static void grow(struct strmap *m)
{
	struct slot *old = m->s;
	size_t oldcap = m->cap;
	m->cap *= 2;
	m->s = xcalloc(m->cap, sizeof *m->s);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			*find(m, old[i].key, old[i].len, old[i].h) = old[i];
	free(old);
}

void strmap_put(struct strmap *m, const char *key, long value)
{
	strmap_putn(m, key, strlen(key), value);
}

void strmap_putn(struct strmap *m, const void *key, size_t len, long value)
{
	uint64_t h = fnv64(FNV64_INIT, key, len);
	struct slot *s = find(m, key, len, h);
	if (!s->key) {
		if (2 * (m->n + 1) > m->cap) {
			grow(m);
			s = find(m, key, len, h);
		}
		s->key = xmalloc(len + 1);
		memcpy(s->key, key, len);
		s->key[len] = '\0';
		s->len = len;
		s->h = h;
		m->n++;
	}
	s->value = value;
}

size_t strmap_count(const struct strmap *m)
{
	return m->n;
}
