/* llm_http: one HTTP exchange over a reused libcurl handle. */
#include "llm_http.h"
#include "llm.h"
#include "log.h"
#include "pool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct llm_http {
	char *base_url;
	char *api_key;        /* "" when none; never logged */
	struct llm_http_limits lim;
	struct lock *l;       /* the idle handles */
	CURL **idle;
	int nidle, max_idle;
	atomic_long connections;
};

struct llm_http *llm_http_new(const char *base_url, const char *api_key,
			      const struct llm_http_limits *lim, int max_idle)
{
	static int curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			log_internal("cannot initialise libcurl");
		curl_ready = 1;
	}
	struct llm_http *h = xcalloc(1, sizeof *h);
	h->base_url = xstrdup(base_url);
	h->api_key = xstrdup(api_key ? api_key : "");
	h->lim = *lim;
	h->l = lock_new();
	h->max_idle = max_idle < 1 ? 1 : max_idle;
	h->idle = xcalloc((size_t)h->max_idle, sizeof *h->idle);
	atomic_init(&h->connections, 0);
	return h;
}

void llm_http_free(struct llm_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	free(h->idle);
	lock_free(h->l);
	free(h->base_url);
	/* do not leave the key in freed memory */
	memset(h->api_key, 0, strlen(h->api_key));
	free(h->api_key);
	free(h);
}

long llm_http_connections(struct llm_http *h)
{
	return atomic_load(&h->connections);
}

void llm_http_resp_free(struct llm_http_resp *r)
{
	buf_free(&r->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct llm_http_resp *r = ud;
	size_t len = size * n;
	r->last_byte_ms = now_ms();
	/* decoded bytes: a gzip bomb is stopped here too */
	if (r->body.len + len > (size_t)r->h->lim.max_body_bytes) {
		r->too_big = 1;
		return 0;
	}
	buf_append(&r->body, p, len);
	return len;
}

/* Called by libcurl about once a second and whenever data moves: aborts
 * on a stop request or a streamed answer gone silent. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct llm_http_resp *r = ud;
	if (r->h->lim.aborting && r->h->lim.aborting()) {
		r->aborted = 1;
		return 1;
	}
	if (r->streamed && now_ms() - r->last_byte_ms > (double)r->h->lim.idle_timeout_ms) {
		r->silent = 1;
		return 1;
	}
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct llm_http_resp *r = ud;
	size_t len = size * n;
	r->last_byte_ms = now_ms();
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

static CURL *handle_get(struct llm_http *h)
{
	lock_take(h->l);
	CURL *e = h->nidle > 0 ? h->idle[--h->nidle] : NULL;
	lock_give(h->l);
	if (!e && !(e = curl_easy_init()))
		log_internal("cannot create a libcurl handle (out of memory?)");
	return e;
}

static void handle_put(struct llm_http *h, CURL *e)
{
	lock_take(h->l);
	if (h->nidle < h->max_idle) {
		h->idle[h->nidle++] = e;
		e = NULL;
	}
	lock_give(h->l);
	if (e)
		curl_easy_cleanup(e);
}

void llm_http_do(struct llm_http *h, const char *path, const char *body, size_t body_len,
		 int streamed, struct llm_http_resp *r)
{
	CURL *e = handle_get(h);
	char *url = xasprintf("%s%s", h->base_url, path);
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, streamed ? "Accept: application/json, application/x-ndjson, "
				 "text/event-stream" : "Accept: application/json");
	char *auth = NULL;
	if (*h->api_key) {
		auth = xasprintf("Authorization: Bearer %s", h->api_key);
		hdrs = curl_slist_append(hdrs, auth);
	}
	r->retry_after_ms = -1;
	r->reset_ms = -1;
	r->curl_err[0] = '\0';
	r->h = h;
	r->streamed = streamed;
	r->last_byte_ms = now_ms();
	/* unstreamed, the whole wait is one silence */
	long timeout = h->lim.timeout_ms;
	if (!streamed && h->lim.idle_timeout_ms < timeout)
		timeout = h->lim.idle_timeout_ms;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->lim.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "lanes/0.1");
	if (body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	r->curl = curl_easy_perform(e);
	r->status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	long conns = 0;
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
	atomic_fetch_add(&h->connections, conns);
	/* unset the header list before it is freed; the handle is reused */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	free(url);
	if (r->curl != CURLE_OK) {
		/* a handle whose transfer broke may hold a dead connection */
		curl_easy_cleanup(e);
		return;
	}
	handle_put(h, e);
}
