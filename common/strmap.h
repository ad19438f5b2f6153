/* strmap: the one hash table of lanes: a map from strings, or any bytes,
 * to non-negative longs (open addressing, FNV-1a hashes, keys copied).
 * Index an array with it to map keys to records. One writer at a time;
 * any number of threads may read a map nobody writes. */
#ifndef LANES_STRMAP_H
#define LANES_STRMAP_H

#include <stddef.h>

struct strmap;

/* A new empty map; free with strmap_free. */
struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);
/* The value of key[0..len), or -1 when absent. */
long strmap_getn(const struct strmap *m, const void *key, size_t len);
long strmap_get(const struct strmap *m, const char *key);
/* Sets key to value (>= 0), adding a copy of the key when absent. */
void strmap_put(struct strmap *m, const char *key, long value);
/* The same for the len bytes at key (they may hold NUL bytes). */
void strmap_putn(struct strmap *m, const void *key, size_t len, long value);
/* Keys in the map. */
size_t strmap_count(const struct strmap *m);

#endif
