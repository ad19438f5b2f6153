/* filter: the NDJSON-in, NDJSON-out skeleton of every tool. The reader
 * (caller's thread) numbers lines, counts them read and groups them into
 * jobs; workers parse and process them and count them answered; the writer
 * emits results in input order, reports rejected lines, and counts the
 * lines written as write(2) takes them. */
#ifndef LANES_FILTER_H
#define LANES_FILTER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "app.h"
#include "util.h"

enum rec_outcome {
	REC_OK,       /* processed; output in out */
	REC_SKIPPED,  /* nothing to do (already done); output in out */
	REC_FAILED,   /* came out with an "errors" entry */
	REC_REJECTED, /* not a JSON object: reported, not passed on */
	REC_NONE,     /* counted by nobody (e.g. a document read from a file that emits nothing) */
};

struct rec {
	long lineno;         /* 1-based input line, 0 when not from a line */
	char *line;          /* the input text (owned) */
	size_t len;
	cJSON *json;         /* parsed input (owned), NULL when rejected */
	char *reject;        /* why the line was rejected (owned) */
	struct buf out;      /* output lines, each ending in '\n' */
	enum rec_outcome outcome;
	int retries;         /* requests repeated for this record */
	char *log;           /* why it failed, logged by the writer in input
			      * order as "id \"<id>\": <log>", or "<where>:<line>: <log>"
			      * when the record has no id (owned) */
	void *extra;         /* the tool's own data; freed by the tool */
};

struct job {
	size_t n;
	struct rec *recs;
	size_t bytes; /* of its input lines, counted by filter_read_fd */
};

/* Processes every record of a job whose outcome is not REC_REJECTED; sets
 * each outcome and output. worker: 0..workers-1. */
typedef void (*filter_fn)(struct job *job, int worker, void *ud);
/* Optional, in the writer thread before a record is written; it may change
 * r->out, and r->outcome among REC_OK, REC_SKIPPED and REC_FAILED (the
 * record moves to that counter). */
typedef void (*filter_emitted_fn)(struct rec *r, void *ud);

struct filter;
/* Optional, in the writer thread when nothing is ready to write (after
 * stdout is flushed): a good moment to commit a batch. Also called once
 * more by filter_finish, in the caller's thread, after the last record is
 * emitted. */
typedef void (*filter_idle_fn)(void *ud);

/* Jobs hold a->batch records (1 for most tools; embed and classify batch
 * requests), app_inflight_jobs(a) of them in flight at most. emitted and
 * idle may be NULL. */
struct filter *filter_new(struct app *a, filter_fn fn,
			  filter_emitted_fn emitted, filter_idle_fn idle,
			  void *ud);
/* With batch > 1: when eager, filter_read_fd sends a part-filled job on
 * as soon as the next read would wait for input, so that records are not
 * held back by a slow input (off by default). */
void filter_set_eager(struct filter *f, int eager);
/* When raw, the workers leave the lines unparsed (r->json stays NULL): the
 * filter_fn checks each line itself, as ndjson_parse would, and marks one
 * that is not a JSON object REC_REJECTED with r->reject set (for a tool
 * with a faster special-purpose parser). Off by default. */
void filter_set_raw(struct filter *f, int raw);
/* Reads NDJSON from fd until EOF or a stop signal. name: "<stdin>". */
void filter_read_fd(struct filter *f, int fd, const char *name);
/* Submits a job made by the caller (records need no line); its records
 * count as read, but those whose outcome is REC_NONE. */
void filter_submit(struct filter *f, struct job *job);
/* Caps the bytes of input lines in flight (0: no cap, the default) beside
 * the records cap: filter_read_fd waits before a job that would pass it,
 * unless nothing is in flight (a job always goes). */
void filter_set_max_bytes(struct filter *f, size_t bytes);
/* Jobs submitted and not yet emitted (0: the writer has caught up with the
 * input). Safe from any thread. */
size_t filter_inflight(struct filter *f);
/* Drains: waits until every submitted record is emitted, makes the last
 * idle call (in the caller's thread), flushes stdout, and frees f. The
 * counts are in the app's st; how the output ended goes to its
 * output_closed and write_errno. The tool then does its own last work and
 * ends with app_finish, which prints the summary. */
void filter_finish(struct filter *f);

/* Helpers for filter_fn. */
/* Appends a line (without '\n') to r->out. */
void rec_emit(struct rec *r, const char *line, size_t len);
/* Emits the input unchanged. */
void rec_pass(struct rec *r);
/* Emits the input with errors.<stage> = {code, message, attempts} added
 * (other stages' errors kept), marks the record failed, and has the writer
 * log "<stdin>:<line>: <stage>: <message>" (the first FILTER_LOG_MAX of a
 * run; the summary counts them all). */
#define FILTER_LOG_MAX 20
void rec_fail(struct rec *r, const char *stage, const char *code,
	      const char *message, int attempts);
/* As rec_fail, with the model's last answer kept in errors.<stage>.answer
 * (at most REQLOG_TEXT_MAX bytes, then "answer_cut": true), so that an
 * answer that failed can always be read. */
void rec_fail_answer(struct rec *r, const char *stage, const char *code,
		     const char *message, int attempts, const char *answer);
/* Writes into out the record text with errors.<stage> set, or removed when
 * code is NULL (the "errors" member goes when it becomes empty). */
void rec_set_error(struct buf *out, const char *line, size_t len,
		   const char *stage, const char *code, const char *message,
		   int attempts);

#endif
