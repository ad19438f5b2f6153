/* llm: one client for every tool that talks to an LLM server, Ollama's
 * native API or the OpenAI-compatible one (vLLM, llama.cpp, LM Studio,
 * OpenAI). Kept-alive libcurl connections reused for the whole run, retries
 * with full-jitter backoff and Retry-After, one rate limiter and one
 * adaptive concurrency limit shared by all threads of the tool. */
#ifndef LANES_LLM_H
#define LANES_LLM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "tunables.h"

enum llm_backend { LLM_OLLAMA, LLM_OPENAI };

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
};

/* Fills cfg from the tunables' llm section (and api_key_file). Returns 0, or
 * -1 with a message in err (which never holds the API key: a key with a
 * line break or another control character is refused, as it would add
 * headers). Free with llm_config_free. */
int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen);
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
 * or -1 with a message saying what to do ("run `ollama pull X`"). */
int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen);

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
const char *llm_backend_name(const struct llm *c);

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
