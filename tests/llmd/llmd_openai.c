/* llmd_openai.c: the OpenAI wire format (API reference): bearer auth,
 * /v1/models, /v1/chat/completions and /v1/completions (SSE streaming on
 * request), /v1/embeddings (float or base64, data shuffled: map by index). */
#include "llmd.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#define CT_JSON "application/json"
#define CT_SSE "text/event-stream; charset=utf-8"
#define MAX_INPUTS 2048
#define MAX_INPUT_TOKENS 8192
#define MAX_REQUEST_TOKENS 300000
#define MAX_DIMENSIONS 16384
#define MODEL_CREATED 1700000000L

static const char invalid_ref[] =
	"Please check the API reference: https://platform.openai.com/docs/api-reference.";

static atomic_ullong id_seq;

static void invalid(struct conn *c, const char *msg, const char *param)
{
	api_error_openai(c, 400, msg, "invalid_request_error", param, NULL);
}

int openai_auth(struct conn *c, struct req *r)
{
	if (!llmd.api_key)
		return 0;
	const char *a = r->auth;
	if (a && !strncasecmp(a, "Bearer ", 7)) {
		a += 7;
		while (*a == ' ')
			a++;
		if (!strcmp(a, llmd.api_key))
			return 0;
	}
	struct buf msg = {0};
	if (!a || !*a || r->auth == a) {
		buf_puts(&msg, "You didn't provide an API key. You need to provide your API key "
			 "in an Authorization header using Bearer auth (i.e. Authorization: "
			 "Bearer YOUR_KEY).");
	} else {
		size_t n = strlen(a);
		buf_puts(&msg, "Incorrect API key provided: ");
		if (n > 8)
			buf_printf(&msg, "%.3s***%s", a, a + n - 4);
		else
			buf_puts(&msg, "***");
		buf_puts(&msg, ". You can find your API key at "
			 "https://platform.openai.com/account/api-keys.");
	}
	api_error_openai(c, 401, msg.p, "invalid_request_error", NULL, "invalid_api_key");
	buf_free(&msg);
	return -1;
}

static void put_model(struct buf *b, const struct llmd_model *m)
{
	/* llama-server lists its model under the first --alias and names
	 * every alias in "aliases" */
	int aliased = m == &llmd.models[0] && llmd.naliases;
	const char *id = aliased ? llmd.aliases[0] : m->name;
	buf_puts(b, "{\"id\":");
	buf_json_str(b, id, strlen(id));
	buf_printf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"llmd\"",
		   MODEL_CREATED + (long)(fnv64(FNV64_INIT, m->name, strlen(m->name)) % 1000000));
	if (aliased) {
		buf_puts(b, ",\"aliases\":[");
		for (size_t i = 0; i < llmd.naliases; i++) {
			if (i)
				buf_putc(b, ',');
			buf_json_str(b, llmd.aliases[i], strlen(llmd.aliases[i]));
		}
		buf_putc(b, ']');
	}
	buf_putc(b, '}');
}

static void not_found(struct conn *c, const char *name)
{
	struct buf msg = {0};
	buf_printf(&msg, "The model `%s` does not exist or you do not have access to it.", name);
	api_error_openai(c, 404, msg.p, "invalid_request_error", NULL, "model_not_found");
	buf_free(&msg);
}

void openai_models(struct conn *c, struct req *r, const char *id)
{
	(void)r;
	struct buf b = {0};
	if (id) {
		const struct llmd_model *m = model_find(id);
		if (!m) {
			not_found(c, id);
			return;
		}
		put_model(&b, m);
	} else {
		buf_puts(&b, "{\"object\":\"list\",\"data\":[");
		for (size_t i = 0; i < llmd.nmodels; i++) {
			if (i)
				buf_putc(&b, ',');
			put_model(&b, &llmd.models[i]);
		}
		buf_puts(&b, "]}");
	}
	http_respond(c, 200, CT_JSON, NULL, b.p, b.len);
	buf_free(&b);
}

static cJSON *parse_body(struct conn *c, struct req *r, const struct llmd_model **m,
			 const char **name)
{
	cJSON *j = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	if (!cJSON_IsObject(j)) {
		invalid(c, "We could not parse the JSON body of your request. (HINT: This likely "
			"means you aren't using your HTTP library correctly. The OpenAI API expects "
			"a JSON payload, but what was sent was not valid JSON.)", NULL);
		cJSON_Delete(j);
		return NULL;
	}
	const cJSON *mv = cJSON_GetObjectItemCaseSensitive(j, "model");
	if (!cJSON_IsString(mv) || !*mv->valuestring) {
		invalid(c, "you must provide a model parameter", NULL);
		cJSON_Delete(j);
		return NULL;
	}
	*name = mv->valuestring;
	*m = model_find(mv->valuestring);
	if (!*m) {
		not_found(c, mv->valuestring);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static long positive(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsNumber(v) && v->valuedouble >= 1 ? (long)v->valuedouble : 0;
}

/* Header of a completion object or stream chunk, through "choices":[ */
static void put_head(struct buf *b, const char *id, const char *object, long created,
		     const char *model)
{
	buf_printf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", id,
		   object, created);
	buf_json_str(b, model, strlen(model));
	buf_puts(b, ",\"system_fingerprint\":\"fp_llmd\",\"choices\":[");
}

static void put_usage(struct buf *b, long ptok, long etok)
{
	buf_printf(b, "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
		   "\"total_tokens\":%ld}", ptok, etok, ptok + etok);
}

/* One SSE event with a chunk whose choice carries text (or finish). */
static void send_chunk(struct conn *c, struct buf *b, const char *id, long created,
		       const char *model, int legacy, const char *delta_head,
		       const char *s, size_t n, const char *finish, int usage_null)
{
	buf_reset(b);
	buf_puts(b, "data: ");
	put_head(b, id, legacy ? "text_completion" : "chat.completion.chunk", created, model);
	if (legacy) {
		buf_puts(b, "{\"text\":");
		buf_json_str(b, s, n);
		buf_puts(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
	} else {
		buf_printf(b, "{\"index\":0,\"delta\":{%s", delta_head);
		if (s) {
			buf_printf(b, "%s\"content\":", *delta_head ? "," : "");
			buf_json_str(b, s, n);
		}
		buf_puts(b, "},\"logprobs\":null,\"finish_reason\":");
	}
	if (finish)
		buf_printf(b, "\"%s\"", finish);
	else
		buf_puts(b, "null");
	buf_puts(b, "}]");
	if (usage_null)
		buf_puts(b, ",\"usage\":null");
	buf_puts(b, "}\n\n");
	http_stream_chunk(c, b->p, b->len);
}

static int mentions_json(const cJSON *msgs)
{
	const cJSON *msg;
	cJSON_ArrayForEach(msg, msgs) {
		struct buf t = {0};
		api_content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &t);
		int yes = t.p && strcasestr(t.p, "json");
		buf_free(&t);
		if (yes)
			return 1;
	}
	return 0;
}

void openai_chat(struct conn *c, struct req *r, int legacy)
{
	stats_model_request(1);
	const struct llmd_model *m;
	const char *model;
	cJSON *j = parse_body(c, r, &m, &model);
	if (!j)
		return;
	struct buf prompt = {0}, content = {0}, b = {0};
	size_t prompt_bytes = 0;
	int holding = 0;
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
	if (m->embed_only) {
		api_error_openai(c, 404, legacy
			? "This is not a completions model and thus not supported in the v1/completions endpoint."
			: "This is not a chat model and thus not supported in the "
			  "v1/chat/completions endpoint. Did you mean to use v1/completions?",
			"invalid_request_error", "model", NULL);
		goto out;
	}
	if (legacy) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
		if (cJSON_IsArray(p))
			p = cJSON_GetArrayItem(p, 0);
		if (!cJSON_IsString(p)) {
			api_error_openai(c, 400, "Missing required parameter: 'prompt'.",
					 "invalid_request_error", "prompt", "missing_required_parameter");
			goto out;
		}
		buf_puts(&prompt, p->valuestring);
		prompt_bytes = prompt.len;
	} else {
		if (!msgs) {
			api_error_openai(c, 400, "Missing required parameter: 'messages'.",
					 "invalid_request_error", "messages", "missing_required_parameter");
			goto out;
		}
		if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs)) {
			invalid(c, cJSON_IsArray(msgs) ? "[] is too short - 'messages'"
				: "Invalid type for 'messages': expected an array.", "messages");
			goto out;
		}
		const cJSON *msg;
		int i = 0;
		cJSON_ArrayForEach(msg, msgs) {
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
			struct buf text = {0};
			if (!cJSON_IsObject(msg) || !cJSON_IsString(role) ||
			    api_content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &text)) {
				char param[48];
				snprintf(param, sizeof param, "messages.[%d]", i);
				buf_free(&text);
				invalid(c, "Invalid message: want {\"role\": string, \"content\": "
					"string or array of parts}.", param);
				goto out;
			}
			prompt_bytes += text.len;
			if (!strcmp(role->valuestring, "user")) {
				buf_reset(&prompt);
				buf_append(&prompt, text.p ? text.p : "", text.len);
			}
			buf_free(&text);
			i++;
		}
	}
	enum answer_mode mode = ANSWER_TEXT;
	const cJSON *schema = NULL;
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "response_format");
	if (rf && !cJSON_IsNull(rf)) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
		const char *ts = cJSON_IsString(type) ? type->valuestring : "";
		if (!strcmp(ts, "json_object")) {
			mode = ANSWER_JSON;
			if (!legacy && !mentions_json(msgs)) {
				invalid(c, "'messages' must contain the word 'json' in some form, to use "
					"'response_format' of type 'json_object'.", "messages");
				goto out;
			}
		} else if (!strcmp(ts, "json_schema")) {
			const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
			if (!cJSON_IsString(name)) {
				api_error_openai(c, 400, "Missing required parameter: "
						 "'response_format.json_schema.name'.",
						 "invalid_request_error", "response_format.json_schema.name",
						 "missing_required_parameter");
				goto out;
			}
			schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
			mode = cJSON_IsObject(schema) ? ANSWER_SCHEMA : ANSWER_JSON;
		} else if (strcmp(ts, "text")) {
			invalid(c, "Invalid value for 'response_format.type': expected one of "
				"'text', 'json_object' or 'json_schema'.", "response_format.type");
			goto out;
		}
	}
	long max_tokens = positive(j, "max_completion_tokens");
	if (!max_tokens)
		max_tokens = positive(j, "max_tokens");
	if (llmd.ctx && answer_tokens(prompt_bytes) > llmd.ctx) {
		/* llama-server: the prompt does not fit the slot's context */
		char extra[96];
		snprintf(extra, sizeof extra, "\"n_prompt_tokens\":%ld,\"n_ctx\":%ld",
			 answer_tokens(prompt_bytes), llmd.ctx);
		api_error_llama(c, 400, "the request exceeds the available context size, try "
				"increasing it", "exceed_context_size_error", extra);
		goto out;
	}
	int streaming = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"));
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
	int include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
	stats_model_used(m);
	long beside;
	int fault = api_model_gate(c, DIALECT_OPENAI, JOB_CHAT, 1, &holding, &beside);
	if (fault < 0)
		goto out;
	if (fault == FAULT_BADJSON)
		buf_puts(&content, answer_badjson);
	else
		answer_content(&content, prompt.p ? prompt.p : "", prompt.len, mode, schema,
			       api_chat_drift(prompt.p ? prompt.p : "", prompt.len, beside));
	if (!content.p)
		buf_puts(&content, "");
	const char *finish = answer_limit(&content, max_tokens) ? "length" : "stop";
	long ptok = answer_tokens(prompt_bytes), etok = answer_tokens(content.len);
	char id[64];
	snprintf(id, sizeof id, "%s-llmd%016llx", legacy ? "cmpl" : "chatcmpl",
		 (unsigned long long)atomic_fetch_add(&id_seq, 1) + 1);
	long created = (long)wall_time();
	char xid[96];
	snprintf(xid, sizeof xid, "x-request-id: req_%s\r\n", id);
	if (!streaming) {
		put_head(&b, id, legacy ? "text_completion" : "chat.completion", created, model);
		if (legacy) {
			buf_puts(&b, "{\"text\":");
			buf_json_str(&b, content.p, content.len);
			buf_puts(&b, ",\"index\":0,\"logprobs\":null");
		} else {
			buf_puts(&b, "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
			buf_json_str(&b, content.p, content.len);
			buf_puts(&b, ",\"refusal\":null},\"logprobs\":null");
		}
		buf_printf(&b, ",\"finish_reason\":\"%s\"}],", finish);
		put_usage(&b, ptok, etok);
		buf_puts(&b, "}\n");
		if (fault == FAULT_TRUNCATE)
			http_respond_truncated(c, 200, CT_JSON, xid, b.p, b.len);
		else
			http_respond(c, 200, CT_JSON, xid, b.p, b.len);
		goto out;
	}
	http_stream_begin(c, 200, CT_SSE, xid);
	size_t npieces = 0, sent = 0;
	for (size_t off = 0; off < content.len; off += answer_piece(content.p + off, content.len - off))
		npieces++;
	if (!legacy)
		send_chunk(c, &b, id, created, model, 0, "\"role\":\"assistant\"", "", 0,
			   NULL, include_usage);
	for (size_t off = 0; off < content.len; sent++) {
		if (fault == FAULT_TRUNCATE && sent >= npieces / 2)
			break;
		size_t n = answer_piece(content.p + off, content.len - off);
		send_chunk(c, &b, id, created, model, legacy, "", content.p + off, n, NULL,
			   include_usage);
		off += n;
	}
	if (fault == FAULT_TRUNCATE) {
		http_abort(c);
		goto out;
	}
	send_chunk(c, &b, id, created, model, legacy, "", legacy ? "" : NULL, 0, finish,
		   include_usage);
	if (include_usage) {
		buf_reset(&b);
		buf_puts(&b, "data: ");
		put_head(&b, id, legacy ? "text_completion" : "chat.completion.chunk", created, model);
		buf_puts(&b, "],");
		put_usage(&b, ptok, etok);
		buf_puts(&b, "}\n\n");
		http_stream_chunk(c, b.p, b.len);
	}
	static const char done[] = "data: [DONE]\n\n";
	http_stream_chunk(c, done, sizeof done - 1);
	http_stream_end(c);
out:
	if (holding)
		lane_release();
	buf_free(&prompt);
	buf_free(&content);
	buf_free(&b);
	cJSON_Delete(j);
}

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A permutation of 0..n-1 from the seed and the inputs; never the identity
 * when n >= 2, so a client that ignores "index" gets caught. */
static void shuffle(long *perm, long n, const char **texts)
{
	uint64_t s = llmd.seed;
	for (long i = 0; i < n; i++)
		s = fnv64(s, texts[i], strlen(texts[i]) + 1);
	for (long i = 0; i < n; i++)
		perm[i] = i;
	for (long i = n - 1; i > 0; i--) {
		long k = (long)(mix(&s) % (uint64_t)(i + 1));
		long t = perm[i];
		perm[i] = perm[k];
		perm[k] = t;
	}
	long fixed = 0;
	for (long i = 0; i < n; i++)
		fixed += perm[i] == i;
	if (n >= 2 && fixed == n) {
		long first = perm[0];
		memmove(perm, perm + 1, (size_t)(n - 1) * sizeof *perm);
		perm[n - 1] = first;
	}
}

void openai_embeddings(struct conn *c, struct req *r)
{
	stats_model_request(0);
	if (llmd.no_embeddings) {
		/* llama-server started without --embeddings */
		api_error_llama(c, 501, "This server does not support embeddings. Start it with "
				"`--embeddings`", "not_supported_error", NULL);
		return;
	}
	const struct llmd_model *m;
	const char *model;
	cJSON *j = parse_body(c, r, &m, &model);
	if (!j)
		return;
	struct buf b = {0};
	const char **texts = NULL;
	long *perm = NULL, n = 0;
	int holding = 0;
	char msg[256];
	snprintf(msg, sizeof msg, "'$.input' is invalid. %s", invalid_ref);
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
	if (!in) {
		api_error_openai(c, 400, "Missing required parameter: 'input'.",
				 "invalid_request_error", "input", "missing_required_parameter");
		goto out;
	}
	if (cJSON_IsString(in)) {
		texts = xmalloc(sizeof *texts);
		texts[n++] = in->valuestring;
	} else if (cJSON_IsArray(in)) {
		texts = xmalloc(((size_t)cJSON_GetArraySize(in) + 1) * sizeof *texts);
		const cJSON *e;
		cJSON_ArrayForEach(e, in) {
			if (!cJSON_IsString(e)) {
				invalid(c, msg, NULL);
				goto out;
			}
			texts[n++] = e->valuestring;
		}
	}
	int empty = n == 0;
	for (long i = 0; i < n; i++)
		empty |= !*texts[i];
	if (empty) {
		invalid(c, msg, NULL);
		goto out;
	}
	struct llmd_tunables t;
	state_tunables(&t);
	long limit = t.max_batch > 0 && t.max_batch < MAX_INPUTS ? t.max_batch : MAX_INPUTS;
	if (n > limit) {
		snprintf(msg, sizeof msg, "Too many inputs: %ld. The maximum number of inputs "
			 "per request is %ld.", n, limit);
		invalid(c, msg, "input");
		goto out;
	}
	long tokens = 0;
	for (long i = 0; i < n; i++) {
		long tk = answer_tokens(strlen(texts[i]));
		if (tk > MAX_INPUT_TOKENS) {
			snprintf(msg, sizeof msg, "This model's maximum context length is %d tokens, "
				 "however you requested %ld tokens (%ld in your prompt; 0 for the "
				 "completion). Please reduce your prompt; or completion length.",
				 MAX_INPUT_TOKENS, tk, tk);
			invalid(c, msg, NULL);
			goto out;
		}
		tokens += tk;
	}
	for (long i = 0; llmd.ctx && i < n; i++) {
		if (answer_tokens(strlen(texts[i])) > llmd.ctx) {
			/* llama-server: one text over the slot fails the whole request */
			api_error_llama(c, 500, "input is too large to process. increase the "
					"physical batch size", "server_error", NULL);
			goto out;
		}
	}
	if (tokens > MAX_REQUEST_TOKENS) {
		snprintf(msg, sizeof msg, "Requested %ld tokens, max %d tokens per request",
			 tokens, MAX_REQUEST_TOKENS);
		invalid(c, msg, NULL);
		goto out;
	}
	const cJSON *ef = cJSON_GetObjectItemCaseSensitive(j, "encoding_format");
	int base64 = 0;
	if (cJSON_IsString(ef) && !strcmp(ef->valuestring, "base64"))
		base64 = 1;
	else if (ef && !cJSON_IsNull(ef) &&
		 !(cJSON_IsString(ef) && !strcmp(ef->valuestring, "float"))) {
		snprintf(msg, sizeof msg, "'$.encoding_format' is invalid. %s", invalid_ref);
		invalid(c, msg, "encoding_format");
		goto out;
	}
	long dim = llmd.dim;
	const cJSON *dv = cJSON_GetObjectItemCaseSensitive(j, "dimensions");
	if (dv && !cJSON_IsNull(dv)) {
		if (!cJSON_IsNumber(dv) || dv->valuedouble != (double)(long)dv->valuedouble ||
		    dv->valuedouble < 1 || dv->valuedouble > MAX_DIMENSIONS) {
			snprintf(msg, sizeof msg, "Invalid value for 'dimensions': want an integer "
				 "from 1 to %d.", MAX_DIMENSIONS);
			invalid(c, msg, "dimensions");
			goto out;
		}
		dim = (long)dv->valuedouble;
	}
	stats_model_used(m);
	stats_embed_batch(n);
	long beside;
	int fault = api_model_gate(c, DIALECT_OPENAI, JOB_EMBED, n, &holding, &beside);
	if (fault < 0)
		goto out;
	double noise;
	uint64_t salt = api_embed_drift(texts, n, beside, &noise);
	perm = xmalloc((size_t)n * sizeof *perm);
	shuffle(perm, n, texts);
	float *v = xmalloc((size_t)dim * sizeof *v);
	buf_puts(&b, "{\"object\":\"list\",\"data\":[");
	for (long k = 0; k < n; k++) {
		long i = perm[k];
		if (k)
			buf_putc(&b, ',');
		buf_printf(&b, "{\"object\":\"embedding\",\"index\":%ld,\"embedding\":", i);
		answer_embedding(texts[i], strlen(texts[i]), dim, salt, noise, v);
		answer_put_vector(&b, v, dim, base64);
		buf_putc(&b, '}');
	}
	free(v);
	buf_puts(&b, "],\"model\":");
	buf_json_str(&b, model, strlen(model));
	buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}\n", tokens, tokens);
	if (fault == FAULT_TRUNCATE)
		http_respond_truncated(c, 200, CT_JSON, NULL, b.p, b.len);
	else
		http_respond(c, 200, CT_JSON, NULL, b.p, b.len);
out:
	if (holding)
		lane_release();
	free(texts);
	free(perm);
	buf_free(&b);
	cJSON_Delete(j);
}
