/* llm_openai: the OpenAI-compatible API (OpenAI, vLLM, llama.cpp's
 * llama-server, LM Studio): POST /chat/completions (the schema in
 * response_format json_schema, or json_object where the server refuses
 * it), POST /embeddings (vectors matched back by index), GET /models. */
#include "llm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_body(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
		      const char *schema, int json_schema_ok)
{
	buf_puts(b, "{\"model\":");
	buf_json_str(b, req->model, strlen(req->model));
	buf_puts(b, ",\"stream\":false,\"messages\":[");
	int first = 1;
	if (req->system && *req->system)
		llm_wire_message(b, &first, "system", req->system);
	llm_wire_message(b, &first, "user", req->user);
	if (req->prev_answer && req->correction) {
		llm_wire_message(b, &first, "assistant", req->prev_answer);
		llm_wire_message(b, &first, "user", req->correction);
	}
	buf_putc(b, ']');
	buf_printf(b, ",\"temperature\":%g", cfg->temperature);
	if (cfg->seed >= 0)
		buf_printf(b, ",\"seed\":%ld", cfg->seed);
	if (req->max_tokens > 0)
		buf_printf(b, ",\"max_tokens\":%ld", req->max_tokens);
	if (schema && json_schema_ok)
		buf_printf(b, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
			       "{\"name\":\"answer\",\"strict\":false,\"schema\":%s}}", schema);
	else if (schema || req->json)
		buf_puts(b, ",\"response_format\":{\"type\":\"json_object\"}");
	buf_putc(b, '}');
}

/* choices[0].message.content, or .delta.content in a streamed chunk */
static const char *content_of(const cJSON *j, int streamed)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(ch, streamed ? "delta" : "message");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

static void usage_of(struct llm_answer *a, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
	if (cJSON_IsNumber(p))
		a->prompt_tokens = (long)p->valuedouble;
	if (cJSON_IsNumber(e))
		a->completion_tokens = (long)e->valuedouble;
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
	if (cJSON_IsString(fr) && !strcmp(fr->valuestring, "length"))
		a->truncated = 1;
}

struct stream_acc {
	struct llm_answer *a;
	struct buf text;
	int pieces;
};

static int on_chunk(const cJSON *k, void *ud)
{
	struct stream_acc *s = ud;
	const char *t = content_of(k, 1);
	if (t)
		buf_puts(&s->text, t), s->pieces++;
	usage_of(s->a, k);
	return 0;
}

static int chat_parse(const char *body, size_t n, struct llm_answer *a, char *err, size_t errlen)
{
	cJSON *j = llm_wire_single(body, n);
	if (j) {
		const char *t = content_of(j, 0);
		if (!t) {
			cJSON_Delete(j);
			snprintf(err, errlen, "no message content in the answer");
			return -1;
		}
		a->text = xstrdup(t);
		usage_of(a, j);
		cJSON_Delete(j);
		return 0;
	}
	/* streamed: server-sent events, the last "data: [DONE]" */
	struct stream_acc s = {.a = a};
	int done = 0;
	if (llm_wire_stream(body, n, &done, on_chunk, &s, err, errlen)) {
		buf_free(&s.text);
		return -1;
	}
	if (!done || !s.pieces) {
		buf_free(&s.text);
		snprintf(err, errlen, "the streamed answer ended before it was done");
		return -1;
	}
	a->text = buf_steal(&s.text, NULL);
	return 0;
}

static void embed_body(struct buf *b, const struct llm_config *cfg, const char *model,
		       const char *const *texts, size_t n, int dim_hint)
{
	(void)cfg;
	buf_puts(b, "{\"model\":");
	buf_json_str(b, model, strlen(model));
	buf_puts(b, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, texts[i], strlen(texts[i]));
	}
	buf_putc(b, ']');
	buf_puts(b, ",\"encoding_format\":\"float\"");
	if (dim_hint > 0)
		buf_printf(b, ",\"dimensions\":%d", dim_hint);
	buf_putc(b, '}');
}

/* {"data": [{"index", "embedding"}, ...]} in any order: mapped by index */
static int embed_parse(const char *body, size_t n_body, size_t n, float **v, int *dim,
		       char *err, size_t errlen)
{
	*v = NULL;
	cJSON *j = cJSON_ParseWithLength(body ? body : "", n_body);
	if (!j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "data");
	if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n) {
		snprintf(err, errlen, "expected %zu embeddings, got %d", n,
			 cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1);
		cJSON_Delete(j);
		return -1;
	}
	char *seen = xcalloc(n, 1);
	int rc = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, arr) {
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
		if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble >= (double)n) {
			snprintf(err, errlen, "an embedding has no valid index");
			rc = -1;
			break;
		}
		size_t idx = (size_t)ix->valuedouble;
		if (seen[idx]) {
			snprintf(err, errlen, "index %zu answered twice", idx);
			rc = -1;
			break;
		}
		seen[idx] = 1;
		const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
		if ((rc = llm_wire_vector(vec, idx, v, n, dim, err, errlen)))
			break;
	}
	free(seen);
	cJSON_Delete(j);
	if (rc) {
		free(*v);
		*v = NULL;
	}
	return rc;
}

static int model_listed(const cJSON *list, const char *model, char *info, size_t infolen,
			struct buf *have)
{
	(void)info;
	(void)infolen; /* OpenAI lists no digest */
	int found = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(list, "data")) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (!cJSON_IsString(nm))
			continue;
		if (have->len < 300)
			buf_printf(have, "%s%s", have->len ? ", " : "", nm->valuestring);
		if (llm_wire_name_matches(nm->valuestring, model))
			found = 1;
	}
	return found;
}

static void model_missing(char *out, size_t outlen, const char *model, const char *base_url,
			  const char *names, const char *server_msg)
{
	if (names)
		snprintf(out, outlen, "model '%s' is not served by %s (it serves: %s)", model,
			 base_url, *names ? names : "none");
	else
		snprintf(out, outlen, "model '%s' is not served by %s (%s): check the model name "
			 "(GET /models lists them)", model, base_url, server_msg);
}

const struct llm_wire llm_openai_wire = {
	.name = "openai",
	.chat_path = "/chat/completions",
	.embed_path = "/embeddings",
	.models_path = "/models",
	.chat_body = chat_body,
	.chat_parse = chat_parse,
	.embed_body = embed_body,
	.embed_parse = embed_parse,
	.model_listed = model_listed,
	.model_missing = model_missing,
};
