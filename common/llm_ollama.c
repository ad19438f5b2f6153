/* llm_ollama: Ollama's native API: POST /api/chat (stream false, the
 * schema in "format", sampling in "options"), POST /api/embed (vectors in
 * input order), GET /api/tags (names and digests). */
#include "llm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_body(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
		      const char *schema, int json_schema_ok)
{
	(void)json_schema_ok; /* format takes any schema */
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
	if (schema)
		buf_printf(b, ",\"format\":%s", schema);
	else if (req->json)
		buf_puts(b, ",\"format\":\"json\"");
	buf_printf(b, ",\"options\":{\"temperature\":%g", cfg->temperature);
	if (cfg->seed >= 0)
		buf_printf(b, ",\"seed\":%ld", cfg->seed);
	if (cfg->num_ctx > 0)
		buf_printf(b, ",\"num_ctx\":%ld", cfg->num_ctx);
	if (req->max_tokens > 0)
		buf_printf(b, ",\"num_predict\":%ld", req->max_tokens);
	buf_putc(b, '}');
	if (cfg->keep_alive && *cfg->keep_alive) {
		buf_puts(b, ",\"keep_alive\":");
		buf_json_str(b, cfg->keep_alive, strlen(cfg->keep_alive));
	}
	buf_putc(b, '}');
}

/* message.content (chat) or response (generate) */
static const char *content_of(const cJSON *j)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	const cJSON *t = m ? cJSON_GetObjectItemCaseSensitive(m, "content")
			   : cJSON_GetObjectItemCaseSensitive(j, "response");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

static void usage_of(struct llm_answer *a, const cJSON *j)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt_eval_count");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "eval_count");
	if (cJSON_IsNumber(p))
		a->prompt_tokens = (long)p->valuedouble;
	if (cJSON_IsNumber(e))
		a->completion_tokens = (long)e->valuedouble;
	const cJSON *dr = cJSON_GetObjectItemCaseSensitive(j, "done_reason");
	if (cJSON_IsString(dr) && !strcmp(dr->valuestring, "length"))
		a->truncated = 1;
}

struct stream_acc {
	struct llm_answer *a;
	struct buf text;
	int pieces, done;
};

static int on_chunk(const cJSON *k, void *ud)
{
	struct stream_acc *s = ud;
	const char *t = content_of(k);
	if (t)
		buf_puts(&s->text, t), s->pieces++;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "done")))
		s->done = 1;
	usage_of(s->a, k);
	return 0;
}

static int chat_parse(const char *body, size_t n, struct llm_answer *a, char *err, size_t errlen)
{
	cJSON *j = llm_wire_single(body, n);
	if (j) {
		const char *t = content_of(j);
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
	/* streamed: one JSON object per line, the last with "done": true */
	struct stream_acc s = {.a = a};
	if (llm_wire_stream(body, n, &s.done, on_chunk, &s, err, errlen)) {
		buf_free(&s.text);
		return -1;
	}
	if (!s.done || !s.pieces) {
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
	(void)dim_hint; /* Ollama models have their own size */
	buf_puts(b, "{\"model\":");
	buf_json_str(b, model, strlen(model));
	buf_puts(b, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, texts[i], strlen(texts[i]));
	}
	buf_putc(b, ']');
	if (cfg->keep_alive && *cfg->keep_alive) {
		buf_puts(b, ",\"keep_alive\":");
		buf_json_str(b, cfg->keep_alive, strlen(cfg->keep_alive));
	}
	buf_putc(b, '}');
}

/* {"embeddings": [[...], ...]} in input order */
static int embed_parse(const char *body, size_t n_body, size_t n, float **v, int *dim,
		       char *err, size_t errlen)
{
	*v = NULL;
	cJSON *j = cJSON_ParseWithLength(body ? body : "", n_body);
	if (!j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "embeddings");
	if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n) {
		snprintf(err, errlen, "expected %zu embeddings, got %d", n,
			 cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1);
		cJSON_Delete(j);
		return -1;
	}
	size_t idx = 0;
	int rc = 0;
	const cJSON *vec;
	cJSON_ArrayForEach(vec, arr) {
		if ((rc = llm_wire_vector(vec, idx++, v, n, dim, err, errlen)))
			break;
	}
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
	int found = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(list, "models")) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
		if (!cJSON_IsString(nm))
			continue;
		if (have->len < 300)
			buf_printf(have, "%s%s", have->len ? ", " : "", nm->valuestring);
		if (llm_wire_name_matches(nm->valuestring, model) && !found) {
			found = 1;
			const cJSON *dg = cJSON_GetObjectItemCaseSensitive(m, "digest");
			if (cJSON_IsString(dg))
				snprintf(info, infolen, "%.12s", dg->valuestring);
		}
	}
	return found;
}

static void model_missing(char *out, size_t outlen, const char *model, const char *base_url,
			  const char *names, const char *server_msg)
{
	if (names)
		snprintf(out, outlen, "model '%s' not found on %s (it has: %s): run `ollama pull %s`",
			 model, base_url, *names ? names : "none", model);
	else
		snprintf(out, outlen, "model '%s' not found on %s (%s): run `ollama pull %s`", model,
			 base_url, server_msg, model);
}

const struct llm_wire llm_ollama_wire = {
	.name = "ollama",
	.chat_path = "/api/chat",
	.embed_path = "/api/embed",
	.models_path = "/api/tags",
	.chat_body = chat_body,
	.chat_parse = chat_parse,
	.embed_body = embed_body,
	.embed_parse = embed_parse,
	.model_listed = model_listed,
	.model_missing = model_missing,
};
