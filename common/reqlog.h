/* reqlog: the request log (llm.log, llm.log_file): one NDJSON line per
 * model request a tool sends (record ids, stage, model, rendered prompt,
 * raw answer, HTTP status, attempt, latency, tokens), and one per answer
 * a tool judged invalid. Tools never open the store: they append to a
 * file, which `store log --add` moves into the store's log table
 * (ingest.sh does it after each step). Each line goes out with one
 * write(2) on a file opened O_APPEND, so that the tools of one pipeline may
 * share the file. Safe from any thread. */
#ifndef LANES_REQLOG_H
#define LANES_REQLOG_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "tunables.h"
#include "util.h"

enum reqlog_mode {
	REQLOG_OFF,    /* nothing written */
	REQLOG_ERRORS, /* failed requests and invalid answers whole; the others
			* as one short line (ids, status, latency, tokens) */
	REQLOG_ALL,    /* every request whole */
};

/* The longest answer a failed record keeps in errors.<stage>.answer, and
 * the longest text of one log entry's field, in bytes; longer ones are
 * cut (on a code point) and said so ("answer_cut": true). */
#define REQLOG_TEXT_MAX 65536

/* One request, or one answer judged by the tool. Strings may be NULL. */
struct reqlog_entry {
	const char *kind;            /* "request" or "answer" */
	const char *stage;           /* the tool: mine, embed, classify, consolidate */
	const char *model;
	const char *server;          /* request: the server it went to (its URL,
				      * a password hidden); NULL: not said */
	const char *const *ids;      /* the records the request was for */
	size_t nids;
	const char *system, *prompt; /* chat: the rendered messages */
	const char *feedback;        /* chat: the correction fed back, if any */
	const char *const *texts;    /* embeddings: the inputs (ntexts) */
	size_t ntexts;
	int attempt;                 /* 1-based; 0 for an answer entry */
	int http_status;             /* 0: none (no answer, a transport error) */
	double latency_ms;
	const char *code;            /* NULL or "": the request went through */
	const char *message;
	const char *answer;          /* the model's text, else the raw body */
	size_t answer_len;
	int vectors, dim;            /* embeddings answered */
	long prompt_tokens, completion_tokens; /* -1: not said by the server */
};

struct reqlog;

/* Opens the log the tunables ask for (llm.log, llm.log_file). Returns 0
 * with *out NULL when llm.log is off, 0 with a log, or -1 with a message
 * in err (llm.log on without llm.log_file, a file that cannot be opened).
 * tool names the lines' "tool". */
int reqlog_open(const struct tunables *t, const char *tool, struct reqlog **out, char *err,
		size_t errlen);
enum reqlog_mode reqlog_mode(const struct reqlog *l);
/* Writes e (a NULL log writes nothing). A write that fails is said once
 * on stderr and the log is then off: the records go on. */
void reqlog_write(struct reqlog *l, const struct reqlog_entry *e);
/* The file's name, as given. */
const char *reqlog_path(const struct reqlog *l);
/* Entries written, and write failures (the log went off). */
long reqlog_count(const struct reqlog *l);
/* The "id" string of a record (NULL when it has none), to name it in the
 * log. */
const char *reqlog_id(const cJSON *rec);
/* Closes the file. NULL ok. */
void reqlog_close(struct reqlog *l);

/* A copy of s[0..n) (the caller frees) cut at max bytes on a code point
 * (*cut set to 1 when cut, may be NULL), bad UTF-8 replaced by U+FFFD: a
 * raw answer, which may hold anything, made fit for a record. */
char *reqlog_clean_text(const char *s, size_t n, size_t max, int *cut);
/* Appends reqlog_clean_text's text as a JSON string. */
void reqlog_json_text(struct buf *b, const char *s, size_t n, size_t max, int *cut);

#endif
