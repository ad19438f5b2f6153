/* llm: the client's requests and retries. A call waits for the rate
 * limiter (llm_rate) and a slot (llm_slots), goes out over the transport
 * (llm_http), and is retried when the trouble may pass (408, 409, 429,
 * 5xx, dropped or cut answers) with full-jitter backoff or the server's
 * Retry-After. Request bodies and answers are the wire format's
 * (llm_ollama.c, llm_openai.c). */
#include "llm.h"
#include "llm_http.h"
#include "llm_rate.h"
#include "llm_slots.h"
#include "llm_wire.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct llm {
	struct llm_config cfg;
	const struct llm_wire *wire;
	const char *tool;
	struct llm_http *http;
	struct llm_rate *rate;
	struct llm_slots *slots;
	struct lock *l;       /* the backoff generator */
	unsigned seed;
	atomic_long requests, retries, failures;
	double started;
	atomic_int json_schema_unsupported; /* OpenAI server refused json_schema */
};

struct llm *llm_new(const struct llm_config *cfg, const char *tool)
{
	struct llm *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->cfg.base_url = xstrdup(cfg->base_url);
	c->cfg.api_key = xstrdup(cfg->api_key ? cfg->api_key : "");
	c->cfg.keep_alive = xstrdup(cfg->keep_alive ? cfg->keep_alive : "");
	c->wire = cfg->backend == LLM_OPENAI ? &llm_openai_wire : &llm_ollama_wire;
	c->tool = tool;
	c->http = llm_http_new(c->cfg.base_url, c->cfg.api_key, c->cfg.connect_timeout_ms,
			       c->cfg.timeout_ms, c->cfg.max_concurrency + 1);
	c->rate = llm_rate_new(c->cfg.rpm, c->cfg.tpm);
	c->slots = llm_slots_new(cfg->concurrency, cfg->max_concurrency);
	c->l = lock_new();
	c->started = now_ms();
	c->seed = (unsigned)(now_us() ^ (uint64_t)(uintptr_t)c);
	return c;
}

void llm_free(struct llm *c)
{
	if (!c)
		return;
	llm_http_free(c->http);
	llm_rate_free(c->rate);
	llm_slots_free(c->slots);
	lock_free(c->l);
	llm_config_free(&c->cfg);
	free(c);
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

static int retryable_status(long s)
{
	return s == 408 || s == 409 || s == 429 || s >= 500;
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

/* Reader of a 200 body; returns 0 and fills out, or -1 with a message
 * (retryable: the body was cut or garbled). */
typedef int (*parse_fn)(const struct llm *c, const struct llm_http_resp *r, void *out,
			char *err, size_t errlen);

/* Sends body to path (GET when body is NULL) with retries. model, when
 * set, names the model in the message of a 404. */
static int call(struct llm *c, const char *path, const char *body, size_t body_len,
		parse_fn parse, void *out, const char *model, struct llm_result *res,
		int max_attempts)
{
	memset(res, 0, sizeof *res);
	long tokens = (long)(body_len / 4) + 1;
	for (int attempt = 1; attempt <= max_attempts; attempt++) {
		res->attempts = attempt;
		llm_rate_wait(c->rate, tokens);
		/* model lists and versions are not model work: they neither
		 * take a slot nor teach the limit anything */
		int slotted = body != NULL;
		if (slotted)
			llm_slots_acquire(c->slots);
		struct llm_http_resp r;
		memset(&r, 0, sizeof r);
		double t0 = now_ms();
		llm_http_do(c->http, path, body, body_len, &r);
		double rtt = now_ms() - t0;
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
		if (r.curl != CURLE_OK) {
			retry = retryable_curl(r.curl);
			snprintf(res->code, sizeof res->code, "%s",
				 r.curl == CURLE_OPERATION_TIMEDOUT ? "timeout"
				 : r.curl == CURLE_COULDNT_CONNECT ? "connect"
				 : r.curl == CURLE_PARTIAL_FILE ? "truncated" : "transport");
			snprintf(res->message, sizeof res->message, "%s%s: %s", c->cfg.base_url, path,
				 r.curl_err[0] ? r.curl_err : curl_easy_strerror(r.curl));
		} else if (r.status >= 200 && r.status < 300) {
			if (parse(c, &r, out, msg, sizeof msg) == 0) {
				ok = 1;
			} else {
				retry = 1;
				snprintf(res->code, sizeof res->code, "bad_body");
				snprintf(res->message, sizeof res->message,
					 "unusable answer from %s%s: %s", c->cfg.base_url, path, msg);
			}
		} else {
			retry = retryable_status(r.status);
			server_message(&r.body, msg, sizeof msg);
			snprintf(res->code, sizeof res->code, "http_%ld", r.status);
			if (r.status == 404 && model)
				c->wire->model_missing(res->message, sizeof res->message, model,
						       c->cfg.base_url, NULL, msg);
			else if (r.status == 401 || r.status == 403)
				snprintf(res->message, sizeof res->message,
					 "%s refused the API key (HTTP %ld: %s): set OPENAI_API_KEY or llm.api_key_file",
					 c->cfg.base_url, r.status, msg);
			else
				snprintf(res->message, sizeof res->message, "HTTP %ld from %s%s: %s",
					 r.status, c->cfg.base_url, path, msg);
		}
		/* a refused connection or a transport error says nothing about load */
		if (slotted)
			llm_slots_release(c->slots, rtt, overload, r.curl == CURLE_OK);
		if (r.remaining_zero && r.reset_ms > 0)
			llm_rate_pause(c->rate, r.reset_ms);
		llm_http_resp_free(&r);
		if (ok) {
			res->status = LLM_OK;
			res->code[0] = '\0';
			res->message[0] = '\0';
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
		if (r.retry_after_ms >= 0) {
			delay = fmin(r.retry_after_ms, c->cfg.backoff_max_ms);
			if (r.status == 429)
				llm_rate_pause(c->rate, delay);
		}
		sleep_ms(delay);
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

static int parse_chat(const struct llm *c, const struct llm_http_resp *r, void *out, char *err,
		      size_t errlen)
{
	return llm_wire_chat_parse(r->body.p, r->body.len, out, c->wire->content, c->wire->usage,
				   err, errlen);
}

char *llm_chat(struct llm *c, const struct llm_chat *req, struct llm_result *res)
{
	char *schema = req->schema ? cJSON_PrintUnformatted(req->schema) : NULL;
	for (;;) {
		int schema_ok = !atomic_load(&c->json_schema_unsupported);
		struct buf b = {0};
		c->wire->chat_body(&b, &c->cfg, req, schema, schema_ok);
		struct llm_answer a = {0};
		int rc = call(c, c->wire->chat_path, b.p, b.len, parse_chat, &a, req->model, res,
			      c->cfg.max_attempts);
		buf_free(&b);
		/* servers without json_schema support answer 400: fall back to
		 * json_object once and remember (the schema is still in the
		 * prompt) */
		if (rc && res->http_status == 400 && schema && c->wire == &llm_openai_wire &&
		    (strstr(res->message, "response_format") || strstr(res->message, "json_schema"))) {
			atomic_store(&c->json_schema_unsupported, 1);
			log_warn("%s does not support json_schema answers; using json_object",
				 c->cfg.base_url);
			continue;
		}
		free(schema);
		if (rc)
			return NULL;
		res->prompt_tokens = a.prompt_tokens;
		res->completion_tokens = a.completion_tokens;
		return a.text;
	}
}

/* ---- embeddings ---- */

struct embed_out {
	size_t n;
	int dim;
	float *v;
};

static int parse_embed(const struct llm *c, const struct llm_http_resp *r, void *outp,
		       char *err, size_t errlen)
{
	struct embed_out *o = outp;
	return llm_wire_embed_parse(c->wire, r->body.p, r->body.len, o->n, &o->v, &o->dim, err,
				    errlen);
}

float *llm_embed(struct llm *c, const char *model, const char *const *texts,
		 size_t n, int dim_hint, int *dim, struct llm_result *res)
{
	struct buf b = {0};
	c->wire->embed_body(&b, &c->cfg, model, texts, n, dim_hint);
	struct embed_out o = {.n = n};
	int rc = call(c, c->wire->embed_path, b.p, b.len, parse_embed, &o, model, res,
		      c->cfg.max_attempts);
	buf_free(&b);
	if (rc)
		return NULL;
	*dim = o.dim;
	return o.v;
}

/* ---- start-up check ---- */

static int parse_any_json(const struct llm *c, const struct llm_http_resp *r, void *outp,
			  char *err, size_t errlen)
{
	(void)c;
	cJSON **j = outp;
	*j = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
	if (!*j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	return 0;
}

int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen)
{
	struct llm_result res;
	cJSON *list = NULL;
	const char *path = c->wire->models_path;
	int attempts = c->cfg.max_attempts < 3 ? c->cfg.max_attempts : 3;
	info[0] = '\0';
	if (call(c, path, NULL, 0, parse_any_json, &list, NULL, &res, attempts)) {
		if (c->wire == &llm_openai_wire && res.http_status == 404) {
			/* some servers have no model list: the first request will tell */
			log_warn("%s has no /models list; not checking model '%s'", c->cfg.base_url, model);
			return 0;
		}
		if (!strcmp(res.code, "connect") || !strcmp(res.code, "transport") || !strcmp(res.code, "timeout"))
			snprintf(err, errlen, "cannot reach the LLM server at %s (%s): is it running? "
				 "Set llm.base_url, OLLAMA_HOST or OPENAI_BASE_URL", c->cfg.base_url, res.message);
		else
			snprintf(err, errlen, "%s", res.message);
		return -1;
	}
	struct buf have = {0};
	int found = llm_wire_model_listed(c->wire, list, model, info, infolen, &have);
	cJSON_Delete(list);
	if (!found)
		c->wire->model_missing(err, errlen, model, c->cfg.base_url, have.len ? have.p : "",
				       NULL);
	buf_free(&have);
	return found ? 0 : -1;
}

/* ---- figures ---- */

void llm_progress(struct llm *c, char *out, size_t outlen)
{
	struct llm_slots_figures f;
	llm_slots_figures(c->slots, &f);
	double secs = (now_ms() - c->started) / 1000;
	long req = atomic_load(&c->requests);
	snprintf(out, outlen, "requests in flight %d/%d, %.1f req/s, latency %.0fms, retries %ld",
		 f.inflight, f.limit, secs > 0 ? (double)req / secs : 0.0, f.latency_ms,
		 atomic_load(&c->retries));
}

void llm_totals(struct llm *c, struct llm_totals *t)
{
	t->requests = atomic_load(&c->requests);
	t->retries = atomic_load(&c->retries);
	t->connections = llm_http_connections(c->http);
	t->failures = atomic_load(&c->failures);
	struct llm_slots_figures f;
	llm_slots_figures(c->slots, &f);
	t->limit = f.limit;
	t->peak_inflight = f.peak_inflight;
}
