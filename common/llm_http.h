/* llm_http: the LLM client's transport. One HTTP exchange with the server
 * over kept-alive libcurl handles that are reused for the whole run (a
 * handle whose transfer broke is dropped, it may hold a dead connection),
 * and the headers a client must read: Retry-After, retry-after-ms and
 * x-ratelimit-*. Bounded: the decoded answer (gzip bombs included) by a
 * size, a streamed answer by its silences and its whole length, any
 * answer by a stop request (the transfer is aborted). Retries and what a
 * status means are llm.c's and llm_errors.c's. */
#ifndef LANES_LLM_HTTP_H
#define LANES_LLM_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "util.h"

struct llm_http_resp {
	long status;                /* 0 when no answer came */
	struct buf body;
	double retry_after_ms;      /* -1 when absent */
	double reset_ms;            /* the longest x-ratelimit-reset-*, -1 when absent */
	int remaining_zero;         /* an x-ratelimit-remaining-* said 0 */
	char content_type[64];
	CURLcode curl;
	char curl_err[CURL_ERROR_SIZE];
	/* why a transfer was stopped short (r->curl is then not CURLE_OK) */
	int too_big;                /* the answer grew past max_body */
	int silent;                 /* a streamed answer was silent for idle_ms */
	int aborted;                /* the aborting callback said so */
	/* internal: the time of the last byte (now_ms) and the limits */
	double last_byte_ms;
	const struct llm_http *h;
	int streamed;
};

struct llm_http;

struct llm_http_limits {
	long connect_timeout_ms;
	long timeout_ms;      /* a whole request, however busy */
	long idle_timeout_ms; /* silence in a streamed answer; a whole unstreamed one */
	long max_body_bytes;  /* decoded */
	int (*aborting)(void); /* checked while a transfer runs; may be NULL */
};

/* A transport to base_url (no trailing '/') keeping at most max_idle
 * handles between requests. api_key may be NULL or "" (no Authorization
 * header); it is copied and wiped on free. Never fails (libcurl failures
 * end the process with a message). */
struct llm_http *llm_http_new(const char *base_url, const char *api_key,
			      const struct llm_http_limits *lim, int max_idle);
void llm_http_free(struct llm_http *h);

/* Sends body (POST, JSON) or nothing (GET) to base_url + path and fills r,
 * which the caller zeroes first and frees with llm_http_resp_free. r->curl
 * tells whether an answer came; r->status is then its HTTP status.
 * streamed: the answer comes in pieces, so silence is measured between
 * them. Thread safe. */
void llm_http_do(struct llm_http *h, const char *path, const char *body, size_t body_len,
		 int streamed, struct llm_http_resp *r);
void llm_http_resp_free(struct llm_http_resp *r);

/* Connections opened so far. */
long llm_http_connections(struct llm_http *h);

#endif
