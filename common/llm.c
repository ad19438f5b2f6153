/* llm: HTTP client of Ollama and OpenAI-compatible servers: requests,
 * retries, rate limiting, adaptive concurrency, answer parsing. */
#include "llm.h"
#include "limit.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- configuration ---- */

static char *trim_url(const char *u)
{
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	return xstrndup(u, n);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->base_url = trim_url(tun_str(t, "llm.base_url"));
	if (strncmp(cfg->base_url, "http://", 7) && strncmp(cfg->base_url, "https://", 8)) {
		snprintf(err, errlen, "llm.base_url '%s' must start with http:// or https://",
			 cfg->base_url);
		return -1;
	}
	const char *b = tun_str(t, "llm.backend");
	if (!strcmp(b, "openai") || (!strcmp(b, "auto") && ends_with(cfg->base_url, "/v1")))
		cfg->backend = LLM_OPENAI;
	else
		cfg->backend = LLM_OLLAMA;
	const char *key = tun_str(t, "llm.api_key");
	const char *key_file = tun_str(t, "llm.api_key_file");
	if (*key_file && !*key) {
		size_t len;
		char *k = read_file(key_file, &len);
		if (!k) {
			snprintf(err, errlen, "cannot read llm.api_key_file '%s': %s", key_file,
				 strerror(errno));
			return -1;
		}
		k[strcspn(k, "\r\n")] = '\0';
		cfg->api_key = k;
	} else {
		cfg->api_key = xstrdup(key);
	}
	cfg->connect_timeout_ms = tun_int(t, "llm.connect_timeout_ms");
	cfg->timeout_ms = tun_int(t, "llm.timeout_ms");
	cfg->max_attempts = (int)tun_int(t, "llm.max_attempts");
	cfg->backoff_ms = (double)tun_int(t, "llm.backoff_ms");
	cfg->backoff_max_ms = (double)tun_int(t, "llm.backoff_max_ms");
	cfg->rpm = tun_int(t, "llm.rpm");
	cfg->tpm = tun_int(t, "llm.tpm");
	cfg->concurrency = (int)tun_int(t, "llm.concurrency");
	cfg->max_concurrency = (int)tun_int(t, "llm.max_concurrency");
	if (cfg->concurrency > cfg->max_concurrency)
		cfg->max_concurrency = cfg->concurrency;
	cfg->temperature = tun_float(t, "llm.temperature");
	cfg->seed = tun_int(t, "llm.seed");
	cfg->num_ctx = tun_int(t, "llm.num_ctx");
	cfg->keep_alive = xstrdup(tun_str(t, "llm.keep_alive"));
	return 0;
}

void llm_config_free(struct llm_config *cfg)
{
	free(cfg->base_url);
	if (cfg->api_key) {
		/* do not leave the key in freed memory */
		memset(cfg->api_key, 0, strlen(cfg->api_key));
		free(cfg->api_key);
	}
	free(cfg->keep_alive);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- the shared client ---- */

struct llm {
	struct llm_config cfg;
	const char *tool;
	struct lock *l;       /* rate limiting, handles, figures */
	struct lock *sl;      /* slots: lim and inflight; only slot waiters wait here */
	/* concurrency */
	struct limit lim;     /* lim.value: requests allowed in flight */
	int adaptive;
	int debug_limit;      /* LANES_DEBUG_LIMIT: log every change */
	int inflight;
	int peak_inflight;
	/* rate limiting */
	double req_tokens, tok_tokens, last_refill, paused_until;
	/* handles */
	CURL **handles;
	int nhandles;
	/* figures */
	atomic_long requests, retries, failures, connections;
	double lat_ewma;
	double started;
	atomic_int json_schema_unsupported; /* OpenAI server refused json_schema */
	unsigned seed;
};

struct llm *llm_new(const struct llm_config *cfg, const char *tool)
{
	static int curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			log_fatal("cannot initialise libcurl");
		curl_ready = 1;
	}
	struct llm *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->cfg.base_url = xstrdup(cfg->base_url);
	c->cfg.api_key = xstrdup(cfg->api_key ? cfg->api_key : "");
	c->cfg.keep_alive = xstrdup(cfg->keep_alive ? cfg->keep_alive : "");
	c->tool = tool;
	c->l = lock_new();
	c->sl = lock_new();
	c->adaptive = cfg->concurrency <= 0;
	c->debug_limit = getenv("LANES_DEBUG_LIMIT") != NULL;
	limit_init(&c->lim, c->adaptive ? 4 : cfg->concurrency,
		   c->adaptive ? cfg->max_concurrency : cfg->concurrency);
	c->last_refill = now_ms();
	c->req_tokens = c->cfg.rpm > 0 ? fmax(1, (double)c->cfg.rpm / 60) : 0;
	c->tok_tokens = c->cfg.tpm > 0 ? (double)c->cfg.tpm / 60 : 0;
	c->handles = xcalloc((size_t)c->cfg.max_concurrency + 1, sizeof *c->handles);
	c->started = now_ms();
	c->seed = (unsigned)(now_us() ^ (uint64_t)(uintptr_t)c);
	return c;
}

void llm_free(struct llm *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nhandles; i++)
		curl_easy_cleanup(c->handles[i]);
	free(c->handles);
	lock_free(c->l);
	lock_free(c->sl);
	llm_config_free(&c->cfg);
	free(c);
}

const char *llm_backend_name(const struct llm *c)
{
	return c->cfg.backend == LLM_OPENAI ? "openai" : "ollama";
}

int llm_limit(struct llm *c)
{
	lock_take(c->sl);
	int n = c->lim.value;
	lock_give(c->sl);
	return n;
}

/* ---- concurrency: requests wait for a slot under the limit, which
 * common/limit.c adapts to the server unless it is fixed ---- */

static void slot_acquire(struct llm *c)
{
	lock_take(c->sl);
	while (c->inflight >= c->lim.value)
		lock_wait(c->sl);
	c->inflight++;
	if (c->inflight > c->peak_inflight)
		c->peak_inflight = c->inflight;
	if (c->adaptive)
		limit_sent(&c->lim, now_ms(), c->inflight);
	lock_give(c->sl);
}

static void slot_release(struct llm *c, double rtt, int overload, int measured)
{
	lock_take(c->sl);
	c->inflight--;
	if (measured)
		c->lat_ewma = c->lat_ewma > 0 ? 0.9 * c->lat_ewma + 0.1 * rtt : rtt;
	int before = c->lim.value;
	if (c->adaptive) {
		/* a refused connection or a transport error says nothing about
		 * the server's capacity */
		if (measured)
			limit_done(&c->lim, now_ms(), rtt, overload, c->inflight);
		else
			limit_sent(&c->lim, now_ms(), c->inflight);
		if (c->lim.value != before && c->debug_limit)
			log_event("llm: limit %d -> %d (round %ld, accepted level %d at %.1f req/s%s)",
				  before, c->lim.value, c->lim.rounds, c->lim.base_value,
				  c->lim.base_x * 1000, overload ? ", server overloaded" : "");
	}
	/* one freed slot wakes one waiter; a raised limit wakes them all */
	if (c->lim.value > before)
		lock_broadcast(c->sl);
	else
		lock_signal(c->sl);
	lock_give(c->sl);
}

/* ---- rate limiting: token buckets for requests and tokens per minute,
 * and a pause that every thread honours after a 429 or an exhausted
 * x-ratelimit-remaining-* header. ---- */

static void rate_wait(struct llm *c, long tokens)
{
	lock_take(c->l);
	for (;;) {
		double now = now_ms();
		double dt = now - c->last_refill;
		c->last_refill = now;
		if (c->cfg.rpm > 0)
			c->req_tokens = fmin(fmax(1, (double)c->cfg.rpm / 60),
					     c->req_tokens + dt * (double)c->cfg.rpm / 60000);
		if (c->cfg.tpm > 0)
			c->tok_tokens = fmin((double)c->cfg.tpm / 60,
					     c->tok_tokens + dt * (double)c->cfg.tpm / 60000);
		double wait = 0;
		if (c->paused_until > now)
			wait = c->paused_until - now;
		if (c->cfg.rpm > 0 && c->req_tokens < 1)
			wait = fmax(wait, (1 - c->req_tokens) * 60000 / (double)c->cfg.rpm);
		double need = fmin((double)tokens, (double)c->cfg.tpm / 60);
		if (c->cfg.tpm > 0 && c->tok_tokens < need)
			wait = fmax(wait, (need - c->tok_tokens) * 60000 / (double)c->cfg.tpm);
		if (wait <= 0) {
			if (c->cfg.rpm > 0)
				c->req_tokens -= 1;
			if (c->cfg.tpm > 0)
				c->tok_tokens -= need;
			break;
		}
		lock_wait_ms(c->l, wait);
	}
	lock_give(c->l);
}

static void pause_all(struct llm *c, double ms)
{
	lock_take(c->l);
	double until = now_ms() + ms;
	if (until > c->paused_until)
		c->paused_until = until;
	lock_give(c->l);
}

/* ---- HTTP ---- */

struct http_resp {
	long status;
	struct buf body;
	double retry_after_ms;      /* -1 when absent */
	double reset_ms;            /* x-ratelimit-reset-* when remaining is 0 */
	int remaining_zero;
	char content_type[64];
	CURLcode curl;
	char curl_err[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct http_resp *r = ud;
	size_t len = size * n;
	char line[256];
	if (len >= sizeof line)
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	char *colon = strchr(line, ':');
	if (!strncmp(line, "HTTP/", 5)) {
		/* a new response (after 100 Continue or a redirect) */
		r->retry_after_ms = -1;
		r->remaining_zero = 0;
		r->reset_ms = -1;
		return len;
	}
	if (!colon)
		return len;
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(line, "retry-after-ms")) {
		double ms;
		if (!parse_double(v, &ms) && ms >= 0)
			r->retry_after_ms = ms;
	} else if (!strcasecmp(line, "retry-after") && r->retry_after_ms < 0) {
		r->retry_after_ms = llm_parse_retry_after(v, wall_time());
	} else if (!strcasecmp(line, "x-ratelimit-remaining-requests") ||
		   !strcasecmp(line, "x-ratelimit-remaining-tokens")) {
		if (!strcmp(v, "0"))
			r->remaining_zero = 1;
	} else if (!strcasecmp(line, "x-ratelimit-reset-requests") ||
		   !strcasecmp(line, "x-ratelimit-reset-tokens")) {
		double ms = llm_parse_duration(v);
		if (ms > r->reset_ms)
			r->reset_ms = ms;
	} else if (!strcasecmp(line, "content-type")) {
		snprintf(r->content_type, sizeof r->content_type, "%s", v);
	}
	return len;
}

static CURL *handle_get(struct llm *c)
{
	lock_take(c->l);
	CURL *h = c->nhandles > 0 ? c->handles[--c->nhandles] : NULL;
	lock_give(c->l);
	if (!h && !(h = curl_easy_init()))
		log_fatal("cannot create a libcurl handle");
	return h;
}

static void handle_put(struct llm *c, CURL *h)
{
	lock_take(c->l);
	if (c->nhandles <= c->cfg.max_concurrency) {
		c->handles[c->nhandles++] = h;
		h = NULL;
	}
	lock_give(c->l);
	if (h)
		curl_easy_cleanup(h);
}

static void http_do(struct llm *c, const char *path, const char *body, size_t body_len,
		    struct http_resp *r)
{
	CURL *h = handle_get(c);
	char *url = xasprintf("%s%s", c->cfg.base_url, path);
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	char *auth = NULL;
	if (c->cfg.api_key && *c->cfg.api_key) {
		auth = xasprintf("Authorization: Bearer %s", c->cfg.api_key);
		hdrs = curl_slist_append(hdrs, auth);
	}
	r->retry_after_ms = -1;
	r->reset_ms = -1;
	r->curl_err[0] = '\0';
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lanes/0.1");
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	r->curl = curl_easy_perform(h);
	r->status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	long conns = 0;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	atomic_fetch_add(&c->connections, conns);
	/* unset the header list before it is freed; the handle is reused */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	free(url);
	if (r->curl != CURLE_OK) {
		/* a handle whose transfer broke may hold a dead connection */
		curl_easy_cleanup(h);
		return;
	}
	handle_put(c, h);
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

/* Parser of a 200 body; returns 0 and fills *out, or -1 with a message
 * (retryable: the body was cut or garbled). */
typedef int (*parse_fn)(const struct http_resp *r, void *out, char *err, size_t errlen);

/* Sends body to path with retries. fatal_hint builds the message of a
 * non-retryable status. */
static int call(struct llm *c, const char *path, const char *body, size_t body_len,
		parse_fn parse, void *out, const char *model, struct llm_result *res,
		int max_attempts)
{
	memset(res, 0, sizeof *res);
	long tokens = (long)(body_len / 4) + 1;
	for (int attempt = 1; attempt <= max_attempts; attempt++) {
		res->attempts = attempt;
		rate_wait(c, tokens);
		/* model lists and versions are not model work: they neither
		 * take a slot nor teach the limit anything */
		int slotted = body != NULL;
		if (slotted)
			slot_acquire(c);
		struct http_resp r;
		memset(&r, 0, sizeof r);
		double t0 = now_ms();
		http_do(c, path, body, body_len, &r);
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
			if (parse(&r, out, msg, sizeof msg) == 0) {
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
				snprintf(res->message, sizeof res->message,
					 c->cfg.backend == LLM_OLLAMA
					 ? "model '%s' not found on %s (%s): run `ollama pull %s`"
					 : "model '%s' is not served by %s (%s): check the model name (GET /models lists them)",
					 model, c->cfg.base_url, msg, model);
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
			slot_release(c, rtt, overload, r.curl == CURLE_OK);
		if (r.remaining_zero && r.reset_ms > 0)
			pause_all(c, r.reset_ms);
		buf_free(&r.body);
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
				pause_all(c, delay);
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

/* ---- answers ---- */

/* Joins the content of a streamed answer (Ollama NDJSON or OpenAI SSE) or
 * reads a single JSON answer. Returns the model's text or NULL. */
static char *content_of(const cJSON *j, enum llm_backend be, int streamed)
{
	if (be == LLM_OLLAMA) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		const cJSON *t = m ? cJSON_GetObjectItemCaseSensitive(m, "content")
				   : cJSON_GetObjectItemCaseSensitive(j, "response");
		return cJSON_IsString(t) ? t->valuestring : NULL;
	}
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(ch, streamed ? "delta" : "message");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

struct chat_out {
	enum llm_backend be;
	char *text;
	long prompt_tokens, completion_tokens;
	int truncated;
};

static void chat_usage(struct chat_out *o, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *p = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")
			   : cJSON_GetObjectItemCaseSensitive(j, "prompt_eval_count");
	const cJSON *e = u ? cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")
			   : cJSON_GetObjectItemCaseSensitive(j, "eval_count");
	if (cJSON_IsNumber(p))
		o->prompt_tokens = (long)p->valuedouble;
	if (cJSON_IsNumber(e))
		o->completion_tokens = (long)e->valuedouble;
	const cJSON *dr = cJSON_GetObjectItemCaseSensitive(j, "done_reason");
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
	if ((cJSON_IsString(dr) && !strcmp(dr->valuestring, "length")) ||
	    (cJSON_IsString(fr) && !strcmp(fr->valuestring, "length")))
		o->truncated = 1;
}

static int parse_chat(const struct http_resp *r, void *outp, char *err, size_t errlen)
{
	struct chat_out *o = outp;
	const char *p = r->body.p ? r->body.p : "";
	size_t n = r->body.len;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
	int single = j && end && (size_t)(end - p) <= n;
	if (single) {
		const char *q = end;
		while (q < p + n && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
			q++;
		single = q == p + n;
	}
	if (single) {
		const char *t = content_of(j, o->be, 0);
		if (!t) {
			cJSON_Delete(j);
			snprintf(err, errlen, "no message content in the answer");
			return -1;
		}
		o->text = xstrdup(t);
		chat_usage(o, j);
		cJSON_Delete(j);
		return 0;
	}
	cJSON_Delete(j);
	/* streamed: NDJSON objects (Ollama) or SSE "data: {...}" lines */
	struct buf acc = {0};
	int done = 0, pieces = 0;
	const char *line = p;
	while (line < p + n) {
		const char *nl = memchr(line, '\n', (size_t)(p + n - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(p + n - line);
		const char *s = line;
		line = nl ? nl + 1 : p + n;
		if (len >= 5 && !strncmp(s, "data:", 5)) {
			s += 5, len -= 5;
			while (len && *s == ' ')
				s++, len--;
			if (len >= 6 && !strncmp(s, "[DONE]", 6)) {
				done = 1;
				continue;
			}
		}
		while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
			len--;
		if (!len || *s != '{')
			continue;
		cJSON *k = cJSON_ParseWithLength(s, len);
		if (!k) {
			buf_free(&acc);
			snprintf(err, errlen, "a streamed chunk is not JSON");
			return -1;
		}
		const char *t = content_of(k, o->be, o->be == LLM_OPENAI);
		if (t)
			buf_puts(&acc, t), pieces++;
		cJSON *d = cJSON_GetObjectItemCaseSensitive(k, "done");
		if (cJSON_IsTrue(d))
			done = 1;
		chat_usage(o, k);
		cJSON_Delete(k);
	}
	if (!done || !pieces) {
		buf_free(&acc);
		snprintf(err, errlen, "the streamed answer ended before it was done");
		return -1;
	}
	o->text = buf_steal(&acc, NULL);
	return 0;
}

static void add_message(struct buf *b, int *first, const char *role, const char *content)
{
	if (!*first)
		buf_putc(b, ',');
	*first = 0;
	buf_printf(b, "{\"role\":\"%s\",\"content\":", role);
	buf_json_str(b, content, strlen(content));
	buf_putc(b, '}');
}

char *llm_chat(struct llm *c, const struct llm_chat *req, struct llm_result *res)
{
	struct buf b = {0};
	buf_puts(&b, "{\"model\":");
	buf_json_str(&b, req->model, strlen(req->model));
	buf_puts(&b, ",\"stream\":false,\"messages\":[");
	int first = 1;
	if (req->system && *req->system)
		add_message(&b, &first, "system", req->system);
	add_message(&b, &first, "user", req->user);
	if (req->prev_answer && req->correction) {
		add_message(&b, &first, "assistant", req->prev_answer);
		add_message(&b, &first, "user", req->correction);
	}
	buf_putc(&b, ']');
	char *schema = req->schema ? cJSON_PrintUnformatted(req->schema) : NULL;
	const char *path;
	if (c->cfg.backend == LLM_OLLAMA) {
		path = "/api/chat";
		if (schema)
			buf_printf(&b, ",\"format\":%s", schema);
		else if (req->json)
			buf_puts(&b, ",\"format\":\"json\"");
		buf_printf(&b, ",\"options\":{\"temperature\":%g", c->cfg.temperature);
		if (c->cfg.seed >= 0)
			buf_printf(&b, ",\"seed\":%ld", c->cfg.seed);
		if (c->cfg.num_ctx > 0)
			buf_printf(&b, ",\"num_ctx\":%ld", c->cfg.num_ctx);
		if (req->max_tokens > 0)
			buf_printf(&b, ",\"num_predict\":%ld", req->max_tokens);
		buf_putc(&b, '}');
		if (c->cfg.keep_alive && *c->cfg.keep_alive) {
			buf_puts(&b, ",\"keep_alive\":");
			buf_json_str(&b, c->cfg.keep_alive, strlen(c->cfg.keep_alive));
		}
	} else {
		path = "/chat/completions";
		buf_printf(&b, ",\"temperature\":%g", c->cfg.temperature);
		if (c->cfg.seed >= 0)
			buf_printf(&b, ",\"seed\":%ld", c->cfg.seed);
		if (req->max_tokens > 0)
			buf_printf(&b, ",\"max_tokens\":%ld", req->max_tokens);
		int no_schema = atomic_load(&c->json_schema_unsupported);
		if (schema && !no_schema)
			buf_printf(&b, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
				       "{\"name\":\"answer\",\"strict\":false,\"schema\":%s}}", schema);
		else if (schema || req->json)
			buf_puts(&b, ",\"response_format\":{\"type\":\"json_object\"}");
	}
	buf_putc(&b, '}');
	struct chat_out o = {.be = c->cfg.backend};
	int rc = call(c, path, b.p, b.len, parse_chat, &o, req->model, res, c->cfg.max_attempts);
	/* servers without json_schema support answer 400: fall back to
	 * json_object once and remember (the schema is still in the prompt) */
	if (rc && res->http_status == 400 && schema && c->cfg.backend == LLM_OPENAI &&
	    (strstr(res->message, "response_format") || strstr(res->message, "json_schema"))) {
		atomic_store(&c->json_schema_unsupported, 1);
		log_warn("%s does not support json_schema answers; using json_object", c->cfg.base_url);
		free(schema);
		buf_free(&b);
		return llm_chat(c, req, res);
	}
	free(schema);
	buf_free(&b);
	if (rc)
		return NULL;
	res->prompt_tokens = o.prompt_tokens;
	res->completion_tokens = o.completion_tokens;
	return o.text;
}

struct embed_out {
	enum llm_backend be;
	size_t n;
	int dim;
	float *v;
};

static int parse_embed(const struct http_resp *r, void *outp, char *err, size_t errlen)
{
	struct embed_out *o = outp;
	cJSON *j = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
	if (!j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(
		j, o->be == LLM_OLLAMA ? "embeddings" : "data");
	if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != o->n) {
		snprintf(err, errlen, "expected %zu embeddings, got %d", o->n,
			 cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1);
		cJSON_Delete(j);
		return -1;
	}
	char *seen = xcalloc(o->n, 1);
	float *v = NULL;
	int dim = 0, rc = 0;
	size_t pos = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, arr) {
		const cJSON *vec = item;
		size_t idx = pos++;
		if (o->be == LLM_OPENAI) {
			const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
			vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
			if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble >= (double)o->n) {
				snprintf(err, errlen, "an embedding has no valid index");
				rc = -1;
				break;
			}
			idx = (size_t)ix->valuedouble;
		}
		if (!cJSON_IsArray(vec) || cJSON_GetArraySize(vec) < 1) {
			snprintf(err, errlen, "embedding %zu is not an array of numbers", idx);
			rc = -1;
			break;
		}
		int d = cJSON_GetArraySize(vec);
		if (!v) {
			dim = d;
			v = xcalloc(o->n * (size_t)dim, sizeof *v);
		}
		if (d != dim) {
			snprintf(err, errlen, "embeddings of different sizes (%d and %d) in one answer", dim, d);
			rc = -1;
			break;
		}
		if (seen[idx]) {
			snprintf(err, errlen, "index %zu answered twice", idx);
			rc = -1;
			break;
		}
		seen[idx] = 1;
		int k = 0;
		const cJSON *x;
		cJSON_ArrayForEach(x, vec) {
			if (!cJSON_IsNumber(x)) {
				snprintf(err, errlen, "embedding %zu holds a non-number", idx);
				rc = -1;
				break;
			}
			v[idx * (size_t)dim + (size_t)k++] = (float)x->valuedouble;
		}
		if (rc)
			break;
	}
	free(seen);
	cJSON_Delete(j);
	if (rc) {
		free(v);
		return -1;
	}
	o->v = v;
	o->dim = dim;
	return 0;
}

float *llm_embed(struct llm *c, const char *model, const char *const *texts,
		 size_t n, int dim_hint, int *dim, struct llm_result *res)
{
	struct buf b = {0};
	buf_puts(&b, "{\"model\":");
	buf_json_str(&b, model, strlen(model));
	buf_puts(&b, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_json_str(&b, texts[i], strlen(texts[i]));
	}
	buf_putc(&b, ']');
	const char *path = "/api/embed";
	if (c->cfg.backend == LLM_OPENAI) {
		path = "/embeddings";
		buf_puts(&b, ",\"encoding_format\":\"float\"");
		if (dim_hint > 0)
			buf_printf(&b, ",\"dimensions\":%d", dim_hint);
	} else if (c->cfg.keep_alive && *c->cfg.keep_alive) {
		buf_puts(&b, ",\"keep_alive\":");
		buf_json_str(&b, c->cfg.keep_alive, strlen(c->cfg.keep_alive));
	}
	buf_putc(&b, '}');
	struct embed_out o = {.be = c->cfg.backend, .n = n};
	int rc = call(c, path, b.p, b.len, parse_embed, &o, model, res, c->cfg.max_attempts);
	buf_free(&b);
	if (rc)
		return NULL;
	*dim = o.dim;
	return o.v;
}

/* ---- start-up check ---- */

struct list_out {
	enum llm_backend be;
	cJSON *j;
};

static int parse_any_json(const struct http_resp *r, void *outp, char *err, size_t errlen)
{
	struct list_out *o = outp;
	o->j = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
	if (!o->j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	return 0;
}

static int name_matches(const char *have, const char *want)
{
	if (!strcmp(have, want))
		return 1;
	/* "llama3" means "llama3:latest" to Ollama */
	size_t n = strlen(want);
	return !strchr(want, ':') && !strncmp(have, want, n) && !strcmp(have + n, ":latest");
}

int llm_check_model(struct llm *c, const char *model, char *info, size_t infolen,
		    char *err, size_t errlen)
{
	struct llm_result res;
	struct list_out o = {.be = c->cfg.backend};
	const char *path = c->cfg.backend == LLM_OLLAMA ? "/api/tags" : "/models";
	int attempts = c->cfg.max_attempts < 3 ? c->cfg.max_attempts : 3;
	info[0] = '\0';
	if (call(c, path, NULL, 0, parse_any_json, &o, NULL, &res, attempts)) {
		if (c->cfg.backend == LLM_OPENAI && res.http_status == 404) {
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
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(
		o.j, c->cfg.backend == LLM_OLLAMA ? "models" : "data");
	struct buf have = {0};
	int found = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, arr) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(
			m, c->cfg.backend == LLM_OLLAMA ? "name" : "id");
		if (!cJSON_IsString(nm))
			continue;
		if (have.len < 300)
			buf_printf(&have, "%s%s", have.len ? ", " : "", nm->valuestring);
		if (name_matches(nm->valuestring, model) && !found) {
			found = 1;
			const cJSON *dg = cJSON_GetObjectItemCaseSensitive(m, "digest");
			if (cJSON_IsString(dg))
				snprintf(info, infolen, "%.12s", dg->valuestring);
		}
	}
	cJSON_Delete(o.j);
	if (!found) {
		if (c->cfg.backend == LLM_OLLAMA)
			snprintf(err, errlen, "model '%s' not found on %s (it has: %s): run `ollama pull %s`",
				 model, c->cfg.base_url, have.len ? have.p : "none", model);
		else
			snprintf(err, errlen, "model '%s' is not served by %s (it serves: %s)", model,
				 c->cfg.base_url, have.len ? have.p : "none");
		buf_free(&have);
		return -1;
	}
	buf_free(&have);
	return 0;
}

/* ---- figures ---- */

void llm_progress(struct llm *c, char *out, size_t outlen)
{
	lock_take(c->sl);
	int inflight = c->inflight, limit = c->lim.value;
	double lat = c->lat_ewma;
	lock_give(c->sl);
	double secs = (now_ms() - c->started) / 1000;
	long req = atomic_load(&c->requests);
	snprintf(out, outlen, "requests in flight %d/%d, %.1f req/s, latency %.0fms, retries %ld",
		 inflight, limit, secs > 0 ? (double)req / secs : 0.0, lat,
		 atomic_load(&c->retries));
}

void llm_totals(struct llm *c, struct llm_totals *t)
{
	t->requests = atomic_load(&c->requests);
	t->retries = atomic_load(&c->retries);
	t->connections = atomic_load(&c->connections);
	t->failures = atomic_load(&c->failures);
	lock_take(c->sl);
	t->limit = c->lim.value;
	t->peak_inflight = c->peak_inflight;
	lock_give(c->sl);
}
