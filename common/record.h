/* record: edits a record's JSON text in place of re-serialising it, so that
 * fields a tool does not own pass through byte for byte, in their order
 * (numbers keep their spelling, big integers their digits). The input must
 * be a valid JSON object (as checked by ndjson_parse). */
#ifndef LANES_RECORD_H
#define LANES_RECORD_H

#include <stddef.h>
#include "util.h"

/* Finds the top-level member `key`. On success returns 1 and sets the byte
 * spans of the whole member ([*mstart,*mend): from the key's quote to the end
 * of the value) and of the value. Returns 0 when absent. Any pointer may be
 * NULL. */
int record_find(const char *json, size_t len, const char *key, size_t *mstart,
	     size_t *mend, size_t *vstart, size_t *vend);

/* The byte spans of one top-level member: key (quotes included) and value. */
struct record_member {
	size_t ks, ke, vs, ve;
};
/* A growable list of members, reused across calls; free m when done. */
struct record_members {
	struct record_member *m;
	size_t n, cap;
};
/* Lists the top-level members of the object json in order, and sets
 * *close to the index of its final '}'. Returns 0, or -1 when json is not
 * an object. */
int record_scan(const char *json, size_t len, struct record_members *ms, size_t *close);

/* Writes into out the record with `key` set to the raw JSON text val:
 * replaced where it stands, else appended at the end. out is reset first. */
void record_set(struct buf *out, const char *json, size_t len, const char *key,
	     const char *val, size_t vlen);
/* Appends to out the top-level members of the record whose keys are not in
 * keys[0..nkeys), as raw text joined by commas, without the braces: the
 * fields to copy into a derived record. One pass. */
void record_members_except(struct buf *out, const char *json, size_t len,
			const char *const *keys, size_t nkeys);
/* Writes into out the record without `key` (unchanged copy if absent). */
void record_del(struct buf *out, const char *json, size_t len, const char *key);

#endif
