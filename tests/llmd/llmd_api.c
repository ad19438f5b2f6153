/* llmd_api.c: llmd's routing, the /_double/ control endpoints, the error
 * shapes of both wire formats, and the path every model request takes
 * (fault draw, FIFO lane, service time). */
#include "llmd.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CT_OLLAMA "application/json; charset=utf-8"
#define CT_OPENAI "application/json"

void api_rfc3339(char out[48])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char s[32];
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 48, "%s.%09ldZ", s, ts.tv_nsec);
}

int api_content_text(const cJSON *content, struct buf *out)
{
	if (cJSON_IsString(content)) {
		buf_puts(out, content->valuestring);
		return 0;
	}
	if (!content || cJSON_IsNull(content))
		return 0;
	if (!cJSON_IsArray(content))
		return -1;
	const cJSON *part;
	int first = 1;
	cJSON_ArrayForEach(part, content) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (cJSON_IsString(part))
			text = part;
		if (!cJSON_IsString(text))
			continue;
		if (!first)
			buf_putc(out, '\n');
		first = 0;
		buf_puts(out, text->valuestring);
	}
	return 0;
}

static void error_ollama_extra(struct conn *c, int status, const char *extra, const char *msg)
{
	struct buf b = {0};
	buf_puts(&b, "{\"error\":");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}");
	http_respond(c, status, CT_OLLAMA, extra, b.p, b.len);
	buf_free(&b);
}

void api_error_ollama(struct conn *c, int status, const char *msg)
{
	error_ollama_extra(c, status, NULL, msg);
}

static void put_str_or_null(struct buf *b, const char *s)
{
	if (s)
		buf_json_str(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

static void error_openai_extra(struct conn *c, int status, const char *extra,
			       const char *msg, const char *type,
			       const char *param, const char *code)
{
	struct buf b = {0};
	buf_puts(&b, "{\"error\":{\"message\":");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, ",\"type\":");
	put_str_or_null(&b, type);
	buf_puts(&b, ",\"param\":");
	put_str_or_null(&b, param);
	buf_puts(&b, ",\"code\":");
	put_str_or_null(&b, code);
	buf_puts(&b, "}}\n");
	http_respond(c, status, CT_OPENAI, extra, b.p, b.len);
	buf_free(&b);
}

void api_error_openai(struct conn *c, int status, const char *msg,
		      const char *type, const char *param, const char *code)
{
	error_openai_extra(c, status, NULL, msg, type, param, code);
}

static const char busy_msg[] =
	"server busy, please try again.  maximum pending requests exceeded";

static void answer_busy(struct conn *c, enum api_dialect d)
{
	if (d == DIALECT_OLLAMA)
		api_error_ollama(c, 503, busy_msg);
	else
		api_error_openai(c, 503, busy_msg, "api_error", NULL, NULL);
}

static void answer_429(struct conn *c, enum api_dialect d, const struct llmd_tunables *t)
{
	struct buf h = {0}, msg = {0};
	if (t->retry_after_date) {
		time_t when = time(NULL) + t->retry_after;
		struct tm tm;
		char date[64];
		gmtime_r(&when, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		buf_printf(&h, "Retry-After: %s\r\n", date);
	} else {
		buf_printf(&h, "Retry-After: %ld\r\n", t->retry_after);
	}
	/* Go duration form, as OpenAI sends it: 1s, 6m0s, 1h0m0s */
	long s = t->retry_after;
	char dur[48];
	if (s >= 3600)
		snprintf(dur, sizeof dur, "%ldh%ldm%lds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(dur, sizeof dur, "%ldm%lds", s / 60, s % 60);
	else
		snprintf(dur, sizeof dur, "%lds", s);
	if (d == DIALECT_OLLAMA) {
		buf_printf(&msg, "rate limit exceeded, please retry after %s", dur);
		error_ollama_extra(c, 429, h.p, msg.p);
	} else {
		buf_printf(&h, "x-ratelimit-limit-requests: 60\r\n"
			   "x-ratelimit-remaining-requests: 0\r\n"
			   "x-ratelimit-reset-requests: %s\r\n"
			   "x-ratelimit-limit-tokens: 150000\r\n"
			   "x-ratelimit-remaining-tokens: 150000\r\n"
			   "x-ratelimit-reset-tokens: 0s\r\n", dur);
		buf_printf(&msg, "Rate limit reached for requests per min (RPM): "
			   "Limit 60, Used 60, Requested 1. Please try again in %s.", dur);
		error_openai_extra(c, 429, h.p, msg.p, "rate_limit_error", NULL,
				   "rate_limit_exceeded");
	}
	buf_free(&h);
	buf_free(&msg);
}

static void answer_5xx(struct conn *c, enum api_dialect d, int status)
{
	if (d == DIALECT_OLLAMA) {
		if (status == 503)
			api_error_ollama(c, 503, busy_msg);
		else
			api_error_ollama(c, status, "llama runner process has terminated: exit status 2");
	} else if (status == 503) {
		api_error_openai(c, 503, "The engine is currently overloaded, please try again later.",
				 "server_error", NULL, NULL);
	} else {
		api_error_openai(c, status, "The server had an error while processing your "
				 "request. Sorry about that!", "server_error", NULL, NULL);
	}
}

static void answer_forced(struct conn *c, enum api_dialect d, int status)
{
	char msg[64];
	snprintf(msg, sizeof msg, "llmd: forced failure (HTTP %d)", status);
	if (d == DIALECT_OLLAMA)
		api_error_ollama(c, status, msg);
	else
		api_error_openai(c, status, msg,
				 status < 500 ? "invalid_request_error" : "server_error",
				 NULL, NULL);
}

int api_model_gate(struct conn *c, enum api_dialect d, enum job_kind kind,
		   long items, int *holding, long *beside)
{
	*holding = 0;
	*beside = 0;
	struct llmd_tunables t;
	state_tunables(&t);
	enum fault f = state_pick_fault(&t, kind == JOB_CHAT);
	if (f != FAULT_NONE)
		stats_fault(f);
	/* --fail-all and the fast faults answer without taking a lane */
	if (f == FAULT_429) {
		answer_429(c, d, &t);
		return -1;
	}
	if (f == FAULT_503) {
		answer_5xx(c, d, 503);
		return -1;
	}
	if (f == FAULT_OTHER) {
		answer_forced(c, d, t.fail_all);
		return -1;
	}
	if (t.fail_all == 500) {
		answer_5xx(c, d, 500);
		return -1;
	}
	if (t.fail_all == FAIL_ALL_DROP) {
		http_abort(c);
		return -1;
	}
	switch (lane_acquire()) {
	case LANE_OK:
		break;
	case LANE_FULL:
		answer_busy(c, d);
		return -1;
	case LANE_STOPPING:
		http_abort(c);
		return -1;
	}
	double ms = t.latency_ms;
	if (kind == JOB_EMBED)
		ms += t.per_item_ms * (double)items;
	if (t.jitter_ms > 0)
		ms += state_rand01() * t.jitter_ms;
	if (f == FAULT_SLOW)
		ms += t.slow_ms;
	struct compute_mark mark;
	compute_begin(&mark);
	int stopped = state_sleep(ms);
	*beside = compute_end(&mark);
	if (stopped) {
		lane_release();
		http_abort(c);
		return -1;
	}
	if (f == FAULT_500 || f == FAULT_DROP) {
		if (f == FAULT_500)
			answer_5xx(c, d, 500);
		else
			http_abort(c);
		lane_release();
		return -1;
	}
	*holding = 1;
	if (f == FAULT_BADJSON || f == FAULT_TRUNCATE)
		http_spoil(c);
	return f == FAULT_SLOW ? FAULT_NONE : (int)f;
}

/* A number in [0, 1) drawn from h. */
static double unit(uint64_t h)
{
	return (double)(h >> 11) / 9007199254740992.0;
}

uint64_t api_embed_drift(const char *const *texts, long n, long beside, double *noise)
{
	struct llmd_tunables t;
	state_tunables(&t);
	*noise = t.batch_noise;
	/* one lane computes the inputs of a request one after the other */
	long others = beside + (t.lanes > 1 ? n - 1 : 0);
	if (t.batch_noise <= 0 || others <= 0)
		return 0;
	uint64_t h = FNV64_INIT;
	for (long i = 0; i < n; i++)
		h = fnv64(h, texts[i], strlen(texts[i]) + 1); /* with its NUL */
	h = fnv64(h, &others, sizeof others);
	return h ? h : 1;
}

uint64_t api_chat_drift(const char *p, size_t len, long beside)
{
	struct llmd_tunables t;
	state_tunables(&t);
	if (t.batch_flip <= 0 || beside <= 0)
		return 0;
	uint64_t h = fnv64(fnv64(FNV64_INIT, p, len), &beside, sizeof beside);
	if (unit(h) >= t.batch_flip)
		return 0;
	return h ? h : 1;
}

static const char *const chat[] = {"/api/chat", "/api/generate", "/v1/chat/completions",
				   "/v1/completions"};
static const char *const embed[] = {"/api/embed", "/api/embeddings", "/v1/embeddings"};

static int is_model_path(const char *path)
{
	for (size_t i = 0; i < ARRAY_LEN(chat); i++)
		if (!strcmp(path, chat[i]))
			return 1;
	for (size_t i = 0; i < ARRAY_LEN(embed); i++)
		if (!strcmp(path, embed[i]))
			return 1;
	return 0;
}

void api_count_model_request(const struct req *q)
{
	for (size_t i = 0; i < ARRAY_LEN(chat); i++)
		if (!strcmp(q->path, chat[i]))
			stats_model_request(1);
	for (size_t i = 0; i < ARRAY_LEN(embed); i++) {
		if (strcmp(q->path, embed[i]))
			continue;
		stats_model_request(0);
		cJSON *j = cJSON_ParseWithLength(q->body ? q->body : "", q->body_len);
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
		if (cJSON_IsArray(in))
			stats_embed_batch(cJSON_GetArraySize(in));
		else if (cJSON_IsString(in) || cJSON_GetObjectItemCaseSensitive(j, "prompt"))
			stats_embed_batch(1);
		cJSON_Delete(j);
	}
}

static void control(struct conn *c, struct req *r)
{
	struct buf b = {0};
	int get = !strcmp(r->method, "GET") || r->head;
	int post = !strcmp(r->method, "POST");
	if (!strcmp(r->path, "/_double/stats") && get) {
		stats_json(&b);
	} else if (!strcmp(r->path, "/_double/reset") && post) {
		stats_reset();
		buf_puts(&b, "{\"ok\":true}\n");
	} else if (!strcmp(r->path, "/_double/config") && (get || post)) {
		if (post) {
			cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
			struct buf err = {0};
			if (!j)
				buf_puts(&err, "body is not valid JSON");
			int bad = !j || state_configure(j, &err);
			cJSON_Delete(j);
			if (bad) {
				api_error_ollama(c, 400, err.p);
				buf_free(&err);
				return;
			}
		}
		state_config_json(&b);
	} else if (!strcmp(r->path, "/_double/script") && (get || post)) {
		struct buf err = {0};
		if (post && script_load(r->body ? r->body : "", r->body_len, &err)) {
			api_error_ollama(c, 400, err.p);
			buf_free(&err);
			return;
		}
		script_json(&b);
	} else {
		api_error_ollama(c, 404, "no such control endpoint");
		return;
	}
	http_respond(c, 200, CT_OLLAMA, NULL, b.p, b.len);
	buf_free(&b);
}

enum endpoint {
	EP_ROOT, EP_VERSION, EP_TAGS, EP_PS, EP_SHOW, EP_CHAT, EP_GENERATE,
	EP_EMBED, EP_EMBEDDINGS, EP_V1_MODELS, EP_V1_MODEL, EP_V1_CHAT,
	EP_V1_COMPLETIONS, EP_V1_EMBEDDINGS,
};

static const struct route {
	const char *path;
	int post;
	enum endpoint ep;
} routes[] = {
	{"/", 0, EP_ROOT},
	{"/api/version", 0, EP_VERSION},
	{"/api/tags", 0, EP_TAGS},
	{"/api/ps", 0, EP_PS},
	{"/api/show", 1, EP_SHOW},
	{"/api/chat", 1, EP_CHAT},
	{"/api/generate", 1, EP_GENERATE},
	{"/api/embed", 1, EP_EMBED},
	{"/api/embeddings", 1, EP_EMBEDDINGS},
	{"/v1/models", 0, EP_V1_MODELS},
	{"/v1/chat/completions", 1, EP_V1_CHAT},
	{"/v1/completions", 1, EP_V1_COMPLETIONS},
	{"/v1/embeddings", 1, EP_V1_EMBEDDINGS},
};

void api_error_llama(struct conn *c, int status, const char *msg, const char *type,
		     const char *extra)
{
	struct buf b = {0};
	buf_printf(&b, "{\"error\":{\"code\":%d,\"message\":", status);
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, ",\"type\":");
	buf_json_str(&b, type, strlen(type));
	if (extra)
		buf_printf(&b, ",%s", extra);
	buf_puts(&b, "}}");
	http_respond(c, status, CT_OPENAI, NULL, b.p, b.len);
	buf_free(&b);
}

/* llama-server's GET /props (total_slots: its --parallel, here the lanes)
 * and GET /slots (one object a slot, is_processing for the busy ones), at
 * the root of the server whatever the API prefix. */
static void llama_props(struct conn *c, int slots)
{
	struct llmd_tunables t;
	state_tunables(&t);
	long n_ctx = llmd.ctx > 0 ? llmd.ctx : 4096;
	const char *model = llmd.nmodels ? llmd.models[0].name : "";
	struct buf b = {0};
	if (!slots) {
		buf_printf(&b, "{\"default_generation_settings\":{\"n_ctx\":%ld,"
			   "\"params\":{\"temperature\":0.8,\"n_predict\":-1}},"
			   "\"total_slots\":%ld,\"model_path\":", n_ctx, t.lanes);
		buf_json_str(&b, model, strlen(model));
		buf_puts(&b, ",\"chat_template\":\"\",\"modalities\":{\"vision\":false,"
			 "\"audio\":false},\"build_info\":\"llmd\"}");
	} else {
		long busy = stats_in_flight();
		buf_putc(&b, '[');
		for (long i = 0; i < t.lanes; i++)
			buf_printf(&b, "%s{\"id\":%ld,\"id_task\":%ld,\"n_ctx\":%ld,"
				   "\"speculative\":false,\"is_processing\":%s}", i ? "," : "", i,
				   i < busy ? i : -1L, n_ctx, i < busy ? "true" : "false");
		buf_putc(&b, ']');
	}
	http_respond(c, 200, CT_OPENAI, NULL, b.p, b.len);
	buf_free(&b);
}

static void dispatch(struct conn *c, struct req *r)
{
	const char *p = r->path;
	if (llmd.llama_props && (!strcmp(p, "/props") || !strcmp(p, "/slots")) &&
	    (!strcmp(r->method, "GET") || r->head)) {
		llama_props(c, !strcmp(p, "/slots"));
		return;
	}
	int openai = !strncmp(p, "/v1/", 4) || !strcmp(p, "/v1");
	/* --api openai plays vLLM or llama-server, --api ollama an Ollama
	 * without its OpenAI layer: the other API is not there */
	if (llmd.api == API_OPENAI && !openai) {
		static const char nf[] = "{\"detail\":\"Not Found\"}";
		http_respond(c, 404, CT_OPENAI, NULL, nf, sizeof nf - 1);
		return;
	}
	if (llmd.api == API_OLLAMA && openai) {
		static const char nf[] = "404 page not found";
		http_respond(c, 404, "text/plain", NULL, nf, sizeof nf - 1);
		return;
	}
	if (openai && openai_auth(c, r))
		return;
	const struct route *rt = NULL;
	for (size_t i = 0; i < ARRAY_LEN(routes) && !rt; i++)
		if (!strcmp(p, routes[i].path))
			rt = &routes[i];
	static const struct route model_route = {"/v1/models/", 0, EP_V1_MODEL};
	if (!rt && !strncmp(p, "/v1/models/", 11) && p[11])
		rt = &model_route;
	int get = !strcmp(r->method, "GET") || r->head;
	int post = !strcmp(r->method, "POST");
	if (!rt || (rt->post ? !post : !get)) {
		char msg[256];
		int status = rt ? 405 : 404;
		if (openai) {
			snprintf(msg, sizeof msg, "Invalid %s (%s %.160s)",
				 rt ? "method for URL" : "URL", r->method, p);
			api_error_openai(c, status, msg, "invalid_request_error", NULL, NULL);
		} else {
			const char *txt = rt ? "405 method not allowed" : "404 page not found";
			http_respond(c, status, "text/plain", NULL, txt, strlen(txt));
		}
		return;
	}
	static const char running[] = "Ollama is running";
	static const char version[] = "{\"version\":\"0.6.0\"}";
	switch (rt->ep) {
	case EP_ROOT:
		http_respond(c, 200, "text/plain; charset=utf-8", NULL, running,
			     sizeof running - 1);
		break;
	case EP_VERSION:
		http_respond(c, 200, CT_OLLAMA, NULL, version, sizeof version - 1);
		break;
	case EP_TAGS: ollama_tags(c, r); break;
	case EP_PS: ollama_ps(c, r); break;
	case EP_SHOW: ollama_show(c, r); break;
	case EP_CHAT: ollama_chat(c, r, 0); break;
	case EP_GENERATE: ollama_chat(c, r, 1); break;
	case EP_EMBED: ollama_embed(c, r, 0); break;
	case EP_EMBEDDINGS: ollama_embed(c, r, 1); break;
	case EP_V1_MODELS: openai_models(c, r, NULL); break;
	case EP_V1_MODEL: openai_models(c, r, p + 11); break;
	case EP_V1_CHAT: openai_chat(c, r, 0); break;
	case EP_V1_COMPLETIONS: openai_chat(c, r, 1); break;
	case EP_V1_EMBEDDINGS: openai_embeddings(c, r); break;
	}
}

void api_handle(struct conn *c, struct req *r)
{
	if (!strncmp(r->path, "/_double/", 9)) {
		control(c, r);
		return;
	}
	if (!script_answer(c, r))
		dispatch(c, r);
	if (!http_answered(c))
		api_error_ollama(c, 500, "llmd: internal error: no answer");
	stats_http(r->path, http_status(c));
	if (is_model_path(r->path) && http_whole(c))
		stats_answered(r->path);
	if (llmd.verbose)
		log_error("%s %s %d %.1fms", r->method, r->path, http_status(c),
			  now_ms() - r->t0_ms);
}
