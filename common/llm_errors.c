/* llm_errors: what a failed exchange with an LLM server means
 * (llm_errors.h). */
#include "llm_errors.h"
#include "llm_wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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
int llm_errors_http(const struct llm_server *e, const char *path, const char *model,
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

int llm_errors_transport(const struct llm_server *e, const char *path,
			 const struct llm_http_resp *r, const struct llm_config *cfg,
			 struct llm_result *res)
{
	const char *url = e->e.shown_url;
	if (r->too_big) {
		snprintf(res->code, sizeof res->code, "body_too_large");
		snprintf(res->message, sizeof res->message,
			 "the answer from %s%s is larger than llm.max_body_bytes (%ld bytes, "
			 "decoded): raise it if the server is right", url, path, cfg->max_body_bytes);
		return 0;
	}
	if (r->silent) {
		snprintf(res->code, sizeof res->code, "timeout");
		snprintf(res->message, sizeof res->message,
			 "%s%s: no byte from the server for %.1f s (llm.idle_timeout_ms)", url, path,
			 (double)cfg->idle_timeout_ms / 1000);
		return 1;
	}
	snprintf(res->code, sizeof res->code, "%s",
		 r->curl == CURLE_OPERATION_TIMEDOUT ? "timeout"
		 : r->curl == CURLE_COULDNT_CONNECT ? "connect"
		 : r->curl == CURLE_PARTIAL_FILE ? "truncated" : "transport");
	snprintf(res->message, sizeof res->message, "%s%s: %s", url, path,
		 r->curl_err[0] ? r->curl_err : curl_easy_strerror(r->curl));
	return retryable_curl(r->curl);
}

int llm_errors_body(const struct llm_server *e, const char *path, int prc, const char *msg,
		    struct llm_result *res)
{
	if (prc == LLM_WIRE_SHAPE) {
		snprintf(res->code, sizeof res->code, "bad_answer");
		snprintf(res->message, sizeof res->message, "unexpected answer from %s%s: %s",
			 e->e.shown_url, path, msg);
		return 0;
	}
	snprintf(res->code, sizeof res->code, "bad_body");
	snprintf(res->message, sizeof res->message, "unusable answer from %s%s: %s",
		 e->e.shown_url, path, msg);
	return 1;
}
