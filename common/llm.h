/* llm: one client for every tool that talks to an LLM server, Ollama's
 * native API or the OpenAI-compatible one (vLLM, llama.cpp, LM Studio,
 * OpenAI). Kept-alive libcurl connections reused for the whole run, retries
 * with full-jitter backoff and Retry-After, one rate limiter and one
 * adaptive concurrency limit shared by all threads of the tool. */
#ifndef LANES_LLM_H
#define LANES_LLM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "tunables.h"
#include "util.h"

enum llm_backend { LLM_OLLAMA, LLM_OPENAI };

/* What a request is for: each use has its own list of endpoints (a chat
 * server and a separate embedding server is the usual llama.cpp and vLLM
 * setup). */
enum llm_use { LLM_USE_CHAT, LLM_USE_EMBED };

/* One server of an endpoint list. */
struct llm_endpoint {
	char *url;             /* without a trailing '/' */
	char *shown_url;       /* url with any password redacted */
	enum llm_backend backend;
	const char *backend_why;
	char *model;           /* NULL: the tool's model; else this server's name for it */
	int capacity;          /* most requests in flight there; 0 = llm.max_concurrency */
	double weight;         /* share of the requests relative to capacity (1) */
	char *api_key;         /* NULL: llm's key; else this server's (its
				* api_key_file=); never logged */
	char *api_key_file;    /* where it came from, for messages */
};

/* The endpoints of one use, and the setting they come from. */
struct llm_endpoints {
	struct llm_endpoint *v;
	int n;
	char from[64];         /* "llm.base_url", "embed.endpoints", ... */
};

struct llm_config {
	enum llm_backend backend;
	const char *backend_why; /* why this wire format (static text) */
	char *base_url;        /* without a trailing '/'; OpenAI: ends in /v1 */
	char *shown_url;       /* base_url with any password redacted: for messages */
	char *api_key;         /* NULL or "" when none; never logged */
	long connect_timeout_ms;
	long timeout_ms;       /* longest request, however busy */
	long idle_timeout_ms;  /* longest silence (a whole unstreamed answer) */
	long max_body_bytes;   /* largest decoded answer */
	int stream;            /* chat answers streamed */
	int max_attempts;
	double backoff_ms;
	double backoff_max_ms;
	long rpm, tpm;         /* 0 = unlimited */
	int concurrency;       /* 0 = adaptive */
	int max_concurrency;
	double temperature;
	long seed;             /* -1 = none */
	long num_ctx;          /* 0 = server default */
	char *keep_alive;      /* "" = server default */
	/* The servers of each use (base_url, backend and shown_url above are
	 * the first chat endpoint's, for messages). */
	struct llm_endpoints ep[2];
};

/* Fills cfg from the tunables' llm section (and api_key_file). Returns 0, or
 * -1 with a message in err (which never holds the API key: a key with a
 * line break or another control character is refused, as it would add
 * headers). Free with llm_config_free. */
int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen);
/* As llm_config_load, with the endpoints of the tool whose tunables
 * section is section (mine, embed, classify, consolidate, store; NULL:
 * the llm section's only). Chat: SECTION.endpoints, else llm.endpoints,
 * else llm.base_url; embeddings: SECTION.embed_endpoints (classify,
 * consolidate) or embed.endpoints, else llm.endpoints, else llm.base_url.
 * llm.base_url given as a flag (--url) wins over them all. */
int llm_config_load_for(struct llm_config *cfg, const struct tunables *t, const char *section,
			char *err, size_t errlen);
/* Parses an endpoint list: entries separated by blanks or newlines, each
 * URL[,backend=auto|ollama|openai][,model=NAME][,capacity=N][,weight=W]
 * [,api_key_file=FILE] (the key this server takes, read from FILE).
 * Returns 0 and fills eps (free with llm_endpoints_free), or -1 with a
 * message naming what is wrong (from: the setting, for messages). */
int llm_endpoints_parse(struct llm_endpoints *eps, const char *spec, const char *from,
			const char *backend, char *err, size_t errlen);
void llm_endpoints_free(struct llm_endpoints *eps);
/* --print-config: comment lines saying which servers the tool of section
 * uses for chat and for embeddings, and the setting they come from. */
void llm_config_print(const struct tunables *t, const char *section, FILE *f);
/* Requests in flight at most over every endpoint of a use. */
int llm_config_concurrency(const struct llm_config *cfg, enum llm_use use);
void llm_config_free(struct llm_config *cfg);

/* Error classes of a finished call. */
enum llm_status {
	LLM_OK = 0,
	LLM_RETRY_EXHAUSTED, /* retryable trouble on every attempt */
	LLM_FATAL,           /* 400/401/403/404/501, too big...: retrying cannot help */
	LLM_ABANDONED,       /* a stop request (app_stopping, app_aborting): the
			      * call was not finished; the record stays pending */
};

struct llm_result {
	enum llm_status status;
	int http_status;    /* last HTTP status, 0 if none */
	int attempts;       /* requests sent for this call */
	/* short error code: http_429, timeout, bad_body (cut or garbled),
	 * bad_answer (well-formed, wrong shape), body_too_large,
	 * context_overflow, input_too_large, abandoned... */
	char code[32];
	char message[512];  /* what happened and what to do */
	/* the server refused the request for its content (400, 413, 422,
	 * input_too_large): a smaller request may pass */
	int refused;
	int truncated;      /* the answer was cut by max_tokens or the context */
	/* tokens of the answered request as the server counts them (OpenAI
	 * usage, Ollama prompt_eval_count and eval_count), -1 when it does
	 * not say */
	long prompt_tokens, completion_tokens;
};

struct llm;
/* Creates the shared client; tool is used in messages. Never fails (curl
 * global init failure aborts). */
struct llm *llm_new(const struct llm_config *cfg, const char *tool);
void llm_free(struct llm *c);
/* Writes every model request of c to log (reqlog.h; NULL: none), which c
 * then owns: llm_free closes it. */
struct reqlog;
void llm_set_log(struct llm *c, struct reqlog *log);

/* Before reading input: the server answers and has the model. Returns 0
 * and, when the server tells it, a digest or version in info (may be ""),
 * or -1 with a message saying what to do ("run `ollama pull X`"). Every
 * endpoint of the use is checked (with its own name for the model); the
 * endpoints of an embedding list must serve one model: different model
 * names (-2, a settings error) or digests (-1) are refused, as vectors of
 * two models never mix. */
int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen);
int llm_check_model_for(struct llm *c, enum llm_use use, const char *model, char *info,
			size_t infolen, char *err, size_t errlen);
/* The endpoints of a use in words for the start line: "url=URL" for one,
 * "endpoints=URL (ollama, capacity 4, weight 1), ..." for several. */
void llm_describe(struct llm *c, enum llm_use use, struct buf *out);
/* Whether the two uses go to the same endpoints. */
int llm_same_endpoints(struct llm *c);

struct llm_chat {
	const char *id;          /* the record asked about, for the log; may be NULL */
	const char *model;
	const char *system;      /* may be NULL */
	const char *user;
	const cJSON *schema;     /* JSON schema of the answer, or NULL */
	int json;                /* ask for a JSON object (no schema) */
	long max_tokens;         /* 0 = server default */
	/* Earlier turn fed back after an invalid answer (may be NULL). */
	const char *prev_answer;
	const char *correction;
	/* > 0: a plain retry after invalid answers; the seed moves by this
	 * much (from 0 when none is set), since at temperature 0 a server
	 * mostly gives the same request the same answer */
	int variant;
};

/* Sends a chat request and returns the model's text (caller frees) or NULL
 * with res telling why. A text comes with res->truncated set when the
 * server cut it (max_tokens, context). */
char *llm_chat(struct llm *c, const struct llm_chat *req, struct llm_result *res);

/* Embeds n texts in one request. On success returns n*dim floats (caller
 * frees), vectors in the order of texts (OpenAI answers are matched back by
 * index), and sets *dim. NULL with res on failure. ids: the records of the
 * texts, for the log (may be NULL). */
float *llm_embed(struct llm *c, const char *model, const char *const *texts,
		 const char *const *ids, size_t n, int dim_hint, int *dim,
		 struct llm_result *res);

/* Live figures for the progress line: "requests in flight 4/6 (oldest
 * 12s), 12.3 req/s, latency 210ms, retries 3". */
void llm_progress(struct llm *c, char *out, size_t outlen);
/* Totals for the summary. */
struct llm_totals {
	long requests, retries, connections, failures;
	/* tokens of the answered requests, as the server counted them */
	long prompt_tokens, completion_tokens;
	int limit, peak_inflight;
};
void llm_totals(struct llm *c, struct llm_totals *t);
/* The current concurrency limit (adaptive or fixed). */
int llm_limit(struct llm *c);
/* Calls waiting to try again (backoff, Retry-After): they hold no slot,
 * and the thread each one waits in sends nothing meanwhile. */
int llm_waiting(struct llm *c);
const char *llm_backend_name(const struct llm *c);
/* The wire format of a use's endpoints: "ollama", "openai" or "mixed". */
const char *llm_backend_for(const struct llm *c, enum llm_use use);
/* One line per endpoint with its figures, for the summary (n > 1 only;
 * "" for one endpoint). */
void llm_endpoint_totals(struct llm *c, struct buf *out);

/* Full-jitter backoff delay in ms for attempt (1-based), capped. Exposed for
 * tests. */
double llm_backoff_ms(double base, double cap, int attempt, unsigned *seed);
/* Parses a Retry-After value (seconds or an HTTP date) into ms from now;
 * -1 if unusable. */
double llm_parse_retry_after(const char *value, double now_epoch);
/* Parses OpenAI reset durations like "1s", "6m0s", "250ms" into ms; -1 if
 * unusable. */
double llm_parse_duration(const char *value);

#endif
