/* llm: the client's calls and their retries. A call waits for the rate
 * limiter (llm_rate) and a server with a free slot (llm_servers,
 * llm_slots), goes out over the transport (llm_http), and is retried when
 * the trouble may pass (llm_errors says which) with full-jitter backoff or
 * the server's Retry-After, every wait a server asks for capped at
 * llm.backoff_max_ms. A stop request (app.h) ends the waits: a call not
 * yet sent is abandoned as soon as the tool stops taking work, one under
 * way when the grace period ends (its transfer aborted). Request bodies
 * and answers are the wire format's (llm_ollama.c, llm_openai.c). A
 * request that failed on a server taken out of its set goes to another
 * one without spending an attempt. */
#include "llm.h"
#include "app.h"
#include "llm_errors.h"
#include "llm_http.h"
#include "llm_rate.h"
#include "llm_servers.h"
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
#include <time.h>

/* Waits the server asked for that were capped, said at most this often. */
#define CAPPED_SAID_MAX 3

struct llm {
	struct llm_config cfg;
	const char *tool;
	struct llm_servers *sv;
	struct llm_rate *rate;
	struct lock *l;       /* the backoff generator */
	unsigned seed;
	atomic_long requests, retries, failures;
	atomic_int waiting;   /* calls waiting to try again */
	double started;
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
	c->tool = tool;
	struct llm_http_limits lim = {
		.connect_timeout_ms = c->cfg.connect_timeout_ms,
		.timeout_ms = c->cfg.timeout_ms > 0 ? c->cfg.timeout_ms : 3600000,
		.idle_timeout_ms = c->cfg.idle_timeout_ms > 0 ? c->cfg.idle_timeout_ms : 300000,
		.max_body_bytes = c->cfg.max_body_bytes > 0 ? c->cfg.max_body_bytes : 268435456L,
		.aborting = aborting,
	};
	/* the lists are cfg's, shared by the copy until the servers have
	 * copied what they keep; where they came from stays, for messages */
	c->sv = llm_servers_new(&c->cfg, &lim);
	for (int u = 0; u < 2; u++) {
		c->cfg.ep[u].v = NULL;
		c->cfg.ep[u].n = 0;
	}
	c->rate = llm_rate_new(c->cfg.rpm, c->cfg.tpm);
	c->l = lock_new();
	c->started = now_ms();
	c->seed = (unsigned)(now_us() ^ (uint64_t)(uintptr_t)c);
	return c;
}

void llm_free(struct llm *c)
{
	if (!c)
		return;
	reqlog_close(c->log);
	llm_servers_free(c->sv);
	llm_rate_free(c->rate);
	lock_free(c->l);
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
	const struct llm_server_set *s = llm_servers_use(c->sv, use);
	for (int i = 1; i < s->n; i++)
		if (s->v[i]->wire != s->v[0]->wire)
			return "mixed";
	return s->v[0]->wire->name;
}

int llm_same_endpoints(struct llm *c)
{
	return llm_servers_same_uses(c->sv);
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


/* A wait the server asks for (Retry-After, x-ratelimit-reset-*), capped at
 * llm.backoff_max_ms and said when capped. */
static double capped(struct llm *c, const struct llm_server *e, double ms, const char *what)
{
	double cap = c->cfg.backoff_max_ms;
	if (ms <= cap)
		return ms;
	if (atomic_fetch_add(&c->capped_said, 1) < CAPPED_SAID_MAX)
		log_warn("%s asks to wait %.0f s (%s); waiting %.1f s (llm.backoff_max_ms)",
			 e->e.shown_url, ms / 1000, what, cap / 1000);
	return cap;
}

/* The wait before attempt n + 1: the server's Retry-After (this request's
 * wait; the whole client pauses only when the server says its quota is
 * spent, x-ratelimit-remaining 0: one 429 among answers says "slow down",
 * which the limit does), else full-jitter backoff. */
static double retry_delay(struct llm *c, const struct llm_server *e, int n, double retry_after)
{
	if (retry_after >= 0)
		return capped(c, e, retry_after, "Retry-After");
	lock_take(c->l);
	double delay = llm_backoff_ms(c->cfg.backoff_ms, c->cfg.backoff_max_ms, n, &c->seed);
	lock_give(c->l);
	return delay;
}

/* ---- calls ---- */

/* Reader of a 200 body; returns 0 and fills out (and the tokens in res),
 * or LLM_WIRE_CUT / LLM_WIRE_SHAPE with a message. */
typedef int (*parse_fn)(const struct llm_server *e, const struct llm_http_resp *r, void *out,
			struct llm_result *res, char *err, size_t errlen);

/* Writes the body of a request to e (the wire format and the model name
 * are e's). */
typedef void (*body_fn)(struct llm *c, struct llm_server *e, struct buf *b, void *ud);

/* What a request was for, as the request log names it; NULL for requests
 * that are not model work. answer: the text a reader found (chat), logged
 * instead of the raw body; vectors: the embeddings answered. */
struct who {
	struct reqlog_entry e;
	const char *const *answer;
	const int *vectors, *dim;
};

/* A call: the request, where it may go and how its answer is read. */
struct request {
	const struct llm_server_set *s;
	const char *(*path_of)(const struct llm_server *e);
	/* NULL: a GET that is not model work (model lists, versions): it
	 * neither takes a slot nor teaches the limit anything */
	body_fn body;
	void *body_ud;
	size_t est_len;        /* of the prompt, for the token bucket */
	int streamed;
	parse_fn parse;
	void *out;
	const char *model;     /* named in a 404's message; may be NULL */
	int max_attempts;
	const struct who *who; /* NULL: not in the request log */
	struct llm_server *used; /* out: the server of the last attempt */
};

/* What one attempt came to. */
enum outcome { ANSWERED, FAILED, AGAIN, MOVED, ABANDONED };

/* One attempt (sent to ep) in the request log. */
static void log_attempt(struct llm *c, const struct who *who, const struct llm_server *ep,
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

/* Reads the answer r of server e into q->out: returns 1, or 0 with res
 * saying why and *retry whether the same request may do better. */
static int judge(struct llm *c, struct request *q, struct llm_server *e, const char *path,
		 const struct llm_http_resp *r, struct llm_result *res, int *retry)
{
	*retry = 0;
	if (r->curl != CURLE_OK) {
		*retry = llm_errors_transport(e, path, r, &c->cfg, res);
		return 0;
	}
	if (r->status < 200 || r->status >= 300) {
		*retry = llm_errors_http(e, path, q->model, r, res);
		return 0;
	}
	char msg[400];
	int prc = q->parse(e, r, q->out, res, msg, sizeof msg);
	if (prc) {
		*retry = llm_errors_body(e, path, prc, msg, res);
		return 0;
	}
	if (res->prompt_tokens > 0)
		atomic_fetch_add(&c->prompt_tokens, res->prompt_tokens);
	if (res->completion_tokens > 0)
		atomic_fetch_add(&c->completion_tokens, res->completion_tokens);
	res->code[0] = '\0';
	res->message[0] = '\0';
	return 1;
}

/* Attempt n of call q on server e, its slot taken, with body b. */
static enum outcome attempt(struct llm *c, struct request *q, struct llm_server *e,
			    const struct buf *b, int n, struct llm_result *res, double *retry_after)
{
	int slotted = q->body != NULL;
	const char *path = q->path_of(e);
	res->attempts = n;
	struct llm_http_resp r;
	memset(&r, 0, sizeof r);
	int mark = slotted ? llm_servers_started(c->sv) : -1;
	double t0 = now_ms();
	llm_http_do(e->http, path, slotted ? b->p : NULL, slotted ? b->len : 0, q->streamed, &r);
	double rtt = now_ms() - t0;
	llm_servers_finished(c->sv, mark);
	if (slotted) {
		/* model requests only: the start-up check is not work */
		atomic_fetch_add(&c->requests, 1);
		atomic_fetch_add(&e->requests, 1);
		if (n > 1)
			atomic_fetch_add(&c->retries, 1);
	}
	res->http_status = (int)r.status;
	if (r.curl != CURLE_OK && r.aborted) {
		if (slotted)
			llm_servers_done(c->sv, q->s, e, rtt, 0, 0, 0, 0, "");
		llm_http_resp_free(&r);
		return ABANDONED;
	}
	int retry, ok = judge(c, q, e, path, &r, res, &retry);
	int overload = r.status == 429 || r.status == 503;
	int moved = 0;
	if (slotted) {
		/* a refused connection or a transport error says nothing about load */
		int gone = r.curl == CURLE_COULDNT_CONNECT || r.curl == CURLE_COULDNT_RESOLVE_HOST;
		int failed = retry && !overload &&
			     (r.curl != CURLE_OK || (r.status >= 500 && r.status != 503));
		moved = llm_servers_done(c->sv, q->s, e, rtt, overload, r.curl == CURLE_OK, gone,
					 failed, res->code);
	}
	if (r.remaining_zero && r.reset_ms > 0)
		llm_rate_pause(c->rate, capped(c, e, r.reset_ms, "x-ratelimit-reset"));
	*retry_after = r.retry_after_ms;
	log_attempt(c, q->who, e, res, ok, rtt, &r);
	llm_http_resp_free(&r);
	return ok ? ANSWERED : !retry ? FAILED : moved ? MOVED : AGAIN;
}

/* The end of a call after its last attempt (sent: the requests sent). */
static int call_end(struct llm *c, struct llm_server *last, enum outcome o, int sent,
		    struct llm_result *res)
{
	if (o == ANSWERED) {
		res->status = LLM_OK;
		return 0;
	}
	if (o == ABANDONED)
		return abandon(res, sent);
	res->status = o == FAILED ? LLM_FATAL : LLM_RETRY_EXHAUSTED;
	atomic_fetch_add(&c->failures, 1);
	if (last)
		atomic_fetch_add(&last->failures, 1);
	if (o != FAILED) {
		size_t ml = strlen(res->message);
		snprintf(res->message + ml, sizeof res->message - ml,
			 " (gave up after %d attempts)", res->attempts);
	}
	return -1;
}

/* Sends request q with retries to one of the servers of q->s. Returns 0
 * with the answer in q->out, or -1 with res saying why. */
static int call(struct llm *c, struct request *q, struct llm_result *res)
{
	long tokens = (long)(q->est_len / 4) + 1;
	memset(res, 0, sizeof *res);
	res->prompt_tokens = res->completion_tokens = -1;
	struct llm_server *last = NULL;
	struct buf b = {0};
	int moves = 0, sent = 0;
	enum outcome o = AGAIN;
	for (int n = 1; n <= q->max_attempts; n++) {
		struct waiter w = {.first = n == 1};
		struct llm_server *e = q->s->v[0];
		if (give_up(&w) || llm_rate_wait(c->rate, tokens, give_up, &w) ||
		    (q->body && !(e = llm_servers_pick(c->sv, q->s, last, give_up, &w)))) {
			o = ABANDONED;
			sent = n - 1;
			break;
		}
		q->used = e;
		if (q->body && e != last) {
			b.len = 0;
			q->body(c, e, &b, q->body_ud);
		}
		last = e;
		double retry_after = -1;
		o = attempt(c, q, e, &b, n, res, &retry_after);
		sent = n;
		/* taken out while another server is in: the request goes there
		 * at once, the attempt not spent (at most twice per server) */
		if (o == MOVED && moves < 2 * q->s->n) {
			moves++;
			n--;
			continue;
		}
		if ((o != AGAIN && o != MOVED) || n == q->max_attempts)
			break;
		struct waiter again = {.first = 0};
		atomic_fetch_add(&c->waiting, 1);
		pool_worker_waits();
		int stopped = wait_ms(retry_delay(c, e, n, retry_after), &again);
		atomic_fetch_sub(&c->waiting, 1);
		if (stopped) {
			o = ABANDONED;
			break;
		}
	}
	buf_free(&b);
	if (o == MOVED)
		o = AGAIN;
	return call_end(c, last, o, sent, res);
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

static int parse_chat(const struct llm_server *e, const struct llm_http_resp *r, void *out,
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

static const char *chat_path(const struct llm_server *e)
{
	return e->wire->chat_path;
}

static const char *embed_path(const struct llm_server *e)
{
	return e->wire->embed_path;
}

static const char *models_path(const struct llm_server *e)
{
	return e->wire->models_path;
}

struct chat_body {
	const struct llm_chat *req;
	const char *schema;
	long seed;
	int with_schema; /* the last body asked for json_schema answers */
};

static void chat_body(struct llm *c, struct llm_server *e, struct buf *b, void *ud)
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
	struct llm_server *only = NULL;
	struct llm_server_set one = {&only, 1};
	for (;;) {
		struct llm_answer a = {0};
		struct who who = {
			.e = {.stage = c->tool, .model = req->model, .ids = &req->id,
			      .nids = req->id ? 1 : 0, .system = req->system, .prompt = req->user,
			      .feedback = req->prev_answer ? req->correction : NULL},
			.answer = (const char *const *)&a.text,
		};
		struct request q = {
			.s = only ? &one : llm_servers_use(c->sv, LLM_USE_CHAT),
			.path_of = chat_path, .body = chat_body, .body_ud = &cb, .est_len = est,
			.streamed = c->cfg.stream, .parse = parse_chat, .out = &a, .model = req->model,
			.max_attempts = c->cfg.max_attempts, .who = &who,
		};
		int rc = call(c, &q, res);
		struct llm_server *e = q.used;
		/* a server without json_schema answers 400: json_object instead
		 * (the schema is still in the prompt), decided once per server
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

static int parse_embed(const struct llm_server *e, const struct llm_http_resp *r, void *outp,
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

static void embed_body(struct llm *c, struct llm_server *e, struct buf *b, void *ud)
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
	struct request q = {
		.s = llm_servers_use(c->sv, LLM_USE_EMBED), .path_of = embed_path,
		.body = embed_body, .body_ud = &eb, .est_len = est, .parse = parse_embed, .out = &o,
		.model = model, .max_attempts = c->cfg.max_attempts, .who = &who,
	};
	int rc = call(c, &q, res);
	if (rc)
		return NULL;
	*dim = o.dim;
	return o.v;
}

/* ---- start-up check ---- */

static int parse_any_json(const struct llm_server *e, const struct llm_http_resp *r, void *outp,
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
static const char *props_path(const struct llm_server *e)
{
	(void)e;
	return "/../props";
}

static void server_slots(struct llm *c, struct llm_server *e)
{
	if (e->wire != &llm_openai_wire || c->cfg.concurrency > 0)
		return;
	struct llm_result res;
	cJSON *props = NULL;
	struct llm_server_set one = {&e, 1};
	struct request q = {.s = &one, .path_of = props_path, .parse = parse_any_json,
			    .out = &props, .max_attempts = 1};
	if (call(c, &q, &res)) {
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
			  e->e.shown_url, (int)n->valuedouble, llm_slots_limit(e->slots));
	}
	cJSON_Delete(props);
}

/* One endpoint has the model (its own name for it). */
static int check_one(struct llm *c, struct llm_server *e, const char *model, const char *from,
		     char *info, size_t infolen, char *err, size_t errlen)
{
	struct llm_result res;
	cJSON *list = NULL;
	int attempts = c->cfg.max_attempts < 3 ? c->cfg.max_attempts : 3;
	const char *url = e->e.shown_url;
	int base = !strcmp(from, "llm.base_url");
	info[0] = '\0';
	if (e->e.model)
		model = e->e.model;
	struct llm_server_set one = {&e, 1};
	struct request q = {.s = &one, .path_of = models_path, .parse = parse_any_json,
			    .out = &list, .max_attempts = attempts};
	if (call(c, &q, &res)) {
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
				 "%s%s", url, res.message,
				 base ? "Set llm.base_url, OLLAMA_HOST or OPENAI_BASE_URL"
				      : "Check the list in ", base ? "" : from);
		else if (res.http_status == 404)
			/* an OpenAI-compatible server asked for Ollama's list */
			snprintf(err, errlen, "%s: this server has no Ollama API (%s %s); "
				 "if it is OpenAI-compatible (vLLM, llama.cpp, LM Studio), end the URL "
				 "in /v1 or set %s", res.message,
				 !strcmp(e->e.backend_why, "its backend=") ? "backend=" : "llm.backend",
				 e->e.backend_why,
				 base ? "llm.backend: openai" : "backend=openai");
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
	const struct llm_server_set *s = llm_servers_use(c->sv, use);
	const char *from = c->cfg.ep[use].from[0] ? c->cfg.ep[use].from : "llm.base_url";
	info[0] = '\0';
	for (int i = 0; i < s->n; i++) {
		struct llm_server *e = s->v[i];
		atomic_store(&e->used, 1);
		const char *m0 = s->v[0]->e.model ? s->v[0]->e.model : model;
		const char *mi = e->e.model ? e->e.model : model;
		if (use == LLM_USE_EMBED && mi != m0 && (!mi || !m0 || strcmp(mi, m0))) {
			snprintf(err, errlen, "%s: %s serves '%s' and %s '%s': embeddings of two "
				 "models are not comparable, so the endpoints of an embedding list "
				 "must serve one model", from, s->v[0]->e.shown_url, m0, e->e.shown_url,
				 mi);
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
	llm_servers_describe(c->sv, use, out);
}

int llm_limit(struct llm *c)
{
	return llm_servers_limit(c->sv);
}

int llm_waiting(struct llm *c)
{
	return atomic_load(&c->waiting);
}

void llm_progress(struct llm *c, char *out, size_t outlen)
{
	struct llm_servers_figures f;
	llm_servers_figures(c->sv, &f);
	char age[48] = "";
	long secs_old = (long)(f.oldest_ms / 1000);
	if (secs_old >= 60)
		snprintf(age, sizeof age, " (oldest %ldm%lds)", secs_old / 60, secs_old % 60);
	else if (f.inflight > 0)
		snprintf(age, sizeof age, " (oldest %lds)", secs_old);
	double secs = (now_ms() - c->started) / 1000;
	long req = atomic_load(&c->requests);
	struct buf b = {0};
	buf_printf(&b, "requests in flight %d/%d%s, %.1f req/s, latency %.0fms, retries %ld",
		   f.inflight, f.limit, age, secs > 0 ? (double)req / secs : 0.0, f.latency_ms,
		   atomic_load(&c->retries));
	llm_servers_progress(c->sv, &b);
	snprintf(out, outlen, "%s", b.p);
	buf_free(&b);
}

void llm_totals(struct llm *c, struct llm_totals *t)
{
	memset(t, 0, sizeof *t);
	t->requests = atomic_load(&c->requests);
	t->retries = atomic_load(&c->retries);
	t->failures = atomic_load(&c->failures);
	t->prompt_tokens = atomic_load(&c->prompt_tokens);
	t->completion_tokens = atomic_load(&c->completion_tokens);
	struct llm_servers_figures f;
	llm_servers_figures(c->sv, &f);
	t->connections = f.connections;
	t->limit = f.limit;
	t->peak_inflight = f.peak_inflight;
}

void llm_endpoint_totals(struct llm *c, struct buf *out)
{
	llm_servers_report(c->sv, out);
}
