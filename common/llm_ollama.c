/* llm_ollama: Ollama's native API: POST /api/chat (streamed NDJSON or whole, the
 * schema in "format", sampling in "options"), POST /api/embed (vectors in
 * input order), GET /api/tags (names and digests). */
#include "llm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_body(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
		      const char *schema, int json_schema_ok, int stream, long seed)
{
	(void)json_schema_ok; /* format takes any schema */
	llm_wire_chat_head(b, req, stream, NULL);
	if (schema)
		buf_printf(b, ",\"format\":%s", schema);
	else if (req->json)
		buf_puts(b, ",\"format\":\"json\"");
	buf_printf(b, ",\"options\":{\"temperature\":%g", cfg->temperature);
	if (seed >= 0)
		buf_printf(b, ",\"seed\":%ld", seed);
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
static const char *content_of(const cJSON *j, int streamed)
{
	(void)streamed; /* chunks have the same shape */
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

static void embed_body(struct buf *b, const struct llm_config *cfg, const char *model,
		       const char *const *texts, size_t n, int dim_hint)
{
	(void)dim_hint; /* Ollama models have their own size */
	llm_wire_embed_head(b, model, texts, n);
	if (cfg->keep_alive && *cfg->keep_alive) {
		buf_puts(b, ",\"keep_alive\":");
		buf_json_str(b, cfg->keep_alive, strlen(cfg->keep_alive));
	}
	buf_putc(b, '}');
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
	.content = content_of,
	.usage = usage_of,
	.embed_body = embed_body,
	.vectors_key = "embeddings",
	.by_index = 0,
	.models_key = "models",
	.name_key = "name",
	.model_missing = model_missing,
};
