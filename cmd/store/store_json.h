/* store_json: a one-pass JSON checker for record lines that lists the
 * members of an object on its text and reads the few values store needs
 * (strings unescaped, integers, vectors as float32) without building a
 * tree. It accepts exactly what ndjson_parse (cJSON) accepts and words its
 * refusals the same way, so `store put` judges lines as the other tools do,
 * several times faster on long number arrays. */
#ifndef LANES_STORE_JSON_H
#define LANES_STORE_JSON_H

#include <stddef.h>

#include "util.h"

enum store_json_type { SJ_STRING, SJ_NUMBER, SJ_OBJECT, SJ_ARRAY, SJ_TRUE, SJ_FALSE, SJ_NULL };

/* One member of an object: the key between its quotes (raw, escapes as
 * written) and the value's text. */
struct store_json_member {
	const char *key;
	size_t key_len;
	const char *val;
	size_t val_len;
	enum store_json_type type;
	int key_escaped; /* the key has a backslash */
};

/* A growable list, reused from record to record (store_json_list_free frees). */
struct store_json_list {
	struct store_json_member *m;
	size_t n, cap;
};
void store_json_list_free(struct store_json_list *l);

/* Checks that s[0..n) is one JSON object (and only blanks after it), with
 * no NUL byte and valid UTF-8, and lists its members in top. Returns 0, or
 * -1 with ndjson_parse's words in err ("not JSON (error near column N)",
 * "not a JSON object", "invalid UTF-8 at column N", "NUL byte at column N",
 * "text after the JSON value at column N"). */
int store_json_check_object(const char *s, size_t n, struct store_json_list *top, char *err,
		    size_t errlen);

/* Lists the members of an object whose text was checked (a member value of
 * type SJ_OBJECT). */
void store_json_members(const char *s, size_t n, struct store_json_list *out);

/* The first member named key (compared unescaped), or NULL. */
const struct store_json_member *store_json_find(const struct store_json_list *l, const char *key);

/* Appends the unescaped text of a string value (with its quotes) to out,
 * without a terminating NUL in the count. */
void store_json_unescape(const char *val, size_t len, struct buf *out);

/* Reads an array of numbers as float32 into *out (allocated, the caller
 * frees) and its length into *dim. Returns 0; or -1 with err naming the
 * first element that is not a number or does not fit a float32, or an
 * array that is empty (*out NULL). */
int store_json_floats(const char *val, size_t len, float **out, size_t *dim, char *err,
	      size_t errlen);

/* A number value that is an integer within +-2^53. Returns 0 and sets
 * *out, or -1. */
int store_json_integer(const char *val, size_t len, long long *out);

#endif
