/* llm_servers: the servers an LLM client sends to, private to the client
 * (llm.c). Each endpoint of the configuration is one llm_server, once
 * however many uses name it, with its own wire format, model name,
 * transport (llm_http) and adaptive limit (llm_slots). Each use (chat,
 * embeddings) has its set. With several servers in a set, a request goes
 * to the one with the fewest requests in flight for its limit (times its
 * weight); one that refuses connections or fails LLM_SERVERS_FAIL_OUT
 * times in a row is taken out and probed back in (a model list request,
 * after a second, doubling up to the longest backoff), and the requests
 * it failed go to another one. Also the start times of the model requests
 * in flight (the progress line's "oldest") and every figure the progress
 * line and the summary show per server. Thread safe. */
#ifndef LANES_LLM_SERVERS_H
#define LANES_LLM_SERVERS_H

#include <stdatomic.h>

#include "llm.h"
#include "llm_http.h"
#include "util.h"

/* Failures in a row (5xx, transport) that take a server of a set out. */
#define LLM_SERVERS_FAIL_OUT 3

struct llm_server {
	struct llm_endpoint e;       /* url, shown_url, model (NULL: the tool's) */
	const struct llm_wire *wire;
	struct llm_http *http;
	struct llm_slots *slots;
	atomic_long requests, failures;
	atomic_int json_schema_unsupported; /* OpenAI server refused json_schema */
	/* llm_servers.c's, under the servers' lock: */
	int inflight;
	int out;                     /* taken out of its sets */
	int probing;
	int fails;                   /* in a row */
	double probe_at, probe_ms;
	atomic_long outs;
	atomic_int used;             /* checked or sent to: its figures count */
};

/* The servers of a use, or of one request (pointers into llm_servers). */
struct llm_server_set {
	struct llm_server **v;
	int n;
};

struct llm_servers;

/* The servers of cfg's endpoint lists (cfg->ep; a configuration filled by
 * hand, without lists, has base_url alone for both uses), with the
 * transport limits lim. Never fails. */
struct llm_servers *llm_servers_new(const struct llm_config *cfg,
				    const struct llm_http_limits *lim);
void llm_servers_free(struct llm_servers *sv);
/* The set of a use (enum llm_use). */
const struct llm_server_set *llm_servers_use(struct llm_servers *sv, enum llm_use use);

/* The server for the next model request of set s, its slot taken: the
 * one with the fewest requests in flight for its limit and weight among
 * those in (all when none is), avoid (the one that just failed) when
 * another will do. Probes the servers taken out whose time has come.
 * NULL when stop(ud) says to give up (asked at least every 100 ms). */
struct llm_server *llm_servers_pick(struct llm_servers *sv, const struct llm_server_set *s,
				    struct llm_server *avoid, int (*stop)(void *), void *ud);
/* After a model request to e from set s: gone (its connection refused),
 * failed (5xx, transport trouble) or fine; why names the trouble in the
 * message when e is taken out. Gives e's slot back (rtt: its time in ms;
 * overload: 429 or 503; measured: an answer came). Returns whether e is
 * out now while another server of s is in (the request may go there at
 * once). */
int llm_servers_done(struct llm_servers *sv, const struct llm_server_set *s,
		     struct llm_server *e, double rtt, int overload, int measured, int gone,
		     int failed, const char *why);
/* Notes the start of a model request (its age in the progress line);
 * returns the mark for llm_servers_finished. */
int llm_servers_started(struct llm_servers *sv);
void llm_servers_finished(struct llm_servers *sv, int mark);

/* The servers of a use in words for the start line: "url=URL" for one,
 * "endpoints=URL (ollama, capacity 4, weight 1), ..." for several. */
void llm_servers_describe(struct llm_servers *sv, enum llm_use use, struct buf *out);
/* Whether the two uses go to the same servers. */
int llm_servers_same_uses(struct llm_servers *sv);
/* The sum of the limits of the servers whose figures count (those
 * checked or sent to; all when none is yet). */
int llm_servers_limit(struct llm_servers *sv);

/* The figures of the servers that count, for the progress line. */
struct llm_servers_figures {
	int inflight, limit, counted;
	double latency_ms;   /* mean of the servers' moving averages */
	double oldest_ms;    /* age of the oldest model request in flight, 0 if none */
	long connections;
	int peak_inflight;
};
void llm_servers_figures(struct llm_servers *sv, struct llm_servers_figures *f);
/* "; URL 3/4" per server that counts ("out" when taken out), appended to
 * out (n > 1 only). */
void llm_servers_progress(struct llm_servers *sv, struct buf *out);
/* One line per server with its figures, for the summary (n > 1 only). */
void llm_servers_report(struct llm_servers *sv, struct buf *out);

#endif
