/* llm: the client's requests and retries. A call waits for the rate
 * limiter (llm_rate) and a slot (llm_slots), goes out over the transport
 * (llm_http), and is retried when the trouble may pass (408, 409, 429,
 * 5xx but 501, dropped, cut or silent answers) with full-jitter backoff or
 * the server's Retry-After, every wait a server asks for capped at
 * llm.backoff_max_ms. Permanent trouble (other 4xx, 501, a well-formed
 * answer of the wrong shape, an answer too big, a request over the
 * model's context) fails at once. A stop request (app.h) ends the waits:
 * a call not yet sent is abandoned as soon as the tool stops taking work,
 * one under way when the grace period ends (its transfer aborted).
 * Request bodies and answers are the wire format's (llm_ollama.c,
 * llm_openai.c).
 *
 * Each use (chat, embeddings) has its endpoints, each with its own wire
 * format, model name, transport and adaptive limit. With several, a
 * request goes to the one with the fewest requests in flight for its
 * limit (times its weight); one that refuses connections or fails
 * FAIL_OUT times in a row is taken out and probed back in (a model list
 * request, after PROBE_FIRST_MS, doubling up to llm.backoff_max_ms), and
 * the requests it failed are sent to another one without spending an
 * attempt. */
#include "llm.h"
#include "app.h"
#include "llm_http.h"
#include "llm_rate.h"
#include "llm_slots.h"
#include "llm_wire.h"
#include "log.h"
#include "pool.h"
#include "reqlog.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Waits the server asked for that were capped, said at most this often. */
#define CAPPED_SAID_MAX 3
/* Failures in a row (5xx, transport) that take an endpoint of a list out. */
#define FAIL_OUT 3
#define PROBE_FIRST_MS 1000.0

struct ep {
	struct llm_endpoint e;       /* url, shown_url, model (NULL: the tool's) */
	const struct llm_wire *wire;
	struct llm_http *http;
	struct llm_slots *slots;
	/* under llm.dl: */
	int inflight;
	int out;                     /* taken out of the list */
	int probing;
	int fails;                   /* in a row */
	double probe_at, probe_ms;
	atomic_long requests, failures, outs;
	atomic_int json_schema_unsupported; /* OpenAI server refused json_schema */
	atomic_int used;             /* checked or sent to: its figures count */
};

/* The endpoints of a use: pointers into llm.eps. */
struct eset {
	struct ep **v;
	int n;
};

struct llm {
	struct llm_config cfg;
	const char *tool;
	struct ep *eps;       /* every endpoint once */
	int neps;
	struct eset use[2];   /* LLM_USE_CHAT, LLM_USE_EMBED */
	struct llm_rate *rate;
	struct lock *l;       /* the backoff generator, the start times */
	struct lock *dl;      /* the endpoints' dispatch figures */
	unsigned seed;
	double *started_at;   /* start of each model request in flight, 0 = free */
	int nstarted;
	atomic_long requests, retries, failures;
	double started;
	atomic_int capped_said;
	atomic_long prompt_tokens, completion_tokens;
	struct reqlog *log;   /* NULL: no request log */
};

static int aborting(void)
{
	return app_aborting();
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int same_endpoint(const struct llm_endpoint *a, const struct llm_endpoint *b)
{
	return !strcmp(a->url, b->url) && a->backend == b->backend && same_str(a->model, b->model) &&
	       same_str(a->api_key, b->api_key);
}

/* The endpoints of a configuration without ep lists (a caller that filled
 * llm_config by hand): base_url alone for both uses. */
static void default_endpoints(struct llm_config *cfg, struct llm_endpoints *tmp)
{
	memset(tmp, 0, sizeof *tmp);
	tmp->v = xcalloc(1, sizeof *tmp->v);
	tmp->n = 1;
	tmp->v[0].url = cfg->base_url;
	tmp->v[0].shown_url = cfg->shown_url;
	tmp->v[0].backend = cfg->backend;
	tmp->v[0].backend_why = cfg->backend_why;
	tmp->v[0].weight = 1;
	snprintf(tmp->from, sizeof tmp->from, "llm.base_url");
}

struct llm *llm_new(const struct llm_config *cfg, const char *tool)
{
	struct llm *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->cfg.base_url = xstrdup(cfg->base_url);
	c->cfg.shown_url = xstrdup(cfg->shown_url ? cfg->shown_url : cfg->base_url);
	c->cfg.api_key = xstrdup(cfg->api_key ? cfg->api_key : "");
	c->cfg.keep_alive = xstrdup(cfg->keep_alive ? cfg->keep_alive : "");
	if (!c->cfg.backend_why)
		c->cfg.backend_why = "llm.backend";
	memset(c->cfg.ep, 0, sizeof c->cfg.ep);
	c->tool = tool;
	struct llm_http_limits lim = {
		.connect_timeout_ms = c->cfg.connect_timeout_ms,
		.timeout_ms = c->cfg.timeout_ms > 0 ? c->cfg.timeout_ms : 3600000,
		.idle_timeout_ms = c->cfg.idle_timeout_ms > 0 ? c->cfg.idle_timeout_ms : 300000,
		.max_body_bytes = c->cfg.max_body_bytes > 0 ? c->cfg.max_body_bytes : 268435456L,
		.aborting = aborting,
	};
	struct llm_endpoints tmp;
	int by_hand = cfg->ep[0].n == 0 || cfg->ep[1].n == 0;
	if (by_hand)
		default_endpoints(&c->cfg, &tmp);
	const struct llm_endpoints *lists[2] = {by_hand ? &tmp : &cfg->ep[0],
						 by_hand ? &tmp : &cfg->ep[1]};
	c->eps = xcalloc((size_t)(lists[0]->n + lists[1]->n), sizeof *c->eps);
	int total = 0;
	for (int u = 0; u < 2; u++) {
		c->use[u].v = xcalloc((size_t)lists[u]->n, sizeof *c->use[u].v);
		for (int i = 0; i < lists[u]->n; i++) {
			const struct llm_endpoint *le = &lists[u]->v[i];
			struct ep *e = NULL;
			for (int k = 0; k < c->neps && !e; k++)
				if (same_endpoint(&c->eps[k].e, le))
					e = &c->eps[k];
			if (!e) {
				e = &c->eps[c->neps++];
				e->e.url = xstrdup(le->url);
				e->e.shown_url = xstrdup(le->shown_url ? le->shown_url : le->url);
				e->e.backend = le->backend;
				e->e.backend_why = le->backend_why ? le->backend_why : "llm.backend";
				e->e.model = le->model ? xstrdup(le->model) : NULL;
				e->e.capacity = le->capacity;
				e->e.api_key = le->api_key ? xstrdup(le->api_key) : NULL;
				e->e.api_key_file = le->api_key_file ? xstrdup(le->api_key_file) : NULL;
				e->e.weight = le->weight > 0 ? le->weight : 1;
				e->wire = le->backend == LLM_OPENAI ? &llm_openai_wire : &llm_ollama_wire;
				int max = le->capacity > 0 ? le->capacity : c->cfg.max_concurrency;
				int fixed = c->cfg.concurrency > 0 && c->cfg.concurrency < max
						    ? c->cfg.concurrency
					    : c->cfg.concurrency > 0 ? max : 0;
				e->http = llm_http_new(e->e.url,
						       e->e.api_key ? e->e.api_key : c->cfg.api_key,
						       &lim, max + 1);
				e->slots = llm_slots_new(fixed, max);
				e->probe_ms = PROBE_FIRST_MS;
				total += max + 1;
			}
			c->use[u].v[c->use[u].n++] = e;
		}
	}
	if (by_hand)
		free(tmp.v);
	c->rate = llm_rate_new(c->cfg.rpm, c->cfg.tpm);
	c->l = lock_new();
	c->dl = lock_new();
	c->nstarted = total;
	c->started_at = xcalloc((size_t)c->nstarted, sizeof *c->started_at);
	c->started = now_ms();
	c->seed = (unsigned)(now_us() ^ (uint64_t)(uintptr_t)c);
	return c;
}

void llm_free(struct llm *c)
{
	if (!c)
		return;
	reqlog_close(c->log);
	for (int i = 0; i < c->neps; i++) {
		struct ep *e = &c->eps[i];
		llm_http_free(e->http);
		llm_slots_free(e->slots);
		free(e->e.url);
		free(e->e.shown_url);
		free(e->e.model);
		if (e->e.api_key) {
			memset(e->e.api_key, 0, strlen(e->e.api_key));
			free(e->e.api_key);
		}
		free(e->e.api_key_file);
	}
	free(c->eps);
	free(c->use[0].v);
	free(c->use[1].v);
	llm_rate_free(c->rate);
	lock_free(c->l);
	lock_free(c->dl);
	free(c->started_at);
	llm_config_free(&c->cfg);
	free(c);
}

void llm_set_log(struct llm *c, struct reqlog *log)
{
	c->log = log;
}

const char *llm_backend_name(const struct llm *c)
{
	return llm_backend_for(c, LLM_USE_CHAT);
}

const char *llm_backend_for(const struct llm *c, enum llm_use use)
{
	const struct eset *s = &c->use[use];
	for (int i = 1; i < s->n; i++)
		if (s->v[i]->wire != s->v[0]->wire)
			return "mixed";
	return s->v[0]->wire->name;
}

int llm_same_endpoints(struct llm *c)
{
	const struct eset *a = &c->use[0], *b = &c->use[1];
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->v[i] != b->v[i])
			return 0;
	return 1;
}

static int ep_limit(struct ep *e)
{
	return llm_slots_limit(e->slots);
}


/* ---- requests in flight, for their age in the progress line ---- */

static int started_add(struct llm *c)
{
	int i = -1;
	lock_take(c->l);
	for (int k = 0; k < c->nstarted && i < 0; k++)
		if (c->started_at[k] == 0)
			i = k;
	if (i >= 0)
		c->started_at[i] = now_ms();
	lock_give(c->l);
	return i;
}

static void started_remove(struct llm *c, int i)
{
	if (i < 0)
		return;
	lock_take(c->l);
	c->started_at[i] = 0;
	lock_give(c->l);
}

/* ---- stop requests ---- */

/* What a waiting call asks the stop rule: a call that has sent nothing
 * yet is new work, which a stopping tool no longer takes; one under way
 * may finish within the grace period. */
struct waiter {
	int first;
};

static int give_up(void *ud)
{
	const struct waiter *w = ud;
	return app_aborting() || (w->first && app_stopping());
}

/* Sleeps ms unless the stop rule says to give up (then -1). A wait that
 * would end after the grace period is given up at once when stopping. */
static int wait_ms(double ms, struct waiter *w)
{
	double end = now_ms() + ms;
	for (;;) {
		if (give_up(w) || (app_stopping() && end > app_abort_at_ms()))
			return -1;
		double left = end - now_ms();
		if (left <= 0)
			return 0;
		sleep_ms(fmin(left, 100));
	}
}

static int abandon(struct llm_result *res, int sent)
{
	res->status = LLM_ABANDONED;
	res->attempts = sent;
	snprintf(res->code, sizeof res->code, "abandoned");
	snprintf(res->message, sizeof res->message,
		 "abandoned on a stop request before the answer came (the record stays pending)");
	return -1;
}

/* ---- what an answer means ---- */

/* The server's own error text: Ollama {"error": "..."}, OpenAI
 * {"error": {"message": "..."}}. */
static void server_message(const struct buf *body, char *out, size_t outlen)
{
	out[0] = '\0';
	cJSON *j = cJSON_ParseWithLength(body->p ? body->p : "", body->len);
	cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(e))
		snprintf(out, outlen, "%s", e->valuestring);
	else if (cJSON_IsObject(e)) {
		cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (cJSON_IsString(m))
			snprintf(out, outlen, "%s", m->valuestring);
	} else if (body->len) {
		snprintf(out, outlen, "%.*s", (int)(body->len > 200 ? 200 : body->len), body->p);
		for (char *p = out; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	cJSON_Delete(j);
}

/* 408, 409, 429 and 5xx may pass; 501 (not implemented) will not. */
static int retryable_status(long s)
{
	return s == 408 || s == 409 || s == 429 || (s >= 500 && s != 501);
}

static int retryable_curl(CURLcode e)
{
	switch (e) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* A request over the model's context, in the words of llama-server
 * ("exceeds the available context size"), vLLM and OpenAI ("maximum
 * context length"), Ollama ("exceeds maximum context length"). */
static int says_context(const char *msg)
{
	return strcasestr(msg, "context") &&
	       (strcasestr(msg, "exceed") || strcasestr(msg, "maximum context length") ||
		strcasestr(msg, "too long") || strcasestr(msg, "too many tokens"));
}

/* Fills res for an HTTP error status; returns whether to retry. */
static int http_error(struct ep *e, const char *path, const char *model,
		      const struct llm_http_resp *r, struct llm_result *res)
{
	char msg[400];
	const char *url = e->e.shown_url;
	server_message(&r->body, msg, sizeof msg);
	long st = r->status;
	int retry = retryable_status(st);
	snprintf(res->code, sizeof res->code, "http_%ld", st);
	res->refused = st == 400 || st == 413 || st == 422;
	if ((st == 400 || st == 413) && says_context(msg)) {
		snprintf(res->code, sizeof res->code, "context_overflow");
		snprintf(res->message, sizeof res->message,
			 "the request is longer than the model's context (HTTP %ld from %s%s: %s): "
			 "shorten the text or give the server a larger context (llama-server -c, "
			 "llm.num_ctx for Ollama)", st, url, path, msg);
	} else if (st == 500 && strcasestr(msg, "input is too large")) {
		/* llama-server: a text over the slot's context or batch; the
		 * same request will always fail, a smaller one may pass */
		retry = 0;
		res->refused = 1;
		snprintf(res->code, sizeof res->code, "input_too_large");
		snprintf(res->message, sizeof res->message,
			 "a text is too large for the server (HTTP 500 from %s%s: %s): shorten it, "
			 "or raise llama-server's -c, --batch-size and --ubatch-size",
			 url, path, msg);
	} else if (st == 404 && model) {
		e->wire->model_missing(res->message, sizeof res->message, model, url, NULL, msg);
	} else if (st == 401 || st == 403) {
		if (e->e.api_key_file)
			snprintf(res->message, sizeof res->message,
				 "%s refused the API key of its api_key_file %s (HTTP %ld: %s)", url,
				 e->e.api_key_file, st, msg);
		else
			snprintf(res->message, sizeof res->message,
				 "%s refused the API key (HTTP %ld: %s): set OPENAI_API_KEY or "
				 "llm.api_key_file", url, st, msg);
	} else if (st == 501) {
		snprintf(res->message, sizeof res->message,
			 "HTTP 501 from %s%s: %s: the server does not do this (llama-server serves "
			 "embeddings only when started with --embeddings)", url, path, msg);
	} else {
		snprintf(res->message, sizeof res->message, "HTTP %ld from %s%s: %s", st,
			 url, path, msg);
	}
	return retry;
}

/* A wait the server asks for (Retry-After, x-ratelimit-reset-*), capped at
 * llm.backoff_max_ms and said when capped. */
static double capped(struct llm *c, struct ep *e, double ms, const char *what)
{
	double cap = c->cfg.backoff_max_ms;
	if (ms <= cap)
		return ms;
	if (atomic_fetch_add(&c->capped_said, 1) < CAPPED_SAID_MAX)
		log_warn("%s asks to wait %.0f s (%s); waiting %.1f s (llm.backoff_max_ms)",
			 e->e.shown_url, ms / 1000, what, cap / 1000);
	return cap;
}

/* ---- endpoints: choice, taking out, probing back in ---- */

static int ups(const struct eset *s)
{
	int n = 0;
	for (int i = 0; i < s->n; i++)
		n += !s->v[i]->out;
	return n;
}

/* Probes an endpoint that was taken out with a model list request (under
 * c->dl, let go of while it runs). */
static void probe(struct llm *c, struct ep *e)
{
	e->probing = 1;
	lock_give(c->dl);
	struct llm_http_resp r;
	memset(&r, 0, sizeof r);
	llm_http_do(e->http, e->wire->models_path, NULL, 0, 0, &r);
	int ok = r.curl == CURLE_OK && r.status >= 200 && r.status < 300;
	llm_http_resp_free(&r);
	lock_take(c->dl);
	e->probing = 0;
	if (ok) {
		e->out = 0;
		e->fails = 0;
		e->probe_ms = PROBE_FIRST_MS;
		log_event("%s: back in (it answers again)", e->e.shown_url);
		lock_broadcast(c->dl);
	} else {
		e->probe_ms = fmin(e->probe_ms * 2, fmax(c->cfg.backoff_max_ms, PROBE_FIRST_MS));
		e->probe_at = now_ms() + e->probe_ms;
	}
}

/* The endpoint for the next attempt, its slot taken: the one with the
 * fewest requests in flight for its limit and weight, among those in (all
 * of them when none is), avoid last (the one that just failed) when
 * another will do. NULL on a stop request. */
static struct ep *pick(struct llm *c, const struct eset *s, struct ep *avoid, struct waiter *w)
{
	if (s->n == 1) {
		struct ep *e = s->v[0];
		atomic_store(&e->used, 1);
		return llm_slots_acquire(e->slots, give_up, w) ? NULL : e;
	}
	struct ep *best = NULL;
	lock_take(c->dl);
	for (;;) {
		double now = now_ms();
		for (int i = 0; i < s->n; i++) {
			struct ep *e = s->v[i];
			if (e->out && !e->probing && now >= e->probe_at && ups(s) > 0)
				probe(c, e);
		}
		int in = ups(s);
		for (int pass = 0; pass < 2 && !best; pass++) {
			double best_score = 0;
			for (int i = 0; i < s->n; i++) {
				struct ep *e = s->v[i];
				if ((e->out && in > 0) || (pass == 0 && e == avoid))
					continue;
				int lim = ep_limit(e);
				if (e->inflight >= lim)
					continue;
				double score = (e->inflight + 1) / ((double)lim * e->e.weight);
				if (!best || score < best_score)
					best = e, best_score = score;
			}
		}
		if (best || give_up(w))
			break;
		lock_wait_ms(c->dl, 100);
	}
	if (best) {
		best->inflight++;
		atomic_store(&best->used, 1);
	}
	lock_give(c->dl);
	if (best && llm_slots_acquire(best->slots, give_up, w)) {
		lock_take(c->dl);
		best->inflight--;
		lock_broadcast(c->dl);
		lock_give(c->dl);
		return NULL;
	}
	return best;
}

/* After an attempt on e (several endpoints only): gone (the connection
 * refused) or failed (5xx, transport trouble) or fine. Returns whether e
 * is out of the list now while another one is in. */
static int after_attempt(struct llm *c, const struct eset *s, struct ep *e, int gone,
			 int failed, const char *why)
{
	if (s->n == 1)
		return 0;
	int moved = 0;
	lock_take(c->dl);
	e->inflight--;
	if (!gone && !failed) {
		e->fails = 0;
		if (e->out) {
			/* a request sent while every endpoint was out came back */
			e->out = 0;
			e->probe_ms = PROBE_FIRST_MS;
			log_event("%s: back in (it answers again)", e->e.shown_url);
		}
	} else if (!e->out && (gone || ++e->fails >= FAIL_OUT)) {
		e->out = 1;
		e->probe_at = now_ms() + e->probe_ms;
		atomic_fetch_add(&e->outs, 1);
		int in = ups(s);
		log_warn("%s: taken out (%s); %s, probing it again in %.0f s", e->e.shown_url, why,
			 in ? "its requests go to the other endpoints" : "no endpoint is left",
			 e->probe_ms / 1000);
	}
	moved = e->out && ups(s) > 0;
	lock_broadcast(c->dl);
	lock_give(c->dl);
	return moved;
}

/* Reader of a 200 body; returns 0 and fills out (and the tokens in res),
 * or LLM_WIRE_CUT / LLM_WIRE_SHAPE with a message. */
typedef int (*parse_fn)(const struct ep *e, const struct llm_http_resp *r, void *out,
			struct llm_result *res, char *err, size_t errlen);

/* What a request was for, as the request log names it; NULL for requests
 * that are not model work. answer: the text a reader found (chat), logged
 * instead of the raw body; vectors: the embeddings answered. */
struct who {
	struct reqlog_entry e;
	const char *const *answer;
	const int *vectors, *dim;
};

/* One attempt (sent to ep) in the request log. */
static void log_attempt(struct llm *c, const struct who *who, const struct ep *ep,
			const struct llm_result *res, int ok, double rtt,
			const struct llm_http_resp *r)
{
	if (!c->log || !who)
		return;
	struct reqlog_entry e = who->e;
	e.kind = "request";
	e.server = ep->e.shown_url;
	e.attempt = res->attempts;
	e.http_status = res->http_status;
	e.latency_ms = rtt;
	e.code = ok ? NULL : res->code;
	e.message = ok ? NULL : res->message;
	e.prompt_tokens = ok ? res->prompt_tokens : -1;
	e.completion_tokens = ok ? res->completion_tokens : -1;
	if (ok && who->answer && *who->answer) {
		e.answer = *who->answer;
		e.answer_len = strlen(*who->answer);
	} else if (!ok || !who->vectors) {
		e.answer = r->body.p;
		e.answer_len = r->body.len;
	}
	if (ok && who->vectors) {
		e.vectors = *who->vectors;
		e.dim = *who->dim;
	}
	reqlog_write(c->log, &e);
}

/* Writes the body of a request to e (the wire format and the model name
 * are e's); NULL for a GET. */
typedef void (*body_fn)(struct llm *c, struct ep *e, struct buf *b, void *ud);

/* Sends a request of the use s to path(e) with retries, to one of the
 * endpoints of s (only to e when only is set). model, when set, names the
 * model in the message of a 404; who, when set, what the request log says
 * of each attempt. */
static int call(struct llm *c, const struct eset *s, struct ep *only,
		const char *(*path_of)(const struct ep *e), body_fn body, void *body_ud,
		size_t est_len, int streamed, parse_fn parse, void *out, const char *model,
		struct llm_result *res, int max_attempts, struct ep **used, const struct who *who)
{
	long tokens = (long)(est_len / 4) + 1;
	memset(res, 0, sizeof *res);
	res->prompt_tokens = res->completion_tokens = -1;
	/* model lists and versions are not model work: they neither take a
	 * slot nor teach the limit anything */
	int slotted = body != NULL;
	struct eset one = {&only, 1};
	if (only)
		s = &one;
	struct ep *last = NULL;
	struct buf b = {0};
	int moves = 0;
	for (int attempt = 1; attempt <= max_attempts; attempt++) {
		struct waiter w = {.first = attempt == 1};
		if (give_up(&w) || llm_rate_wait(c->rate, tokens, give_up, &w)) {
			buf_free(&b);
			return abandon(res, attempt - 1);
		}
		struct ep *e = s->v[0];
		if (slotted && !(e = pick(c, s, last, &w))) {
			buf_free(&b);
			return abandon(res, attempt - 1);
		}
		if (used)
			*used = e;
		const char *path = path_of(e);
		if (slotted && e != last) {
			b.len = 0;
			body(c, e, &b, body_ud);
		}
		last = e;
		res->attempts = attempt;
		struct llm_http_resp r;
		memset(&r, 0, sizeof r);
		int at = slotted ? started_add(c) : -1;
		double t0 = now_ms();
		llm_http_do(e->http, path, slotted ? b.p : NULL, slotted ? b.len : 0, streamed, &r);
		double rtt = now_ms() - t0;
		started_remove(c, at);
		if (slotted) {
			/* model requests only: the start-up check is not work */
			atomic_fetch_add(&c->requests, 1);
			atomic_fetch_add(&e->requests, 1);
			if (attempt > 1)
				atomic_fetch_add(&c->retries, 1);
		}
		res->http_status = (int)r.status;
		int overload = r.status == 429 || r.status == 503;
		int retry = 0, ok = 0;
		char msg[400];
		if (r.curl != CURLE_OK && r.aborted) {
			if (slotted) {
				llm_slots_release(e->slots, rtt, 0, 0);
				after_attempt(c, s, e, 0, 0, "");
			}
			llm_http_resp_free(&r);
			buf_free(&b);
			return abandon(res, attempt);
		}
		if (r.curl != CURLE_OK && r.too_big) {
			snprintf(res->code, sizeof res->code, "body_too_large");
			snprintf(res->message, sizeof res->message,
				 "the answer from %s%s is larger than llm.max_body_bytes (%ld bytes, "
				 "decoded): raise it if the server is right", e->e.shown_url, path,
				 c->cfg.max_body_bytes);
		} else if (r.curl != CURLE_OK && r.silent) {
			retry = 1;
			snprintf(res->code, sizeof res->code, "timeout");
			snprintf(res->message, sizeof res->message,
				 "%s%s: no byte from the server for %.1f s (llm.idle_timeout_ms)",
				 e->e.shown_url, path, (double)c->cfg.idle_timeout_ms / 1000);
		} else if (r.curl != CURLE_OK) {
			retry = retryable_curl(r.curl);
			snprintf(res->code, sizeof res->code, "%s",
				 r.curl == CURLE_OPERATION_TIMEDOUT ? "timeout"
				 : r.curl == CURLE_COULDNT_CONNECT ? "connect"
				 : r.curl == CURLE_PARTIAL_FILE ? "truncated" : "transport");
			snprintf(res->message, sizeof res->message, "%s%s: %s", e->e.shown_url, path,
				 r.curl_err[0] ? r.curl_err : curl_easy_strerror(r.curl));
		} else if (r.status >= 200 && r.status < 300) {
			int prc = parse(e, &r, out, res, msg, sizeof msg);
			if (prc == 0) {
				ok = 1;
				if (res->prompt_tokens > 0)
					atomic_fetch_add(&c->prompt_tokens, res->prompt_tokens);
				if (res->completion_tokens > 0)
					atomic_fetch_add(&c->completion_tokens, res->completion_tokens);
			} else if (prc == LLM_WIRE_SHAPE) {
				/* well-formed, not what was asked: the same again */
				snprintf(res->code, sizeof res->code, "bad_answer");
				snprintf(res->message, sizeof res->message,
					 "unexpected answer from %s%s: %s", e->e.shown_url, path, msg);
			} else {
				retry = 1;
				snprintf(res->code, sizeof res->code, "bad_body");
				snprintf(res->message, sizeof res->message,
					 "unusable answer from %s%s: %s", e->e.shown_url, path, msg);
			}
		} else {
			retry = http_error(e, path, model, &r, res);
		}
		int moved = 0;
		/* a refused connection or a transport error says nothing about load */
		if (slotted) {
			llm_slots_release(e->slots, rtt, overload, r.curl == CURLE_OK);
			int gone = r.curl == CURLE_COULDNT_CONNECT || r.curl == CURLE_COULDNT_RESOLVE_HOST;
			int failed = retry && !overload &&
				     (r.curl != CURLE_OK || (r.status >= 500 && r.status != 503));
			moved = after_attempt(c, s, e, gone, failed, res->code);
		}
		if (r.remaining_zero && r.reset_ms > 0)
			llm_rate_pause(c->rate, capped(c, e, r.reset_ms, "x-ratelimit-reset"));
		double retry_after = r.retry_after_ms;
		if (ok) {
			res->code[0] = '\0';
			res->message[0] = '\0';
		}
		log_attempt(c, who, e, res, ok, rtt, &r);
		llm_http_resp_free(&r);
		if (ok) {
			buf_free(&b);
			res->status = LLM_OK;
			return 0;
		}
		if (!retry) {
			buf_free(&b);
			res->status = LLM_FATAL;
			atomic_fetch_add(&c->failures, 1);
			atomic_fetch_add(&e->failures, 1);
			return -1;
		}
		/* taken out while another endpoint is in: the request goes there
		 * at once, the attempt not spent (at most twice per endpoint) */
		if (moved && moves < 2 * s->n) {
			moves++;
			attempt--;
			continue;
		}
		if (attempt == max_attempts)
			break;
		double delay;
		lock_take(c->l);
		delay = llm_backoff_ms(c->cfg.backoff_ms, c->cfg.backoff_max_ms, attempt, &c->seed);
		lock_give(c->l);
		/* Retry-After is this request's wait; the whole client pauses
		 * only when the server says its quota is spent
		 * (x-ratelimit-remaining 0, above): one 429 among answers
		 * says "slow down", which the limit does (issue 12) */
		if (retry_after >= 0)
			delay = capped(c, e, retry_after, "Retry-After");
		struct waiter again = {.first = 0};
		if (wait_ms(delay, &again)) {
			buf_free(&b);
			return abandon(res, attempt);
		}
	}
	buf_free(&b);
	res->status = LLM_RETRY_EXHAUSTED;
	atomic_fetch_add(&c->failures, 1);
	if (last)
		atomic_fetch_add(&last->failures, 1);
	size_t ml = strlen(res->message);
	snprintf(res->message + ml, sizeof res->message - ml, " (gave up after %d attempts)",
		 res->attempts);
	return -1;
}

double llm_backoff_ms(double base, double cap, int attempt, unsigned *seed)
{
	double ceiling = base * pow(2, attempt - 1);
	if (ceiling > cap)
		ceiling = cap;
	/* full jitter: uniform in [0, ceiling] (AWS architecture blog) */
	return ceiling * ((double)rand_r(seed) / RAND_MAX);
}

double llm_parse_retry_after(const char *v, double now_epoch)
{
	double secs;
	if (!parse_double(v, &secs))
		return secs >= 0 ? secs * 1000 : -1;
	/* HTTP date, IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	time_t t = curl_getdate(v, NULL);
	if (t == -1)
		return -1;
	double ms = ((double)t - now_epoch) * 1000;
	return ms > 0 ? ms : 0;
}

double llm_parse_duration(const char *v)
{
	double total = 0;
	int any = 0;
	const char *p = v;
	while (*p) {
		char *end;
		errno = 0;
		double x = strtod(p, &end);
		if (end == p || errno)
			return -1;
		p = end;
		double unit;
		if (!strncmp(p, "ms", 2))
			unit = 1, p += 2;
		else if (*p == 'h')
			unit = 3600000, p++;
		else if (*p == 'm')
			unit = 60000, p++;
		else if (*p == 's')
			unit = 1000, p++;
		else if (!*p)
			unit = 1000;
		else
			return -1;
		total += x * unit;
		any = 1;
	}
	return any ? total : -1;
}

/* ---- chat ---- */

static int parse_chat(const struct ep *e, const struct llm_http_resp *r, void *out,
		      struct llm_result *res, char *err, size_t errlen)
{
	struct llm_answer *a = out;
	a->prompt_tokens = a->completion_tokens = -1;
	a->truncated = 0;
	int rc = llm_wire_chat_parse(r->body.p, r->body.len, a, e->wire->content, e->wire->usage,
				     err, errlen);
	if (rc == 0) {
		res->prompt_tokens = a->prompt_tokens;
		res->completion_tokens = a->completion_tokens;
	}
	return rc;
}

/* An OpenAI-compatible server that does not take the response_format
 * asked for says so in a 400. */
static int refuses_format(const struct llm_result *res)
{
	return res->status == LLM_FATAL && res->http_status == 400 &&
	       (strstr(res->message, "response_format") || strstr(res->message, "json_schema"));
}

static const char *chat_path(const struct ep *e)
{
	return e->wire->chat_path;
}

static const char *embed_path(const struct ep *e)
{
	return e->wire->embed_path;
}

static const char *models_path(const struct ep *e)
{
	return e->wire->models_path;
}

struct chat_body {
	const struct llm_chat *req;
	const char *schema;
	long seed;
	int with_schema; /* the last body asked for json_schema answers */
};

static void chat_body(struct llm *c, struct ep *e, struct buf *b, void *ud)
{
	struct chat_body *cb = ud;
	struct llm_chat req = *cb->req;
	if (e->e.model)
		req.model = e->e.model;
	int schema_ok = !atomic_load(&e->json_schema_unsupported);
	cb->with_schema = schema_ok;
	e->wire->chat_body(b, &c->cfg, &req, cb->schema, schema_ok, c->cfg.stream, cb->seed);
}

char *llm_chat(struct llm *c, const struct llm_chat *req, struct llm_result *res)
{
	char *schema = req->schema ? cJSON_PrintUnformatted(req->schema) : NULL;
	long seed = c->cfg.seed;
	if (req->variant > 0)
		seed = (seed >= 0 ? seed : 0) + req->variant;
	size_t est = strlen(req->user) + (req->system ? strlen(req->system) : 0) +
		     (schema ? strlen(schema) : 0) + (req->prev_answer ? strlen(req->prev_answer) : 0);
	struct chat_body cb = {req, schema, seed, 0};
	const struct eset *s = &c->use[LLM_USE_CHAT];
	struct ep *only = NULL;
	for (;;) {
		struct llm_answer a = {0};
		struct ep *e = NULL;
		struct who who = {
			.e = {.stage = c->tool, .model = req->model, .ids = &req->id,
			      .nids = req->id ? 1 : 0, .system = req->system, .prompt = req->user,
			      .feedback = req->prev_answer ? req->correction : NULL},
			.answer = (const char *const *)&a.text,
		};
		int rc = call(c, s, only, chat_path, chat_body, &cb, est, c->cfg.stream, parse_chat,
			      &a, req->model, res, c->cfg.max_attempts, &e, &who);
		/* a server without json_schema answers 400: json_object instead
		 * (the schema is still in the prompt), decided once per endpoint
		 * for the run and tried once per call there, so that a server
		 * that refuses both fails the call instead of looping (a request
		 * sent with json_schema while another call decided it goes
		 * again too) */
		if (rc && schema && e && !only && e->wire == &llm_openai_wire && cb.with_schema &&
		    refuses_format(res)) {
			int was = 0;
			if (atomic_compare_exchange_strong(&e->json_schema_unsupported, &was, 1))
				log_warn("%s does not support json_schema answers; using json_object",
					 e->e.shown_url);
			only = e;
			continue;
		}
		free(schema);
		if (rc)
			return NULL;
		res->truncated = a.truncated;
		return a.text;
	}
}

/* ---- embeddings ---- */

struct embed_out {
	size_t n;
	int dim;
	int got;   /* vectors answered */
	float *v;
};

static int parse_embed(const struct ep *e, const struct llm_http_resp *r, void *outp,
		       struct llm_result *res, char *err, size_t errlen)
{
	struct embed_out *o = outp;
	int rc = llm_wire_embed_parse(e->wire, r->body.p, r->body.len, o->n, &o->v, &o->dim,
				      &res->prompt_tokens, err, errlen);
	o->got = rc ? 0 : (int)o->n;
	return rc;
}

struct embed_body {
	const char *model;
	const char *const *texts;
	size_t n;
	int dim_hint;
};

static void embed_body(struct llm *c, struct ep *e, struct buf *b, void *ud)
{
	const struct embed_body *eb = ud;
	e->wire->embed_body(b, &c->cfg, e->e.model ? e->e.model : eb->model, eb->texts, eb->n,
			    eb->dim_hint);
}

float *llm_embed(struct llm *c, const char *model, const char *const *texts,
		 const char *const *ids, size_t n, int dim_hint, int *dim,
		 struct llm_result *res)
{
	struct embed_body eb = {model, texts, n, dim_hint};
	size_t est = 0;
	for (size_t i = 0; i < n; i++)
		est += strlen(texts[i]) + 8;
	struct embed_out o = {.n = n};
	struct who who = {
		.e = {.stage = c->tool, .model = model, .ids = ids, .nids = ids ? n : 0,
		      .texts = texts, .ntexts = n},
		.vectors = &o.got,
		.dim = &o.dim,
	};
	int rc = call(c, &c->use[LLM_USE_EMBED], NULL, embed_path, embed_body, &eb, est, 0,
		      parse_embed, &o, model, res, c->cfg.max_attempts, NULL, &who);
	if (rc)
		return NULL;
	*dim = o.dim;
	return o.v;
}

/* ---- start-up check ---- */

static int parse_any_json(const struct ep *e, const struct llm_http_resp *r, void *outp,
			  struct llm_result *res, char *err, size_t errlen)
{
	(void)e;
	(void)res;
	cJSON **j = outp;
	*j = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
	if (!*j) {
		snprintf(err, errlen, "the answer is not JSON");
		return LLM_WIRE_CUT;
	}
	return 0;
}

/* llama-server states its slots (--parallel) in GET /props total_slots,
 * at the root of the server (curl removes the dot segments): the adaptive
 * limit of endpoint e starts there instead of searching. Other servers
 * answer 404, which is no error. */
static const char *props_path(const struct ep *e)
{
	(void)e;
	return "/../props";
}

static void server_slots(struct llm *c, struct ep *e)
{
	if (e->wire != &llm_openai_wire || c->cfg.concurrency > 0)
		return;
	struct llm_result res;
	cJSON *props = NULL;
	if (call(c, NULL, e, props_path, NULL, NULL, 0, 0, parse_any_json, &props, NULL, &res, 1,
		 NULL, NULL)) {
		if (res.status != LLM_ABANDONED) {
			/* not a failed record */
			atomic_fetch_sub(&c->failures, 1);
			atomic_fetch_sub(&e->failures, 1);
		}
		return;
	}
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(props, "total_slots");
	if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 1e6) {
		llm_slots_server(e->slots, (int)n->valuedouble);
		log_event("llm: %s has %d slots (/props total_slots): %d requests in flight",
			  e->e.shown_url, (int)n->valuedouble, ep_limit(e));
	}
	cJSON_Delete(props);
}

/* One endpoint has the model (its own name for it). */
static int check_one(struct llm *c, struct ep *e, const char *model, const char *from,
		     char *info, size_t infolen, char *err, size_t errlen)
{
	struct llm_result res;
	cJSON *list = NULL;
	int attempts = c->cfg.max_attempts < 3 ? c->cfg.max_attempts : 3;
	const char *url = e->e.shown_url;
	info[0] = '\0';
	if (e->e.model)
		model = e->e.model;
	if (call(c, NULL, e, models_path, NULL, NULL, 0, 0, parse_any_json, &list, NULL, &res,
		 attempts, NULL, NULL)) {
		if (e->wire == &llm_openai_wire && res.http_status == 404) {
			/* some servers have no model list: the first request will tell */
			log_warn("%s has no /models list; not checking model '%s'", url, model);
			return 0;
		}
		if (res.status == LLM_ABANDONED)
			snprintf(err, errlen, "stopped before the server answered");
		else if (!strcmp(res.code, "connect") || !strcmp(res.code, "transport") ||
			 !strcmp(res.code, "timeout"))
			snprintf(err, errlen, "cannot reach the LLM server at %s (%s): is it running? "
				 "Set %s, OLLAMA_HOST or OPENAI_BASE_URL", url, res.message,
				 !strcmp(from, "llm.base_url") ? "llm.base_url" : from);
		else if (res.http_status == 404)
			/* an OpenAI-compatible server asked for Ollama's list */
			snprintf(err, errlen, "%s: this server has no Ollama API (%s %s); "
				 "if it is OpenAI-compatible (vLLM, llama.cpp, LM Studio), end the URL "
				 "in /v1 or set %s", res.message,
				 !strcmp(e->e.backend_why, "its backend=") ? "backend=" : "llm.backend",
				 e->e.backend_why,
				 !strcmp(from, "llm.base_url") ? "llm.backend: openai" : "backend=openai");
		else
			snprintf(err, errlen, "%s", res.message);
		return -1;
	}
	struct buf have = {0};
	int found = llm_wire_model_listed(e->wire, list, model, info, infolen, &have);
	cJSON_Delete(list);
	if (found)
		server_slots(c, e);
	if (!found)
		e->wire->model_missing(err, errlen, model, url, have.len ? have.p : "", NULL);
	buf_free(&have);
	return found ? 0 : -1;
}

int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen)
{
	return llm_check_model_for(c, LLM_USE_CHAT, model, info, infolen, err, errlen);
}

int llm_check_model_for(struct llm *c, enum llm_use use, const char *model, char *info,
			size_t infolen, char *err, size_t errlen)
{
	const struct eset *s = &c->use[use];
	const char *from = c->cfg.ep[use].n ? c->cfg.ep[use].from : "llm.base_url";
	info[0] = '\0';
	for (int i = 0; i < s->n; i++) {
		struct ep *e = s->v[i];
		atomic_store(&e->used, 1);
		if (use == LLM_USE_EMBED && i > 0 &&
		    !same_str(e->e.model ? e->e.model : model,
			      s->v[0]->e.model ? s->v[0]->e.model : model)) {
			snprintf(err, errlen, "%s: %s serves '%s' and %s '%s': embeddings of two "
				 "models are not comparable, so the endpoints of an embedding list "
				 "must serve one model", from, s->v[0]->e.shown_url,
				 s->v[0]->e.model ? s->v[0]->e.model : model, e->e.shown_url,
				 e->e.model ? e->e.model : model);
			return -2;
		}
		char one[128];
		if (check_one(c, e, model, from, one, sizeof one, err, errlen))
			return -1;
		if (i == 0) {
			snprintf(info, infolen, "%s", one);
		} else if (use == LLM_USE_EMBED && *one && *info && strcmp(one, info)) {
			snprintf(err, errlen, "%s: %s and %s report different digests of model '%s' "
				 "(%s, %s): embeddings of two models are not comparable, so the "
				 "endpoints of an embedding list must serve one model", from,
				 s->v[0]->e.shown_url, e->e.shown_url, model, info, one);
			return -1;
		}
	}
	return 0;
}

/* ---- figures ---- */

void llm_describe(struct llm *c, enum llm_use use, struct buf *out)
{
	const struct eset *s = &c->use[use];
	if (s->n == 1) {
		buf_printf(out, "url=%s", s->v[0]->e.shown_url);
		return;
	}
	buf_printf(out, "endpoints=");
	for (int i = 0; i < s->n; i++) {
		const struct ep *e = s->v[i];
		buf_printf(out, "%s%s (%s", i ? "," : "", e->e.shown_url, e->wire->name);
		if (e->e.model)
			buf_printf(out, ", model %s", e->e.model);
		if (e->e.capacity)
			buf_printf(out, ", capacity %d", e->e.capacity);
		else
			buf_printf(out, ", capacity %d", c->cfg.max_concurrency);
		buf_printf(out, ", weight %g)", e->e.weight);
	}
}

/* The endpoints whose figures count: those checked or sent to (all when
 * none is yet). */
static int counted(const struct llm *c, const struct ep *e)
{
	for (int i = 0; i < c->neps; i++)
		if (atomic_load(&c->eps[i].used))
			return atomic_load(&e->used);
	return 1;
}

int llm_limit(struct llm *c)
{
	int total = 0;
	for (int i = 0; i < c->neps; i++)
		if (counted(c, &c->eps[i]))
			total += ep_limit(&c->eps[i]);
	return total;
}

void llm_progress(struct llm *c, char *out, size_t outlen)
{
	int inflight = 0, limit = 0, nused = 0;
	double lat = 0, lat_n = 0;
	for (int i = 0; i < c->neps; i++) {
		if (!counted(c, &c->eps[i]))
			continue;
		struct llm_slots_figures f;
		llm_slots_figures(c->eps[i].slots, &f);
		inflight += f.inflight;
		limit += f.limit;
		if (f.latency_ms > 0)
			lat += f.latency_ms, lat_n++;
		nused++;
	}
	double now = now_ms(), oldest = now;
	lock_take(c->l);
	for (int i = 0; i < c->nstarted; i++)
		if (c->started_at[i] > 0 && c->started_at[i] < oldest)
			oldest = c->started_at[i];
	lock_give(c->l);
	char age[48] = "";
	long secs_old = (long)((now - oldest) / 1000);
	if (secs_old >= 60)
		snprintf(age, sizeof age, " (oldest %ldm%lds)", secs_old / 60, secs_old % 60);
	else if (inflight > 0)
		snprintf(age, sizeof age, " (oldest %lds)", secs_old);
	double secs = (now - c->started) / 1000;
	long req = atomic_load(&c->requests);
	int n = snprintf(out, outlen,
			 "requests in flight %d/%d%s, %.1f req/s, latency %.0fms, retries %ld",
			 inflight, limit, age, secs > 0 ? (double)req / secs : 0.0,
			 lat_n > 0 ? lat / lat_n : 0.0, atomic_load(&c->retries));
	if (nused < 2)
		return;
	/* per endpoint: "; URL 3/4", "out" when taken out */
	for (int i = 0; i < c->neps && n >= 0 && (size_t)n < outlen; i++) {
		struct ep *e = &c->eps[i];
		if (!counted(c, e))
			continue;
		struct llm_slots_figures f;
		llm_slots_figures(e->slots, &f);
		lock_take(c->dl);
		int out_now = e->out;
		lock_give(c->dl);
		n += snprintf(out + n, outlen - (size_t)n, "; %s %d/%d%s", e->e.shown_url, f.inflight,
			      f.limit, out_now ? " out" : "");
	}
}

void llm_totals(struct llm *c, struct llm_totals *t)
{
	memset(t, 0, sizeof *t);
	t->requests = atomic_load(&c->requests);
	t->retries = atomic_load(&c->retries);
	t->failures = atomic_load(&c->failures);
	t->prompt_tokens = atomic_load(&c->prompt_tokens);
	t->completion_tokens = atomic_load(&c->completion_tokens);
	for (int i = 0; i < c->neps; i++) {
		if (!counted(c, &c->eps[i]))
			continue;
		struct llm_slots_figures f;
		llm_slots_figures(c->eps[i].slots, &f);
		t->connections += llm_http_connections(c->eps[i].http);
		t->limit += f.limit;
		t->peak_inflight += f.peak_inflight;
	}
}

void llm_endpoint_totals(struct llm *c, struct buf *out)
{
	int nused = 0;
	for (int i = 0; i < c->neps; i++)
		nused += counted(c, &c->eps[i]);
	if (nused < 2)
		return;
	for (int i = 0; i < c->neps; i++) {
		struct ep *e = &c->eps[i];
		if (!counted(c, e))
			continue;
		struct llm_slots_figures f;
		llm_slots_figures(e->slots, &f);
		buf_printf(out, "%s%s: %ld requests, %ld failed calls, taken out %ld times, peak %d "
			   "in flight, final limit %d", out->len ? "\n" : "", e->e.shown_url,
			   atomic_load(&e->requests), atomic_load(&e->failures),
			   atomic_load(&e->outs), f.peak_inflight, f.limit);
	}
}
