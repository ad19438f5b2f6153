/* store_record: reads what one record says for the store (its id, doc and
 * seq, its vector, which stages produced output or failed) and cuts the
 * members that live in their own tables out of the body, on the text. */
#include "store_cmd.h"
#include "record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *str_item(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void set_span(const char **p, size_t *n, const char *s)
{
	*p = s;
	*n = s ? strlen(s) : 0;
}

/* As set_span for a string of the parse: copied by own_strings. */
static void set_str(struct store_item *it, const char **p, size_t *n, const char *s)
{
	set_span(p, n, s);
	if (!s)
		return;
	size_t i = 0;
	while (i < it->nfix && it->fix[i].p != p)
		i++;
	/* at most one per field: STORE_ITEM_STRS fields, so i stays in range */
	it->fix[i].p = p;
	it->fix[i].src = s;
	if (i == it->nfix)
		it->nfix++;
}

/* Copies the strings of the parse into one block the item owns. */
static void own_strings(struct store_item *it)
{
	size_t total = 0;
	for (size_t i = 0; i < it->nfix; i++)
		total += strlen(it->fix[i].src) + 1;
	if (!total)
		return;
	it->strs = xmalloc(total);
	char *q = it->strs;
	for (size_t i = 0; i < it->nfix; i++) {
		size_t n = strlen(it->fix[i].src) + 1;
		memcpy(q, it->fix[i].src, n);
		*it->fix[i].p = q;
		q += n;
	}
	it->nfix = 0;
}

static int fail(struct store_item *it, const char *code, char *why)
{
	it->fail_code = code;
	it->fail = why;
	return -1;
}

static struct store_event *add_event(struct store_item *it, const char *stage)
{
	struct store_event *e = &it->ev[it->rec.nevents++];
	memset(e, 0, sizeof *e);
	set_span(&e->stage, &e->stage_len, stage);
	return e;
}

static struct store_event *find_event(struct store_item *it, const char *stage)
{
	for (size_t i = 0; i < it->rec.nevents; i++)
		if (it->ev[i].stage_len == strlen(stage) &&
		    !memcmp(it->ev[i].stage, stage, it->ev[i].stage_len))
			return &it->ev[i];
	return NULL;
}

/* "embedding": a non-empty array of numbers that fit a float32. */
static int read_vector(struct store_item *it, const cJSON *emb)
{
	int n = cJSON_GetArraySize(emb);
	if (!cJSON_IsArray(emb) || n <= 0)
		return fail(it, "bad_embedding",
			    xstrdup("\"embedding\" is not a non-empty array of numbers"));
	it->vec = xmalloc((size_t)n * sizeof *it->vec);
	size_t i = 0;
	for (const cJSON *x = emb->child; x; x = x->next, i++) {
		if (!cJSON_IsNumber(x))
			return fail(it, "bad_embedding",
				    xasprintf("\"embedding\"[%zu] is not a number", i));
		float f = (float)x->valuedouble;
		if (!isfinite(f))
			return fail(it, "bad_embedding",
				    xasprintf("\"embedding\"[%zu] is out of the float32 range", i));
		it->vec[i] = f;
	}
	it->rec.vec = it->vec;
	it->rec.dim = i;
	return 0;
}

/* The raw text of errors.<stage>, found on the line; re-encoded only when
 * the key is spelled with escapes. */
static void error_text(struct store_item *it, struct store_event *e, const char *line,
		       size_t len, const cJSON *entry)
{
	size_t slot = (size_t)(e - it->ev);
	size_t vs, ve, es, ee;
	if (rec_find(line, len, "errors", NULL, NULL, &es, &ee) &&
	    rec_find(line + es, ee - es, entry->string, NULL, NULL, &vs, &ve)) {
		e->error = line + es + vs;
		e->error_len = ve - vs;
		return;
	}
	cJSON_free(it->owned[slot]);
	it->owned[slot] = cJSON_PrintUnformatted(entry);
	set_span(&e->error, &e->error_len, it->owned[slot]);
}

/* Cuts key out of the body (it->body, or the line while nothing was cut). */
static void cut(struct store_item *it, const char *key)
{
	if (!rec_find(it->rec.body, it->rec.body_len, key, NULL, NULL, NULL, NULL))
		return;
	struct buf out = {0};
	rec_del(&out, it->rec.body, it->rec.body_len, key);
	buf_free(&it->body);
	it->body = out;
	it->rec.body = it->body.p;
	it->rec.body_len = it->body.len;
}

int store_item_parse(struct store_item *it, const char *line, size_t len,
		     const cJSON *json)
{
	/* the events are cleared as they are added */
	memset(&it->rec, 0, sizeof it->rec);
	memset(&it->body, 0, sizeof it->body);
	memset(it->owned, 0, sizeof it->owned);
	it->vec = NULL;
	it->strs = NULL;
	it->nfix = 0;
	it->fail_code = NULL;
	it->fail = NULL;
	it->rec.events = it->ev;
	it->rec.body = line;
	it->rec.body_len = len;

	const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "id");
	if (!cJSON_IsString(id))
		return fail(it, "no_id", xstrdup("record has no \"id\""));
	if (!*id->valuestring)
		return fail(it, "no_id", xstrdup("record has an empty \"id\""));
	set_str(it, &it->rec.id, &it->rec.id_len, id->valuestring);
	set_str(it, &it->rec.doc, &it->rec.doc_len, str_item(json, "doc"));
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(json, "seq");
	if (cJSON_IsNumber(seq) && seq->valuedouble == floor(seq->valuedouble) &&
	    fabs(seq->valuedouble) < 9007199254740992.0) {
		it->rec.seq = (long long)seq->valuedouble;
		it->rec.has_seq = 1;
	}

	/* outputs of the tracked stages */
	if (cJSON_GetObjectItemCaseSensitive(json, "text"))
		add_event(it, "segment")->ok = 1;
	if (cJSON_GetObjectItemCaseSensitive(json, "mined")) {
		struct store_event *e = add_event(it, "mine");
		e->ok = 1;
		set_str(it, &e->model, &e->model_len, str_item(json, "mined_model"));
	}
	const cJSON *emb = cJSON_GetObjectItemCaseSensitive(json, "embedding");
	const char *emb_model = str_item(json, "embedding_model");
	if (emb) {
		if (read_vector(it, emb))
			return -1;
		if (emb_model)
			set_str(it, &it->rec.vec_model, &it->rec.vec_model_len, emb_model);
		else
			set_span(&it->rec.vec_model, &it->rec.vec_model_len, "");
		struct store_event *e = add_event(it, "embed");
		e->ok = 1;
		set_str(it, &e->model, &e->model_len, emb_model);
	}
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(json, "class");
	if (cls) {
		const char *status = str_item(cls, "status");
		struct store_event *e = add_event(it, "classify");
		set_str(it, &e->model, &e->model_len, str_item(cls, "model"));
		e->ok = !(status && !strcmp(status, "error"));
		if (!e->ok) {
			/* replaced below when errors.classify says more */
			static const char raw[] =
				"{\"code\":\"class_error\",\"message\":\"class.status is error\"}";
			set_span(&e->error, &e->error_len, raw);
			set_span(&e->code, &e->code_len, "class_error");
			set_span(&e->message, &e->message_len, "class.status is error");
		}
	}

	/* errors.<stage>: the stage's latest word, over any output it kept */
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(json, "errors");
	if (cJSON_IsObject(errs)) {
		for (const cJSON *x = errs->child; x; x = x->next) {
			/* a failure of an earlier store (--tee): this put is its retry */
			if (x->string && !strcmp(x->string, "store"))
				continue;
			if (!x->string || !*x->string || strlen(x->string) > 64)
				return fail(it, "bad_errors",
					    xstrdup("\"errors\" has a stage name that is empty or "
						    "longer than 64 bytes"));
			struct store_event *e = find_event(it, x->string);
			if (!e) {
				if (it->rec.nevents == STORE_ITEM_EVENTS)
					return fail(it, "bad_errors",
						    xasprintf("\"errors\" names more than %d stages",
							      STORE_ITEM_EVENTS - 4));
				e = add_event(it, NULL);
				set_str(it, &e->stage, &e->stage_len, x->string);
			}
			e->ok = 0;
			if (!strcmp(x->string, "embed") && !e->model)
				set_str(it, &e->model, &e->model_len, emb_model);
			set_str(it, &e->code, &e->code_len, str_item(x, "code"));
			set_str(it, &e->message, &e->message_len, str_item(x, "message"));
			const cJSON *fl = cJSON_GetObjectItemCaseSensitive(x, "failures");
			e->carried = cJSON_IsNumber(fl) && fl->valuedouble >= 1 &&
					     fl->valuedouble < 1e9
					     ? (long)fl->valuedouble
					     : 0;
			error_text(it, e, line, len, x);
		}
	}

	/* vectors and errors live in their own tables */
	if (emb)
		cut(it, "embedding");
	if (cJSON_GetObjectItemCaseSensitive(json, "embedding_model"))
		cut(it, "embedding_model");
	if (cJSON_IsObject(errs))
		cut(it, "errors");
	own_strings(it);
	return 0;
}

void store_item_free(struct store_item *it)
{
	buf_free(&it->body);
	free(it->vec);
	free(it->fail);
	free(it->strs);
	for (size_t i = 0; i < STORE_ITEM_EVENTS; i++)
		cJSON_free(it->owned[i]);
	it->vec = NULL;
	it->fail = NULL;
	it->strs = NULL;
}
