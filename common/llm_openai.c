/* llm_openai: the OpenAI-compatible API (OpenAI, vLLM, llama.cpp's
 * llama-server, LM Studio): POST /chat/completions (the schema in
 * response_format json_schema, or json_object where the server refuses
 * it), POST /embeddings (vectors matched back by index), GET /models. */
#include "llm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_body(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
		      const char *schema, int json_schema_ok, int stream, long seed)
{
	/* json_object instead of a refused json_schema: the schema goes in a
	 * system message (json_object also needs the word JSON in one) */
	char *note = schema && !json_schema_ok
		? xasprintf("Answer with one JSON object that follows this JSON schema: %s", schema)
		: NULL;
	llm_wire_chat_head(b, req, stream, note);
	free(note);
	if (stream)
		buf_puts(b, ",\"stream_options\":{\"include_usage\":true}");
	buf_printf(b, ",\"temperature\":%g", cfg->temperature);
	if (seed >= 0)
		buf_printf(b, ",\"seed\":%ld", seed);
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

static void embed_body(struct buf *b, const struct llm_config *cfg, const char *model,
		       const char *const *texts, size_t n, int dim_hint)
{
	(void)cfg;
	llm_wire_embed_head(b, model, texts, n);
	buf_puts(b, ",\"encoding_format\":\"float\"");
	if (dim_hint > 0)
		buf_printf(b, ",\"dimensions\":%d", dim_hint);
	buf_putc(b, '}');
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
	.content = content_of,
	.usage = usage_of,
	.embed_body = embed_body,
	.vectors_key = "data",
	.by_index = 1,
	.models_key = "data",
	.name_key = "id",
	.model_missing = model_missing,
};
