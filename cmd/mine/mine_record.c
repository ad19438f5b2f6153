/* mine_record: one record through the prompt, the model and the schema. */
#include "mine_record.h"
#include "mine_answer.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Same model: equal names, Ollama's "m" meaning "m:latest". */
static int same_model(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 1;
	size_t na = strlen(a), nb = strlen(b);
	if (na + 7 == nb && !strncmp(a, b, na) && !strcmp(b + na, ":latest"))
		return 1;
	return nb + 7 == na && !strncmp(a, b, nb) && !strcmp(a + nb, ":latest");
}

/* Mined by this model already: mined present, mined_model the same model,
 * and mined_digest (when both the record and the server have one) equal, so
 * that a model pulled again under the same name mines again. */
static int already_mined(const struct mine_cfg *cfg, const cJSON *rec)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(rec, "mined_model");
	const cJSON *digest = cJSON_GetObjectItemCaseSensitive(rec, "mined_digest");
	if (!cJSON_GetObjectItemCaseSensitive(rec, "mined") || !cJSON_IsString(model) ||
	    !same_model(model->valuestring, cfg->model))
		return 0;
	return !cJSON_IsString(digest) || !cfg->digest || !*cfg->digest ||
	       !strcmp(digest->valuestring, cfg->digest);
}

/* errors.mine; the writer logs the first failures of the run in order. */
static void fail(struct rec *r, const char *code, const char *msg, int attempts)
{
	if (!r->log && attempts > 0)
		r->log = xasprintf("mine: %s after %d request%s: %s", code, attempts,
				   attempts == 1 ? "" : "s", msg);
	else if (!r->log)
		r->log = xasprintf("mine: %s: %s", code, msg);
	rec_fail(r, "mine", code, msg, attempts);
}

/* The record with mined, mined_model and mined_digest set, errors.mine gone. */
static void store(const struct mine_cfg *cfg, struct rec *r, const struct buf *mined)
{
	struct buf a = {0}, b = {0}, v = {0};
	rec_set(&a, r->line, r->len, "mined", mined->p, mined->len);
	buf_json_str(&v, cfg->model, strlen(cfg->model));
	rec_set(&b, a.p, a.len, "mined_model", v.p, v.len);
	if (cfg->digest && *cfg->digest) {
		buf_reset(&v);
		buf_json_str(&v, cfg->digest, strlen(cfg->digest));
		rec_set(&a, b.p, b.len, "mined_digest", v.p, v.len);
	} else {
		rec_del(&a, b.p, b.len, "mined_digest");
	}
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(r->json, "errors");
	if (cJSON_GetObjectItemCaseSensitive(errs, "mine")) {
		rec_set_error(&b, a.p, a.len, "mine", NULL, NULL, 0);
		rec_emit(r, b.p, b.len);
	} else {
		rec_emit(r, a.p, a.len);
	}
	r->outcome = REC_OK;
	buf_free(&a);
	buf_free(&b);
	buf_free(&v);
}

void mine_record(struct mine_cfg *cfg, struct rec *r)
{
	if (already_mined(cfg, r->json)) {
		rec_pass(r);
		r->outcome = REC_SKIPPED;
		return;
	}
	struct buf prompt = {0};
	char missing[256];
	struct tpl_vars vars = {.json = r->json, .line = r->line, .len = r->len,
				.text_field = cfg->text_field, .schema = cfg->schema_text};
	if (tpl_render(cfg->tpl, &vars, &prompt, missing, sizeof missing)) {
		char msg[400];
		snprintf(msg, sizeof msg, "the record has no field \"%s\", which the prompt "
			 "template uses", missing);
		fail(r, "missing_field", msg, 0);
		buf_free(&prompt);
		return;
	}
	struct llm_chat req = {
		.model = cfg->model,
		.user = prompt.p,
		.schema = jschema_json(cfg->schema),
		.max_tokens = cfg->max_tokens,
	};
	struct buf compact = {0}, correction = {0};
	char err[1024] = "";
	char *first = NULL; /* the first invalid answer, fed back once */
	int requests = 0, done = 0;
	struct llm_result res;
	for (int k = 1; k <= cfg->answer_attempts && !done; k++) {
		int feedback = k == 2 && first;
		req.prev_answer = feedback ? first : NULL;
		req.correction = feedback ? correction.p : NULL;
		char *text = llm_chat(cfg->llm, &req, &res);
		requests += res.attempts;
		if (!text) {
			fail(r, res.code[0] ? res.code : "request_failed", res.message, requests);
			done = -1;
			break;
		}
		if (answer_check(text, cfg->schema, &compact, err, sizeof err) == 0) {
			if (k > 1)
				atomic_fetch_add(feedback ? &cfg->fixed : &cfg->later, 1);
			store(cfg, r, &compact);
			done = 1;
		} else {
			atomic_fetch_add(&cfg->invalid_answers, 1);
			if (cfg->max_tokens > 0 && res.completion_tokens >= cfg->max_tokens) {
				size_t n = strlen(err);
				snprintf(err + n, sizeof err - n, " (the answer reached max_tokens, %ld: "
					 "raise --max-tokens)", cfg->max_tokens);
			}
			if (k == 1) {
				first = text;
				text = NULL;
				answer_correction(&correction, err);
			}
		}
		free(text);
	}
	if (!done)
		fail(r, "invalid_answer", err, requests);
	r->retries = requests > 1 ? requests - 1 : 0;
	free(first);
	buf_free(&compact);
	buf_free(&correction);
	buf_free(&prompt);
}
