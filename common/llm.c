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
 * llm_openai.c). */
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

struct llm {
	struct llm_config cfg;
	const struct llm_wire *wire;
	const char *tool;
	struct llm_http *http;
	struct llm_rate *rate;
	struct llm_slots *slots;
	struct lock *l;       /* the backoff generator, the start times */
	unsigned seed;
	double *started_at;   /* start of each model request in flight, 0 = free */
	int nstarted;
	atomic_long requests, retries, failures;
	double started;
	atomic_int json_schema_unsupported; /* OpenAI server refused json_schema */
	atomic_int capped_said;
	atomic_long prompt_tokens, completion_tokens;
	struct reqlog *log;   /* NULL: no request log */
};

static int aborting(void)
{
	return app_aborting();
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
	c->wire = cfg->backend == LLM_OPENAI ? &llm_openai_wire : &llm_ollama_wire;
	c->tool = tool;
	struct llm_http_limits lim = {
		.connect_timeout_ms = c->cfg.connect_timeout_ms,
		.timeout_ms = c->cfg.timeout_ms > 0 ? c->cfg.timeout_ms : 3600000,
		.idle_timeout_ms = c->cfg.idle_timeout_ms > 0 ? c->cfg.idle_timeout_ms : 300000,
		.max_body_bytes = c->cfg.max_body_bytes > 0 ? c->cfg.max_body_bytes : 268435456L,
		.aborting = aborting,
	};
	c->http = llm_http_new(c->cfg.base_url, c->cfg.api_key, &lim, c->cfg.max_concurrency + 1);
	c->rate = llm_rate_new(c->cfg.rpm, c->cfg.tpm);
	c->slots = llm_slots_new(cfg->concurrency, cfg->max_concurrency);
	c->l = lock_new();
	c->nstarted = c->cfg.max_concurrency + 1;
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
	llm_http_free(c->http);
	llm_rate_free(c->rate);
	llm_slots_free(c->slots);
	lock_free(c->l);
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
	return c->wire->name;
}

int llm_limit(struct llm *c)
{
	struct llm_slots_figures f;
	llm_slots_figures(c->slots, &f);
	return f.limit;
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
static int http_error(struct llm *c, const char *path, const char *model,
		      const struct llm_http_resp *r, struct llm_result *res)
{
	char msg[400];
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
			 "llm.num_ctx for Ollama)", st, c->cfg.shown_url, path, msg);
	} else if (st == 500 && strcasestr(msg, "input is too large")) {
		/* llama-server: a text over the slot's context or batch; the
		 * same request will always fail, a smaller one may pass */
		retry = 0;
		res->refused = 1;
		snprintf(res->code, sizeof res->code, "input_too_large");
		snprintf(res->message, sizeof res->message,
			 "a text is too large for the server (HTTP 500 from %s%s: %s): shorten it, "
			 "or raise llama-server's -c, --batch-size and --ubatch-size",
			 c->cfg.shown_url, path, msg);
	} else if (st == 404 && model) {
		c->wire->model_missing(res->message, sizeof res->message, model, c->cfg.shown_url,
				       NULL, msg);
	} else if (st == 401 || st == 403) {
		snprintf(res->message, sizeof res->message,
			 "%s refused the API key (HTTP %ld: %s): set OPENAI_API_KEY or llm.api_key_file",
			 c->cfg.shown_url, st, msg);
	} else if (st == 501) {
		snprintf(res->message, sizeof res->message,
			 "HTTP 501 from %s%s: %s: the server does not do this (llama-server serves "
			 "embeddings only when started with --embeddings)", c->cfg.shown_url, path, msg);
	} else {
		snprintf(res->message, sizeof res->message, "HTTP %ld from %s%s: %s", st,
			 c->cfg.shown_url, path, msg);
	}
	return retry;
}

/* A wait the server asks for (Retry-After, x-ratelimit-reset-*), capped at
 * llm.backoff_max_ms and said when capped. */
static double capped(struct llm *c, double ms, const char *what)
{
	double cap = c->cfg.backoff_max_ms;
	if (ms <= cap)
		return ms;
	if (atomic_fetch_add(&c->capped_said, 1) < CAPPED_SAID_MAX)
		log_warn("%s asks to wait %.0f s (%s); waiting %.1f s (llm.backoff_max_ms)",
			 c->cfg.shown_url, ms / 1000, what, cap / 1000);
	return cap;
}

/* Reader of a 200 body; returns 0 and fills out (and the tokens in res),
 * or LLM_WIRE_CUT / LLM_WIRE_SHAPE with a message. */
typedef int (*parse_fn)(const struct llm *c, const struct llm_http_resp *r, void *out,
			struct llm_result *res, char *err, size_t errlen);

/* What a request was for, as the request log names it; NULL for requests
 * that are not model work. answer: the text a reader found (chat), logged
 * instead of the raw body; vectors: the embeddings answered. */
struct who {
	struct reqlog_entry e;
	const char *const *answer;
	const int *vectors, *dim;
};

/* One attempt in the request log. */
static void log_attempt(struct llm *c, const struct who *who, const struct llm_result *res,
			int ok, double rtt, const struct llm_http_resp *r)
{
	if (!c->log || !who)
		return;
	struct reqlog_entry e = who->e;
	e.kind = "request";
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

/* Sends body to path (GET when body is NULL) with retries. model, when
 * set, names the model in the message of a 404; who, when set, what the
 * request log says of each attempt. */
static int call(struct llm *c, const char *path, const char *body, size_t body_len,
		int streamed, parse_fn parse, void *out, const char *model,
		struct llm_result *res, int max_attempts, const struct who *who)
{
	memset(res, 0, sizeof *res);
	res->prompt_tokens = res->completion_tokens = -1;
	long tokens = (long)(body_len / 4) + 1;
	/* model lists and versions are not model work: they neither take a
	 * slot nor teach the limit anything */
	int slotted = body != NULL;
	for (int attempt = 1; attempt <= max_attempts; attempt++) {
		struct waiter w = {.first = attempt == 1};
		if (give_up(&w) || llm_rate_wait(c->rate, tokens, give_up, &w) ||
		    (slotted && llm_slots_acquire(c->slots, give_up, &w)))
			return abandon(res, attempt - 1);
		res->attempts = attempt;
		struct llm_http_resp r;
		memset(&r, 0, sizeof r);
		int at = slotted ? started_add(c) : -1;
		double t0 = now_ms();
		llm_http_do(c->http, path, body, body_len, streamed, &r);
		double rtt = now_ms() - t0;
		started_remove(c, at);
		if (slotted) {
			/* model requests only: the start-up check is not work */
			atomic_fetch_add(&c->requests, 1);
			if (attempt > 1)
				atomic_fetch_add(&c->retries, 1);
		}
		res->http_status = (int)r.status;
		int overload = r.status == 429 || r.status == 503;
		int retry = 0, ok = 0;
		char msg[400];
		if (r.curl != CURLE_OK && r.aborted) {
			if (slotted)
				llm_slots_release(c->slots, rtt, 0, 0);
			llm_http_resp_free(&r);
			return abandon(res, attempt);
		}
		if (r.curl != CURLE_OK && r.too_big) {
			snprintf(res->code, sizeof res->code, "body_too_large");
			snprintf(res->message, sizeof res->message,
				 "the answer from %s%s is larger than llm.max_body_bytes (%ld bytes, "
				 "decoded): raise it if the server is right", c->cfg.shown_url, path,
				 c->cfg.max_body_bytes);
		} else if (r.curl != CURLE_OK && r.silent) {
			retry = 1;
			snprintf(res->code, sizeof res->code, "timeout");
			snprintf(res->message, sizeof res->message,
				 "%s%s: no byte from the server for %.1f s (llm.idle_timeout_ms)",
				 c->cfg.shown_url, path, (double)c->cfg.idle_timeout_ms / 1000);
		} else if (r.curl != CURLE_OK) {
			retry = retryable_curl(r.curl);
			snprintf(res->code, sizeof res->code, "%s",
				 r.curl == CURLE_OPERATION_TIMEDOUT ? "timeout"
				 : r.curl == CURLE_COULDNT_CONNECT ? "connect"
				 : r.curl == CURLE_PARTIAL_FILE ? "truncated" : "transport");
			snprintf(res->message, sizeof res->message, "%s%s: %s", c->cfg.shown_url, path,
				 r.curl_err[0] ? r.curl_err : curl_easy_strerror(r.curl));
		} else if (r.status >= 200 && r.status < 300) {
			int prc = parse(c, &r, out, res, msg, sizeof msg);
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
					 "unexpected answer from %s%s: %s", c->cfg.shown_url, path, msg);
			} else {
				retry = 1;
				snprintf(res->code, sizeof res->code, "bad_body");
				snprintf(res->message, sizeof res->message,
					 "unusable answer from %s%s: %s", c->cfg.shown_url, path, msg);
			}
		} else {
			retry = http_error(c, path, model, &r, res);
		}
		/* a refused connection or a transport error says nothing about load */
		if (slotted)
			llm_slots_release(c->slots, rtt, overload, r.curl == CURLE_OK);
		if (r.remaining_zero && r.reset_ms > 0)
			llm_rate_pause(c->rate, capped(c, r.reset_ms, "x-ratelimit-reset"));
		double retry_after = r.retry_after_ms;
		if (ok) {
			res->code[0] = '\0';
			res->message[0] = '\0';
		}
		log_attempt(c, who, res, ok, rtt, &r);
		llm_http_resp_free(&r);
		if (ok) {
			res->status = LLM_OK;
			return 0;
		}
		if (!retry) {
			res->status = LLM_FATAL;
			atomic_fetch_add(&c->failures, 1);
			return -1;
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
			delay = capped(c, retry_after, "Retry-After");
		struct waiter again = {.first = 0};
		if (wait_ms(delay, &again))
			return abandon(res, attempt);
	}
	res->status = LLM_RETRY_EXHAUSTED;
	atomic_fetch_add(&c->failures, 1);
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

static int parse_chat(const struct llm *c, const struct llm_http_resp *r, void *out,
		      struct llm_result *res, char *err, size_t errlen)
{
	struct llm_answer *a = out;
	a->prompt_tokens = a->completion_tokens = -1;
	a->truncated = 0;
	int rc = llm_wire_chat_parse(r->body.p, r->body.len, a, c->wire->content, c->wire->usage,
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

char *llm_chat(struct llm *c, const struct llm_chat *req, struct llm_result *res)
{
	char *schema = req->schema ? cJSON_PrintUnformatted(req->schema) : NULL;
	long seed = c->cfg.seed;
	if (req->variant > 0)
		seed = (seed >= 0 ? seed : 0) + req->variant;
	int fell_back = 0;
	for (;;) {
		int schema_ok = !atomic_load(&c->json_schema_unsupported);
		struct buf b = {0};
		c->wire->chat_body(&b, &c->cfg, req, schema, schema_ok, c->cfg.stream, seed);
		struct llm_answer a = {0};
		struct who who = {
			.e = {.stage = c->tool, .model = req->model, .ids = &req->id,
			      .nids = req->id ? 1 : 0, .system = req->system, .prompt = req->user,
			      .feedback = req->prev_answer ? req->correction : NULL},
			.answer = (const char *const *)&a.text,
		};
		int rc = call(c, c->wire->chat_path, b.p, b.len, c->cfg.stream, parse_chat, &a,
			      req->model, res, c->cfg.max_attempts, &who);
		buf_free(&b);
		/* a server without json_schema answers 400: json_object instead
		 * (the schema is still in the prompt), decided once for the run
		 * and tried once per call, so that a server that refuses both
		 * fails the call instead of looping */
		if (rc && schema && schema_ok && !fell_back && c->wire == &llm_openai_wire &&
		    refuses_format(res)) {
			fell_back = 1;
			int was = 0;
			if (atomic_compare_exchange_strong(&c->json_schema_unsupported, &was, 1))
				log_warn("%s does not support json_schema answers; using json_object",
					 c->cfg.shown_url);
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

static int parse_embed(const struct llm *c, const struct llm_http_resp *r, void *outp,
		       struct llm_result *res, char *err, size_t errlen)
{
	struct embed_out *o = outp;
	int rc = llm_wire_embed_parse(c->wire, r->body.p, r->body.len, o->n, &o->v, &o->dim,
				      &res->prompt_tokens, err, errlen);
	o->got = rc ? 0 : (int)o->n;
	return rc;
}

float *llm_embed(struct llm *c, const char *model, const char *const *texts,
		 const char *const *ids, size_t n, int dim_hint, int *dim,
		 struct llm_result *res)
{
	struct buf b = {0};
	c->wire->embed_body(&b, &c->cfg, model, texts, n, dim_hint);
	struct embed_out o = {.n = n};
	struct who who = {
		.e = {.stage = c->tool, .model = model, .ids = ids, .nids = ids ? n : 0,
		      .texts = texts, .ntexts = n},
		.vectors = &o.got,
		.dim = &o.dim,
	};
	int rc = call(c, c->wire->embed_path, b.p, b.len, 0, parse_embed, &o, model, res,
		      c->cfg.max_attempts, &who);
	buf_free(&b);
	if (rc)
		return NULL;
	*dim = o.dim;
	return o.v;
}

/* ---- start-up check ---- */

static int parse_any_json(const struct llm *c, const struct llm_http_resp *r, void *outp,
			  struct llm_result *res, char *err, size_t errlen)
{
	(void)c;
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
 * limit starts there instead of searching. Other servers answer 404, which
 * is no error. */
static void server_slots(struct llm *c)
{
	if (c->wire != &llm_openai_wire || c->cfg.concurrency > 0)
		return;
	struct llm_result res;
	cJSON *props = NULL;
	if (call(c, "/../props", NULL, 0, 0, parse_any_json, &props, NULL, &res, 1, NULL)) {
		if (res.status != LLM_ABANDONED)
			atomic_fetch_sub(&c->failures, 1); /* not a failed record */
		return;
	}
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(props, "total_slots");
	if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 1e6) {
		llm_slots_server(c->slots, (int)n->valuedouble);
		log_event("llm: %s has %d slots (/props total_slots): %d requests in flight",
			  c->cfg.shown_url, (int)n->valuedouble, llm_limit(c));
	}
	cJSON_Delete(props);
}

int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen)
{
	struct llm_result res;
	cJSON *list = NULL;
	const char *path = c->wire->models_path;
	int attempts = c->cfg.max_attempts < 3 ? c->cfg.max_attempts : 3;
	info[0] = '\0';
	if (call(c, path, NULL, 0, 0, parse_any_json, &list, NULL, &res, attempts, NULL)) {
		if (c->wire == &llm_openai_wire && res.http_status == 404) {
			/* some servers have no model list: the first request will tell */
			log_warn("%s has no /models list; not checking model '%s'", c->cfg.shown_url,
				 model);
			return 0;
		}
		if (res.status == LLM_ABANDONED)
			snprintf(err, errlen, "stopped before the server answered");
		else if (!strcmp(res.code, "connect") || !strcmp(res.code, "transport") ||
			 !strcmp(res.code, "timeout"))
			snprintf(err, errlen, "cannot reach the LLM server at %s (%s): is it running? "
				 "Set llm.base_url, OLLAMA_HOST or OPENAI_BASE_URL", c->cfg.shown_url,
				 res.message);
		else if (res.http_status == 404)
			/* an OpenAI-compatible server asked for Ollama's list */
			snprintf(err, errlen, "%s: this server has no Ollama API (llm.backend %s); "
				 "if it is OpenAI-compatible (vLLM, llama.cpp, LM Studio), end the URL "
				 "in /v1 or set llm.backend: openai", res.message, c->cfg.backend_why);
		else
			snprintf(err, errlen, "%s", res.message);
		return -1;
	}
	struct buf have = {0};
	int found = llm_wire_model_listed(c->wire, list, model, info, infolen, &have);
	cJSON_Delete(list);
	if (found)
		server_slots(c);
	if (!found)
		c->wire->model_missing(err, errlen, model, c->cfg.shown_url, have.len ? have.p : "",
				       NULL);
	buf_free(&have);
	return found ? 0 : -1;
}

/* ---- figures ---- */

void llm_progress(struct llm *c, char *out, size_t outlen)
{
	struct llm_slots_figures f;
	llm_slots_figures(c->slots, &f);
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
	else if (f.inflight > 0)
		snprintf(age, sizeof age, " (oldest %lds)", secs_old);
	double secs = (now - c->started) / 1000;
	long req = atomic_load(&c->requests);
	snprintf(out, outlen, "requests in flight %d/%d%s, %.1f req/s, latency %.0fms, retries %ld",
		 f.inflight, f.limit, age, secs > 0 ? (double)req / secs : 0.0, f.latency_ms,
		 atomic_load(&c->retries));
}

void llm_totals(struct llm *c, struct llm_totals *t)
{
	t->requests = atomic_load(&c->requests);
	t->retries = atomic_load(&c->retries);
	t->connections = llm_http_connections(c->http);
	t->failures = atomic_load(&c->failures);
	t->prompt_tokens = atomic_load(&c->prompt_tokens);
	t->completion_tokens = atomic_load(&c->completion_tokens);
	struct llm_slots_figures f;
	llm_slots_figures(c->slots, &f);
	t->limit = f.limit;
	t->peak_inflight = f.peak_inflight;
}
