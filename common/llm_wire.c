/* llm_wire: helpers shared by the Ollama and OpenAI wire formats. */
#include "llm_wire.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON value of body when body is exactly one (white space around
 * allowed), else NULL. */
static cJSON *single(const char *body, size_t n)
{
	const char *p = body ? body : "";
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
	if (!j || !end || (size_t)(end - p) > n) {
		cJSON_Delete(j);
		return NULL;
	}
	const char *q = end;
	while (q < p + n && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
		q++;
	if (q != p + n) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

struct stream_acc {
	struct llm_answer *a;
	llm_wire_content_fn content;
	llm_wire_usage_fn usage;
	struct buf text;
	int pieces, done, objects;
};

static void on_chunk(struct stream_acc *s, const cJSON *k)
{
	s->objects++;
	const char *t = s->content(k, 1);
	if (t)
		buf_puts(&s->text, t), s->pieces++;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "done")))
		s->done = 1;
	s->usage(s->a, k);
}

/* Each JSON object of a streamed answer: NDJSON lines or SSE "data: {...}"
 * events; "data: [DONE]" ends it. Returns 0, or -1 when a line is not
 * JSON. */
static int stream(const char *body, size_t n, struct stream_acc *acc, char *err, size_t errlen)
{
	const char *p = body ? body : "";
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
				acc->done = 1;
				continue;
			}
		}
		while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
			len--;
		if (!len || *s != '{')
			continue;
		cJSON *k = cJSON_ParseWithLength(s, len);
		if (!k) {
			snprintf(err, errlen, "a streamed chunk is not JSON");
			return -1;
		}
		on_chunk(acc, k);
		cJSON_Delete(k);
	}
	return 0;
}

int llm_wire_chat_parse(const char *body, size_t n, struct llm_answer *a,
			llm_wire_content_fn content, llm_wire_usage_fn usage, char *err,
			size_t errlen)
{
	cJSON *j = single(body, n);
	if (j) {
		const char *t = content(j, 0);
		if (!t) {
			cJSON_Delete(j);
			snprintf(err, errlen, "no message content in the answer");
			return LLM_WIRE_SHAPE;
		}
		a->text = xstrdup(t);
		usage(a, j);
		cJSON_Delete(j);
		return 0;
	}
	struct stream_acc s = {.a = a, .content = content, .usage = usage};
	if (stream(body, n, &s, err, errlen)) {
		buf_free(&s.text);
		return LLM_WIRE_CUT;
	}
	if (!s.done) {
		buf_free(&s.text);
		snprintf(err, errlen, "the streamed answer ended before it was done");
		return LLM_WIRE_CUT;
	}
	if (!s.pieces) {
		buf_free(&s.text);
		snprintf(err, errlen, s.objects ? "no message content in the streamed answer"
			 : "the answer is not JSON");
		return s.objects ? LLM_WIRE_SHAPE : LLM_WIRE_CUT;
	}
	a->text = buf_steal(&s.text, NULL);
	return 0;
}

/* Copies a JSON array of numbers into v (dim of them; *dim set by the
 * first vector when 0). Returns 0, or -1 with err naming vector idx. */
static int vector(const cJSON *arr, size_t idx, float **v, size_t n, int *dim, char *err,
		  size_t errlen)
{
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1) {
		snprintf(err, errlen, "embedding %zu is not an array of numbers", idx);
		return -1;
	}
	int d = cJSON_GetArraySize(arr);
	if (!*v) {
		*dim = d;
		*v = xcalloc(n * (size_t)d, sizeof **v);
	}
	if (d != *dim) {
		snprintf(err, errlen, "embeddings of different sizes (%d and %d) in one answer", *dim, d);
		return -1;
	}
	int k = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr) {
		if (!cJSON_IsNumber(x)) {
			snprintf(err, errlen, "embedding %zu holds a non-number", idx);
			return -1;
		}
		(*v)[idx * (size_t)d + (size_t)k++] = (float)x->valuedouble;
	}
	return 0;
}

int llm_wire_embed_parse(const struct llm_wire *w, const char *body, size_t n_body, size_t n,
			 float **v, int *dim, long *tokens, char *err, size_t errlen)
{
	*v = NULL;
	*tokens = -1;
	cJSON *j = cJSON_ParseWithLength(body ? body : "", n_body);
	if (!j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	struct llm_answer a = {.prompt_tokens = -1, .completion_tokens = -1};
	w->usage(&a, j);
	*tokens = a.prompt_tokens;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, w->vectors_key);
	if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n) {
		snprintf(err, errlen, "expected %zu embeddings, got %d", n,
			 cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1);
		cJSON_Delete(j);
		return LLM_WIRE_SHAPE;
	}
	char *seen = xcalloc(n + 1, 1);
	size_t pos = 0;
	int rc = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, arr) {
		size_t idx = pos++;
		const cJSON *vec = item;
		if (w->by_index) {
			/* OpenAI: matched back by index, whatever the order */
			const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
			if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble >= (double)n) {
				snprintf(err, errlen, "an embedding has no valid index");
				rc = -1;
				break;
			}
			idx = (size_t)ix->valuedouble;
			vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
		}
		if (seen[idx]) {
			snprintf(err, errlen, "index %zu answered twice", idx);
			rc = -1;
			break;
		}
		seen[idx] = 1;
		if ((rc = vector(vec, idx, v, n, dim, err, errlen)))
			break;
	}
	free(seen);
	cJSON_Delete(j);
	if (rc) {
		free(*v);
		*v = NULL;
		return LLM_WIRE_SHAPE;
	}
	return 0;
}

/* Whether a listed model name is the model asked for: the one rule
 * (stage_same_model: "m" is "m:latest"), for an untagged request only, as
 * the server resolves it; a tagged one must be listed as it is. */
static int name_matches(const char *have, const char *want)
{
	return strchr(want, ':') ? !strcmp(have, want) : stage_same_model(have, want);
}

int llm_wire_model_listed(const struct llm_wire *w, const cJSON *list, const char *model,
			  char *info, size_t infolen, struct buf *have)
{
	int found = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(list, w->models_key)) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, w->name_key);
		if (!cJSON_IsString(nm))
			continue;
		if (have->len < 300)
			buf_printf(have, "%s%s", have->len ? ", " : "", nm->valuestring);
		/* llama-server names its --alias list in "aliases" */
		int alias = 0;
		const cJSON *al;
		cJSON_ArrayForEach(al, cJSON_GetObjectItemCaseSensitive(m, "aliases"))
			alias |= cJSON_IsString(al) && name_matches(al->valuestring, model);
		if ((alias || name_matches(nm->valuestring, model)) && !found) {
			found = 1;
			const cJSON *dg = cJSON_GetObjectItemCaseSensitive(m, "digest");
			if (cJSON_IsString(dg))
				snprintf(info, infolen, "%.12s", dg->valuestring);
		}
	}
	return found;
}

static void message(struct buf *b, int *first, const char *role, const char *content)
{
	if (!*first)
		buf_putc(b, ',');
	*first = 0;
	buf_printf(b, "{\"role\":\"%s\",\"content\":", role);
	buf_json_str(b, content, strlen(content));
	buf_putc(b, '}');
}

void llm_wire_chat_head(struct buf *b, const struct llm_chat *req, int stream, const char *note)
{
	buf_puts(b, "{\"model\":");
	buf_json_str(b, req->model, strlen(req->model));
	buf_printf(b, ",\"stream\":%s,\"messages\":[", stream ? "true" : "false");
	int first = 1;
	if (note)
		message(b, &first, "system", note);
	if (req->system && *req->system)
		message(b, &first, "system", req->system);
	message(b, &first, "user", req->user);
	if (req->prev_answer && req->correction) {
		message(b, &first, "assistant", req->prev_answer);
		message(b, &first, "user", req->correction);
	}
	buf_putc(b, ']');
}

void llm_wire_embed_head(struct buf *b, const char *model, const char *const *texts, size_t n)
{
	buf_puts(b, "{\"model\":");
	buf_json_str(b, model, strlen(model));
	buf_puts(b, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, texts[i], strlen(texts[i]));
	}
	buf_putc(b, ']');
}
