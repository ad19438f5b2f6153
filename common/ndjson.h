/* ndjson: streaming reader of newline-delimited JSON (line numbers, a cap on
 * line length, blank lines skipped) and a whole-line writer that treats a
 * closed stdout as a quiet end. */
#ifndef LANES_NDJSON_H
#define LANES_NDJSON_H

#include <stdatomic.h>
#include <stddef.h>
#include <cjson/cJSON.h>

struct ndjson_reader;

enum ndjson_status {
	NDJSON_EOF = 0,     /* end of input (or stop requested) */
	NDJSON_LINE = 1,    /* a line in *text */
	NDJSON_TOOLONG = 2, /* a line over the cap was skipped; *len = its size */
	NDJSON_ERROR = -1,  /* read error; errno set */
};

/* Reads from fd; name is used in messages ("<stdin>"). Lines longer than
 * max_line bytes are skipped without being held in memory. The reader stops
 * early (NDJSON_EOF) once *stop is nonzero; stop may be NULL. */
struct ndjson_reader *ndjson_open(int fd, const char *name, size_t max_line,
				  atomic_int *stop);
void ndjson_close(struct ndjson_reader *r);
/* Next non-blank line without its '\n' (and '\r') and without a UTF-8 byte
 * order mark at its start (as jq drops one). On NDJSON_LINE, *text is
 * a malloc'd NUL-terminated copy the caller frees. *lineno is 1-based. */
enum ndjson_status ndjson_read(struct ndjson_reader *r, char **text,
			       size_t *len, long *lineno);

/* 1 when the next ndjson_read will not wait for input: a whole line is
 * buffered, the input has ended, or the fd has bytes to read now. */
int ndjson_ready(struct ndjson_reader *r);

/* Validates one line as a JSON object with json_check_object (no NUL byte,
 * valid UTF-8, JSON that every reader reads alike, an object) and parses
 * it. Returns the parsed object (caller frees with cJSON_Delete), or NULL
 * with json_check_object's message in err. */
cJSON *ndjson_parse(const char *text, size_t len, char *err, size_t errlen);

/* Output: lines buffered and written whole with write(2). */
struct ndjson_writer;
struct ndjson_writer *ndjson_writer_new(int fd);
/* Appends one line; adds '\n'. Returns 0, or -1 once the reader of the pipe
 * has gone (EPIPE) or a write failed; later calls do nothing. */
int ndjson_write(struct ndjson_writer *w, const char *line, size_t len);
int ndjson_flush(struct ndjson_writer *w);
/* Counts into *lines (any thread may read it) each line as write(2) takes
 * its last byte: lines held in the buffer, or refused by a closed output,
 * are not counted. NULL: no count (the default). */
void ndjson_writer_count(struct ndjson_writer *w, atomic_long *lines);
/* 0 ok, 1 closed by the reader (quiet end), -1 write error (errno kept). */
int ndjson_writer_state(const struct ndjson_writer *w);
int ndjson_writer_errno(const struct ndjson_writer *w);
void ndjson_writer_free(struct ndjson_writer *w);

#endif
