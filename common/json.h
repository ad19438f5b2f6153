/* json: the one JSON text scanner of lanes, beside cJSON. It checks a text
 * in one pass as cJSON's parser reads it, and refuses what cJSON would read
 * in a way other JSON readers (jq, Python) do not: control bytes or a byte
 * order mark between tokens, \u0000 and invalid \u escapes, and duplicate
 * member names (compared unescaped). On a text it accepted, cJSON builds
 * the same tree. It then lists and finds members by their unescaped names
 * without building a tree, and reads strings, integers and float vectors.
 * Every tool reads its input lines (ndjson_parse), store its records and
 * mine its model's answers through it, so a line means the same everywhere
 * (record contract, "Streams"). */
#ifndef LANES_JSON_H
#define LANES_JSON_H

#include <stddef.h>

#include "util.h"

enum json_type { JSON_STRING, JSON_NUMBER, JSON_OBJECT, JSON_ARRAY, JSON_TRUE, JSON_FALSE,
		 JSON_NULL };

/* One member of an object: the key between its quotes (raw, escapes as
 * written) and the value's text. */
struct json_member {
	const char *key;
	size_t key_len;
	const char *val;
	size_t val_len;
	enum json_type type;
	int key_escaped; /* the key has a backslash */
};

/* A growable list of members, reused from text to text (json_list_free
 * frees; the scratch is the checker's, for duplicate names). */
struct json_list {
	struct json_member *m;
	size_t n, cap;
	struct json_key *keys;
	size_t nkeys, kcap;
};
void json_list_free(struct json_list *l);

/* Makes cJSON allocate with the project's allocator (xmalloc: out of memory
 * ends the process with a message). Called once by app_init, before any
 * thread starts. */
void json_init(void);

/* Checks the JSON value at the start of s[0..n) (blanks before it are
 * skipped) and sets *end to the index just past it. Lists the members of a
 * top-level object in top (may be NULL). Returns the value's type, or -1
 * with *end at the offending byte and the reason in err: "not JSON (error
 * near column N)", or one of the refusals above by name. */
int json_scan(const char *s, size_t n, size_t *end, struct json_list *top, char *err,
	      size_t errlen);

/* Checks that s[0..n) is one JSON object (and only spaces, tabs and CRs
 * after it), with no NUL byte and valid UTF-8, and lists its members in
 * top. Returns 0, or -1 with the reason in err ("not a JSON object", "NUL
 * byte at column N", "invalid UTF-8 at column N", "text after the JSON
 * value at column N", or json_scan's). */
int json_check_object(const char *s, size_t n, struct json_list *top, char *err,
		      size_t errlen);

/* Lists the members of an object whose text was checked. */
void json_members(const char *s, size_t n, struct json_list *out);

/* Steps through the members of a checked object's text: *pos starts at 0;
 * returns 1 and sets *m to the next member, or 0 at the end with *pos at
 * the object's closing '}' (n when s is not an object). */
int json_next_member(const char *s, size_t n, size_t *pos, struct json_member *m);

/* 1 when the member's key, unescaped, is key. */
int json_key_is(const struct json_member *m, const char *key);

/* The first member named key (compared unescaped), or NULL. */
const struct json_member *json_find(const struct json_list *l, const char *key);

/* Appends the unescaped text of a checked string value (with its quotes)
 * to out, without a terminating NUL in the count. */
void json_unescape(const char *val, size_t len, struct buf *out);

/* Appends the checked JSON text s[0..n) to out without the blanks between
 * tokens. */
void json_minify(struct buf *out, const char *s, size_t n);

/* Reads an array of numbers as float32 into *out (allocated, the caller
 * frees) and its length into *dim. Returns 0; or -1 with err naming the
 * first element that is not a number or does not fit a float32, or an
 * array that is empty (*out NULL). */
int json_floats(const char *val, size_t len, float **out, size_t *dim, char *err,
		size_t errlen);

/* A number value that is an integer within +-2^53. Returns 0 and sets
 * *out, or -1. */
int json_integer(const char *val, size_t len, long long *out);

#endif
