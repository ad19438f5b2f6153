/* mine_record: one record through the prompt, the model and the schema. */
#include "mine_record.h"
#include "mine_answer.h"
#include "reqlog.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct stage *const st = &stage_table[STAGE_MINE];

/* Mined by this run already: mined present and the stamp of cfg's model,
 * digest and fingerprint (stage_stamped), so that a model pulled again
 * under the same name, or another template or schema, mines again. */
static int already_mined(const struct mine_cfg *cfg, const cJSON *rec)
{
	struct stage_stamp run = {cfg->model, cfg->digest, cfg->fingerprint, NULL};
	return !cfg->force && cJSON_GetObjectItemCaseSensitive(rec, st->result) &&
	       stage_stamped(st, rec, &run);
}

/* errors.mine, with the last answer when there is one; the writer logs
 * the first failures of the run in order. */
static void fail(struct rec *r, const char *code, const char *msg, int attempts,
		 const char *answer)
{
	if (!r->log && attempts > 0)
		r->log = xasprintf("mine: %s after %d request%s: %s", code, attempts,
				   attempts == 1 ? "" : "s", msg);
	else if (!r->log)
		r->log = xasprintf("mine: %s: %s", code, msg);
	rec_fail_answer(r, st->name, code, msg, attempts, answer);
}

/* An answer that came back but is not one: in the request log whole. */
static void log_invalid(const struct mine_cfg *cfg, const struct llm_chat *req,
			const char *code, const char *why, const char *text)
{
	struct reqlog_entry e = {
		.kind = "answer", .stage = st->name, .model = cfg->model, .ids = &req->id,
		.nids = req->id ? 1 : 0, .system = req->system, .prompt = req->user,
		.feedback = req->prev_answer ? req->correction : NULL, .code = code,
		.message = why, .answer = text, .answer_len = strlen(text),
		.prompt_tokens = -1, .completion_tokens = -1,
	};
	reqlog_write(cfg->log, &e);
}

void mine_record(struct mine_cfg *cfg, struct rec *r)
{
	if (already_mined(cfg, r->json)) {
		stage_pass_done(st, r);
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
		fail(r, "missing_field", msg, 0, NULL);
		buf_free(&prompt);
		return;
	}
	struct llm_chat req = {
		.id = reqlog_id(r->json),
		.model = cfg->model,
		.user = prompt.p,
		.schema = jschema_json(cfg->schema),
		.max_tokens = cfg->max_tokens,
	};
	struct buf compact = {0}, correction = {0};
	char err[1024] = "";
	char *first = NULL; /* the first invalid answer, fed back once */
	char *last = NULL;  /* the last invalid answer, kept with the error */
	int requests = 0, done = 0, plain = 0, no_feedback = 0;
	struct llm_result res;
	for (int k = 1; k <= cfg->answer_attempts && !done; k++) {
		int feedback = k == 2 && first && !no_feedback;
		req.prev_answer = feedback ? first : NULL;
		req.correction = feedback ? correction.p : NULL;
		/* a plain retry moves the seed: the same request mostly gets
		 * the same answer back */
		req.variant = k > 1 && !feedback ? ++plain : 0;
		char *text = llm_chat(cfg->llm, &req, &res);
		requests += res.attempts;
		if (!text && res.status == LLM_ABANDONED) {
			/* a stop request: the record passes on unchanged, pending */
			rec_pass(r);
			r->outcome = REC_SKIPPED;
			done = -1;
			break;
		}
		if (!text && feedback && !strcmp(res.code, "context_overflow")) {
			/* the fed-back turn does not fit the context: a plain
			 * retry instead, not counted as an answer asked for */
			no_feedback = 1;
			k--;
			continue;
		}
		if (!text) {
			fail(r, res.code[0] ? res.code : "request_failed", res.message, requests,
			     last);
			done = -1;
			break;
		}
		if (mine_answer_check(text, cfg->schema, &compact, err, sizeof err) == 0) {
			if (k > 1)
				atomic_fetch_add(feedback ? &cfg->fixed : &cfg->later, 1);
			char input[FINGERPRINT_LEN];
			fingerprint_input(r->line, r->len, (const char *const *)cfg->fields,
					  cfg->nfields, input);
			struct stage_stamp stamp = {cfg->model, cfg->digest, cfg->fingerprint,
						    input};
			stage_set(st, r, compact.p, compact.len, &stamp);
			done = 1;
		} else if (res.truncated ||
			   (cfg->max_tokens > 0 && res.completion_tokens >= cfg->max_tokens)) {
			/* cut by max_tokens or the context: asking again gets
			 * the same cut */
			atomic_fetch_add(&cfg->invalid_answers, 1);
			char msg[1200];
			snprintf(msg, sizeof msg, "the server cut the answer before it was complete "
				 "(at max_tokens %ld or the end of the context): raise --max-tokens "
				 "(mine.max_tokens) or the server's context; %s", cfg->max_tokens, err);
			log_invalid(cfg, &req, "truncated_answer", err, text);
			fail(r, "truncated_answer", msg, requests, text);
			done = -1;
		} else {
			atomic_fetch_add(&cfg->invalid_answers, 1);
			log_invalid(cfg, &req, "invalid_answer", err, text);
			free(last);
			last = xstrdup(text);
			if (k == 1) {
				first = text;
				text = NULL;
				mine_answer_correction(&correction, err);
			}
		}
		free(text);
	}
	if (!done)
		fail(r, "invalid_answer", err, requests, last);
	r->retries = requests > 1 ? requests - 1 : 0;
	free(first);
	free(last);
	buf_free(&compact);
	buf_free(&correction);
	buf_free(&prompt);
}
