/* llmd.h: shared declarations of llmd, the LLM test double (an HTTP/1.1
 * server speaking the Ollama and OpenAI wire formats, see README.md).
 * Modules: llmd.c (flags, listener, shutdown), llmd_http.c (connections,
 * request parsing, response writers), llmd_state.c (runtime config, lanes,
 * faults, counters), llmd_answer.c (deterministic answers), llmd_api.c
 * (routing, control endpoints, shared model-request path), llmd_ollama.c and
 * llmd_openai.c (the two wire formats). */
#ifndef LLMD_H
#define LLMD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util.h"

/* ---- faults ---- */
enum fault {
	FAULT_NONE,
	FAULT_429,
	FAULT_500,
	FAULT_503,
	FAULT_DROP,
	FAULT_TRUNCATE,
	FAULT_BADJSON,
	FAULT_SLOW,
	FAULT_OTHER, /* --fail-all with a status that is not a fault kind */
	FAULT_COUNT
};
#define FAULT_ALL_MASK 0xfeu /* bits 1..7: the kinds --faults may name */
#define FAIL_ALL_DROP (-1)

/* Name of a fault kind as used by --faults and the stats ("429", "drop"). */
const char *fault_name(enum fault f);
/* Parses a comma list of fault names ("all" allowed, "" = none) into a bit
 * mask; returns -1 and fills err on an unknown name. */
int fault_parse_list(const char *list, unsigned *mask, struct buf *err);
/* Parses --fail-all: an HTTP status 100..599, "drop", or "0"/"none"/"" for
 * off. Returns -1 when invalid. */
int fail_all_parse(const char *s, int *out);

/* ---- configuration: fixed part (set once by main) and runtime part ---- */
struct llmd_model {
	char *name;      /* as given on the command line */
	char *full;      /* with ":latest" appended when it has no tag */
	int embed_only;  /* the name contains "embed": no chat/generate */
	char digest[65]; /* deterministic sha256-like hex */
	long long size;
};

struct llmd_tunables {
	long lanes;
	long queue_max;
	double latency_ms, per_item_ms, jitter_ms, slow_ms;
	double fault_rate;
	unsigned faults; /* bit (1 << enum fault) per enabled kind */
	int fail_all;    /* 0 off, an HTTP status, or FAIL_ALL_DROP */
	long retry_after;
	int retry_after_date;
	long max_batch; /* 0: no limit of its own */
	/* llama-server with --parallel > 1 and no unified KV cache: what is
	 * computed beside other sequences drifts (README.md "Batch drift") */
	double batch_noise; /* size of the drift of a vector, 0 = none */
	double batch_flip;  /* share of chat answers that change, 0 = none */
};

enum llmd_api { API_BOTH, API_OLLAMA, API_OPENAI };

struct llmd_fixed {
	enum llmd_api api;   /* which wire formats it serves (--api) */
	char **aliases;      /* --aliases: more names of the first model */
	size_t naliases;
	long ctx;            /* --ctx: llama-server's tokens per slot, 0 = none */
	int no_embeddings;   /* --no-embeddings: /v1/embeddings answers 501 */
	int llama_props;     /* --llama-props: GET /props and /slots as llama-server */
	const char *host;
	long port;
	const char *port_file;
	struct llmd_model *models;
	size_t nmodels;
	long dim;
	const char *api_key; /* NULL: /v1 open */
	uint64_t seed;
	int quiet;
	int verbose;
};
extern struct llmd_fixed llmd; /* written by main before any thread starts */

/* Finds a model by name, with or without the ":latest" tag, or by one of
 * the first model's --aliases; NULL if none. */
const struct llmd_model *model_find(const char *name);

/* ---- state: lanes, counters, faults (llmd_state.c); thread safe ---- */
void state_init(const struct llmd_tunables *t);
void state_free(void);
/* Copies the current runtime tunables. */
void state_tunables(struct llmd_tunables *out);
/* Applies a JSON object of changes (all or nothing); on error returns -1
 * and writes a message to err. */
int state_configure(const cJSON *obj, struct buf *err);
void state_config_json(struct buf *out);

/* Uniform double in [0,1) from the seeded generator. */
double state_rand01(void);
/* Draws the fault for a model request; chat says whether badjson applies. */
enum fault state_pick_fault(const struct llmd_tunables *t, int chat);

enum lane_result { LANE_OK, LANE_FULL, LANE_STOPPING };
/* Waits (FIFO) for a lane; LANE_FULL when the queue is past queue_max. */
enum lane_result lane_acquire(void);
void lane_release(void);
/* The model's work on a request (the service time, holding a lane):
 * compute_begin marks its start, compute_end its end and returns how many
 * other requests were computed at some moment in between. A request sent
 * only after the answer before it came back counts 0, whatever the
 * connections and lanes. */
struct compute_mark {
	long computing;             /* requests computing at the start, itself included */
	unsigned long long started; /* computations started before it, itself included */
};
void compute_begin(struct compute_mark *m);
long compute_end(const struct compute_mark *m);
/* Sleeps ms milliseconds; returns -1 early when the server is stopping. */
int state_sleep(double ms);

/* Counters. */
void stats_http(const char *path, int status);
void stats_model_request(int chat);
void stats_fault(enum fault f);
void stats_embed_batch(long inputs);
void stats_scripted(const char *name);
void stats_answered(const char *path);
void stats_model_used(const struct llmd_model *m);
/* Seconds since the epoch of the last use of model i, 0 if never. */
double stats_model_last_used(size_t i);
void stats_json(struct buf *out);
/* Model requests holding a lane now. */
long stats_in_flight(void);
void stats_reset(void);

/* Connections: registered so shutdown can unblock them. */
void conn_register(int fd);
void conn_unregister(int fd);
/* Stops the server: wakes sleepers and waiters, shuts connections down, then
 * waits up to timeout_ms for them to go; returns how many are left. */
long state_stop(double timeout_ms);
int state_stopping(void);

/* ---- HTTP (llmd_http.c) ---- */
struct conn;
struct req {
	char method[16];
	char *path;   /* target without the query string */
	char *auth;   /* Authorization header value or NULL */
	char *body;   /* NUL terminated; body_len bytes */
	size_t body_len;
	int head;     /* HEAD request: answer without a body */
	double t0_ms; /* when the request was complete */
};

/* Serves one accepted connection until it closes; frees nothing of the
 * caller's. Runs on the connection's own thread. */
void http_serve(int fd);

/* Response writers; each sets the status for the stats and, on an I/O
 * error, marks the connection broken (it is closed after the handler). */
void http_respond(struct conn *c, int status, const char *ctype,
		  const char *extra, const char *body, size_t len);
/* Headers with the full Content-Length, then only half of the body, then
 * the connection is closed (the truncate fault). */
void http_respond_truncated(struct conn *c, int status, const char *ctype,
			    const char *extra, const char *body, size_t len);
void http_stream_begin(struct conn *c, int status, const char *ctype,
		       const char *extra);
void http_stream_chunk(struct conn *c, const char *data, size_t len);
void http_stream_end(struct conn *c);
/* A head with Content-Length len, then the body goes with http_send
 * (nothing on HEAD). */
void http_begin(struct conn *c, int status, const char *ctype, const char *extra,
		long long len);
void http_send(struct conn *c, const char *data, size_t len);
/* Ends the connection without (further) answer: drop and truncate faults. */
void http_abort(struct conn *c);
/* Says nothing more until the client closes the connection or the server
 * stops, then ends the connection (a server gone silent). */
void http_linger(struct conn *c);
/* Whether the connection has ended (an I/O error or an abort). */
int http_broken(const struct conn *c);
int http_status(const struct conn *c);
/* Whether the current request got an answer (or the connection ended). */
int http_answered(const struct conn *c);
/* Marks the answer being made as spoiled by a fault (invalid content). */
void http_spoil(struct conn *c);
/* Whether the answer went out whole: 200, written to the end, not spoiled. */
int http_whole(const struct conn *c);

/* ---- routing (llmd_api.c) ---- */
void api_handle(struct conn *c, struct req *r);

/* Kinds of model request, for faults and error shapes. */
enum job_kind { JOB_CHAT, JOB_EMBED };
enum api_dialect { DIALECT_OLLAMA, DIALECT_OPENAI };

/* The shared model-request path: counts, draws the fault, answers fail-fast
 * faults (429, 503, fail-all), takes a lane (503 when the queue is full),
 * spends the service time, answers 500/drop. Returns the fault the handler
 * must still apply (NONE, TRUNCATE, BADJSON; SLOW is already spent) and
 * sets *holding when it holds a lane the handler must release with
 * lane_release() after answering; returns -1 when the request is already
 * answered (or dropped). */
int api_model_gate(struct conn *c, enum api_dialect d, enum job_kind kind,
		   long items, int *holding, long *beside);
/* The drift of a request computed beside others (README.md "Batch
 * drift"): 0 = none, else the salt for answer_embedding or answer_content.
 * Embeddings: texts[0..n) are the request's inputs (as sent, uncut),
 * beside what api_model_gate counted. Chat: p[0..len) is the prompt. */
uint64_t api_embed_drift(const char *const *texts, long n, long beside, double *noise);
uint64_t api_chat_drift(const char *p, size_t len, long beside);

/* llama-server's error shape: {"error":{"code","message","type"}} plus
 * extra members (raw JSON after a comma, may be NULL). */
void api_error_llama(struct conn *c, int status, const char *msg, const char *type,
		     const char *extra);

/* Error bodies in the two shapes. */
void api_error_ollama(struct conn *c, int status, const char *msg);
void api_error_openai(struct conn *c, int status, const char *msg,
		      const char *type, const char *param, const char *code);

/* Appends the text of a message "content": a string, or the "text" of an
 * array of parts joined with "\n". Returns 0, or -1 when it is neither. */
int api_content_text(const cJSON *content, struct buf *out);
/* Wall-clock time as RFC 3339 with nanoseconds, for created_at. */
void api_rfc3339(char out[48]);

void ollama_chat(struct conn *c, struct req *r, int generate);
void ollama_embed(struct conn *c, struct req *r, int legacy);
void ollama_tags(struct conn *c, struct req *r);
void ollama_ps(struct conn *c, struct req *r);
void ollama_show(struct conn *c, struct req *r);

void openai_chat(struct conn *c, struct req *r, int legacy_completions);
void openai_embeddings(struct conn *c, struct req *r);
void openai_models(struct conn *c, struct req *r, const char *id);
/* Checks Authorization against --api-key; answers 401 and returns -1. */
int openai_auth(struct conn *c, struct req *r);

/* Counts q as a model request (and its inputs, for embeddings) when its
 * path is one; for answers that skip the usual path (scripted ones). */
void api_count_model_request(const struct req *q);

/* ---- scripted replies (llmd_script.c) ---- */
/* Replaces the table of scripted replies with the one in text; returns 0,
 * or -1 with "line N: what" in err (the old table stays). */
int script_load(const char *text, size_t len, struct buf *err);
/* Answers q when an entry of the table matches it: returns 1 (answered),
 * or 0 (not scripted: the double answers as usual). */
int script_answer(struct conn *c, struct req *q);
/* {"replies":[{name, used, times}]} */
void script_json(struct buf *out);
void script_free(void);

/* ---- deterministic answers (llmd_answer.c); pure functions ---- */
/* 16 lowercase hex digits of fnv64(FNV64_INIT, p, n) into out. */
uint64_t answer_hash(const char *p, size_t n, char out[17]);
/* Writes the unit vector of text t (n bytes) into v[0..dim); with salt
 * (not 0) and noise > 0, drifted by noise (README.md "Batch drift"). */
void answer_embedding(const char *t, size_t n, long dim, uint64_t salt, double noise, float *v);
/* Appends a float32 as JSON (%.9g round-trips a float32). */
void answer_put_float(struct buf *b, float f);
/* Appends the vector as a JSON array, or as a base64 string (little-endian
 * float32) in quotes when base64 is set. */
void answer_put_vector(struct buf *b, const float *v, long dim, int base64);

enum answer_mode { ANSWER_TEXT, ANSWER_JSON, ANSWER_SCHEMA };
/* Appends the model's content for prompt p: see README.md "Answers".
 * schema is used (and must be non-NULL) in ANSWER_SCHEMA mode. salt (not
 * 0): the answer of a drifted computation (README.md "Batch drift"). */
void answer_content(struct buf *out, const char *p, size_t n,
		    enum answer_mode mode, const cJSON *schema, uint64_t salt);
/* The content of the badjson fault. */
extern const char answer_badjson[];
/* Tokens of n bytes: n / 4 rounded up. */
long answer_tokens(size_t n);
/* Cuts content to at most max_tokens tokens (4 bytes each, at a UTF-8
 * boundary); returns 1 when it cut. */
int answer_limit(struct buf *content, long max_tokens);
/* Byte length of the next streamed piece of s[0..n): up to 8 bytes, never
 * splitting a UTF-8 sequence. */
size_t answer_piece(const char *s, size_t n);

#endif
