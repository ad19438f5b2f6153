/* stage: the stage table, and reading and writing the model stamp of a
 * stage's result. */
#include "stage.h"
#include "record.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

const struct stage stage_table[STAGE_COUNT] = {
	[STAGE_SEGMENT] = {.name = "segment", .result = "text"},
	[STAGE_MINE] = {.name = "mine", .result = "mined", .model = "mined_model",
			.digest = "mined_digest", .fingerprint = "mined_fingerprint",
			.input = "mined_input", .derived = 1},
	[STAGE_EMBED] = {.name = "embed", .result = "embedding", .model = "embedding_model",
			 .digest = "embedding_digest", .fingerprint = "embedding_fingerprint",
			 .input = "embedding_input", .derived = 1, .vector = 1},
	[STAGE_CLASSIFY] = {.name = "classify", .result = "class", .model = "model",
			    .digest = "model_digest", .fingerprint = "fingerprint",
			    .input = "input", .nested = 1, .status = "status", .derived = 1},
};

const struct stage *stage_find(const char *name, size_t len)
{
	for (size_t i = 0; i < STAGE_COUNT; i++)
		if (strlen(stage_table[i].name) == len && !memcmp(stage_table[i].name, name, len))
			return &stage_table[i];
	return NULL;
}

int stage_same_model(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 1;
	size_t na = strlen(a), nb = strlen(b);
	if (na + 7 == nb && !strchr(a, ':') && !strncmp(a, b, na) && !strcmp(b + na, ":latest"))
		return 1;
	return nb + 7 == na && !strchr(b, ':') && !strncmp(a, b, nb) && !strcmp(a + nb, ":latest");
}

const char *stage_model_alias(const char *model, char *out, size_t outlen)
{
	const char *colon = strchr(model, ':');
	int n;
	if (!colon)
		n = snprintf(out, outlen, "%s:latest", model);
	else if (!strcmp(colon, ":latest"))
		n = snprintf(out, outlen, "%.*s", (int)(colon - model), model);
	else
		return model;
	return n >= 0 && (size_t)n < outlen ? out : model;
}

/* Whether o's member key, when both it and want are there, is want. */
static int agrees(const cJSON *o, const char *key, const char *want)
{
	if (!key || !want || !*want)
		return 1;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return !cJSON_IsString(v) || !strcmp(v->valuestring, want);
}

int stage_stamped(const struct stage *st, const cJSON *o, const struct stage_stamp *run)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, st->model);
	if (!cJSON_IsString(m) || !stage_same_model(m->valuestring, run->model))
		return 0;
	return agrees(o, st->digest, run->digest) && agrees(o, st->fingerprint, run->fingerprint);
}

/* Sets (or, when val is NULL or "", removes) the string member key. */
static void set_member(struct buf *out, const char *line, size_t len, const char *key,
		       const char *val)
{
	if (!val || !*val) {
		record_del(out, line, len, key);
		return;
	}
	struct buf v = {0};
	buf_json_str(&v, val, strlen(val));
	record_set(out, line, len, key, v.p, v.len);
	buf_free(&v);
}

/* Emits line[0..len) with errors.<st->name> removed, when it has one. */
static void emit_without_error(const struct stage *st, struct rec *r, const char *line,
			       size_t len)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(r->json, "errors");
	if (!cJSON_GetObjectItemCaseSensitive(errs, st->name)) {
		rec_emit(r, line, len);
		return;
	}
	struct buf b = {0};
	rec_set_error(&b, line, len, st->name, NULL, NULL, 0);
	rec_emit(r, b.p, b.len);
	buf_free(&b);
}

void stage_set(const struct stage *st, struct rec *r, const char *val, size_t len,
	       const struct stage_stamp *stamp)
{
	struct buf a = {0}, b = {0};
	record_set(&a, r->line, r->len, st->result, val, len);
	set_member(&b, a.p, a.len, st->model, stamp->model);
	set_member(&a, b.p, b.len, st->digest, stamp->digest);
	set_member(&b, a.p, a.len, st->fingerprint, stamp->fingerprint);
	set_member(&a, b.p, b.len, st->input, stamp->input);
	/* done now: the error of an earlier run goes */
	emit_without_error(st, r, a.p, a.len);
	r->outcome = REC_OK;
	buf_free(&a);
	buf_free(&b);
}

void stage_pass_done(const struct stage *st, struct rec *r)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(r->json, "errors");
	if (cJSON_GetObjectItemCaseSensitive(errs, st->name))
		emit_without_error(st, r, r->line, r->len);
	else
		rec_pass(r);
	r->outcome = REC_SKIPPED;
}
