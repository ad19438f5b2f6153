/* util: allocation wrappers, growable byte buffers, time, small parsers.
 * Out of memory ends the process with a message (sbase eprintf style), so
 * callers never check these for NULL. */
#ifndef LANES_UTIL_H
#define LANES_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; p is always NUL terminated when len > 0 or after
 * any append. buf_free leaves it empty and reusable. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* Appends the shortest decimal text that reads back (strtof) as the same
 * float32: the one spelling of a vector's numbers in what lanes writes
 * (embed's output, store's export, dump and reuse). */
void buf_put_float(struct buf *b, float f);
/* Appends the shortest text (%.15g to %.17g) that reads back (strtod) as
 * the same double. */
void buf_put_double(struct buf *b, double x);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *buf_steal(struct buf *b, size_t *len);

/* Monotonic milliseconds and microseconds, wall-clock seconds. */
double now_ms(void);
uint64_t now_us(void);
double wall_time(void);
/* Formats t (seconds since the epoch) as 2026-11-22T09:13:25Z into out. */
void utc_stamp(double t, char out[32]);
void sleep_ms(double ms);

/* Strict number parsers: the whole string must be a number in range.
 * Return 0 on success, -1 (and *out untouched) otherwise. */
int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double *out);

/* Checks that s[0..n) is valid UTF-8 (no overlongs, no surrogates).
 * Returns -1 when valid, else the byte offset of the first bad byte. */
long utf8_check(const char *s, size_t n);
/* The one UTF-8 decoder: decodes the code point at s[0..n) into *cp and
 * returns its length in bytes (1 to 4), or 0 when s does not start with a
 * complete, shortest-form code point (surrogates and values over U+10FFFF
 * are invalid). */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Writes the UTF-8 form of cp (at most U+10FFFF) into out; returns its
 * length in bytes. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* Largest k <= n such that s[0..k) does not end inside a code point. */
size_t utf8_floor(const char *s, size_t n);

/* 64-bit FNV-1a over n bytes, continuing from h (start with FNV64_INIT). */
#define FNV64_INIT 0xcbf29ce484222325ULL
uint64_t fnv64(uint64_t h, const void *data, size_t n);

/* Reads a whole file; returns NULL and sets errno on failure. */
char *read_file(const char *path, size_t *len);

/* A copy of url (caller frees) with the password of its user info, if
 * any, replaced by "<redacted>": scheme://user:<redacted>@host/..., and
 * so the value of each password=... of its query (libpq's URLs). Other
 * strings come back unchanged. Never fails. */
char *redact_url(const char *url);

#endif
