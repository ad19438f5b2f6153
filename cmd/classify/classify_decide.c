/* classify_decide: thresholds, and the prompts and questions of verify and
 * triage modes (asked through ask.c). */
#include "classify_decide.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const classify_status_name[CLASSIFY_NSTATUS] = {
	"matched", "no_match", "llm_yes", "llm_no", "llm_uncertain", "error",
};
const char *const classify_mode_name[3] = {"embed", "verify", "triage"};

int classify_decide_labelled(enum classify_status s)
{
	return s == CLASSIFY_MATCHED || s == CLASSIFY_LLM_YES;
}

/* ---- templates ---- */

static const char *const verify_vars[] = {"text", "id", "label", "description", "synonyms",
					  "examples", "parent"};
static const char *const triage_vars[] = {"text", "candidates", "count"};
static const char *const verify_need[] = {"text", "label"};
static const char *const triage_need[] = {"text", "candidates"};

int classify_decide_tpl_load(struct ask_tpl *t, enum classify_mode mode, const char *setting, char *err,
		size_t errlen)
{
	static const struct ask_tpl_spec spec[2] = {
		{"classify_verify.txt", "classify.prompt_verify", "verify", verify_vars,
		 ARRAY_LEN(verify_vars), verify_need, ARRAY_LEN(verify_need)},
		{"classify_triage.txt", "classify.prompt_triage", "triage", triage_vars,
		 ARRAY_LEN(triage_vars), triage_need, ARRAY_LEN(triage_need)},
	};
	return ask_tpl_load(t, setting, &spec[mode == CLASSIFY_TRIAGE], err, errlen);
}

/* ---- prompts of one item ---- */

static void join(struct buf *b, char **v, size_t n)
{
	buf_puts(b, "");
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? "; " : "", v[i]);
}

static void verify_prompt(const struct classify_decider *d, const char *text, long entry,
			  struct buf *out)
{
	const struct taxonomy_entry *e = &d->tax->e[entry];
	struct buf syn = {0}, ex = {0};
	join(&syn, e->synonyms, e->nsyn);
	join(&ex, e->examples, e->nex);
	const char *parent = e->parent_index >= 0 ? d->tax->e[e->parent_index].label : "";
	const char *values[] = {text, e->id, e->label, e->description, syn.p, ex.p, parent};
	ask_tpl_render(d->tpl, verify_vars, values, ARRAY_LEN(verify_vars), out);
	buf_free(&syn);
	buf_free(&ex);
}

static void triage_prompt(const struct classify_decider *d, const char *text,
			  const struct vec_hit *hits, int n, struct buf *out)
{
	struct buf list = {0};
	for (int i = 0; i < n; i++) {
		const struct taxonomy_entry *e = &d->tax->e[hits[i].id];
		buf_printf(&list, "%s%d. %s", i ? "\n" : "", i + 1, e->label);
		if (e->nsyn) {
			buf_puts(&list, " (also: ");
			for (size_t k = 0; k < e->nsyn; k++)
				buf_printf(&list, "%s%s", k ? ", " : "", e->synonyms[k]);
			buf_putc(&list, ')');
		}
		if (e->description && *e->description)
			buf_printf(&list, ": %s", e->description);
	}
	char count[16];
	snprintf(count, sizeof count, "%d", n);
	const char *values[] = {text, list.p, count};
	ask_tpl_render(d->tpl, triage_vars, values, ARRAY_LEN(triage_vars), out);
	buf_free(&list);
}

static void set_error(struct classify_decision *out, const char *code, const char *msg)
{
	out->status = CLASSIFY_ERROR;
	out->entry = -1;
	snprintf(out->code, sizeof out->code, "%s", code);
	snprintf(out->message, sizeof out->message, "%s", msg);
}

void classify_decide(const struct classify_decider *d, const char *text, const struct vec_hit *hits,
	       int nhits, struct classify_decision *out)
{
	memset(out, 0, sizeof *out);
	out->entry = -1;
	out->score = nhits > 0 ? hits[0].score : NAN;
	if (nhits <= 0 || !(hits[0].score >= d->threshold)) {
		out->status = CLASSIFY_NO_MATCH;
		return;
	}
	if (d->mode == CLASSIFY_EMBED) {
		out->status = CLASSIFY_MATCHED;
		out->entry = hits[0].id;
		return;
	}
	struct buf prompt = {0}, correction = {0};
	struct ask q = {
		.llm = d->llm,
		.model = d->model,
		.max_tokens = d->max_tokens,
		.attempts = d->answer_attempts,
	};
	if (d->mode == CLASSIFY_VERIFY) {
		verify_prompt(d, text, hits[0].id, &prompt);
		q.correction = "That is not a valid answer. Reply with exactly one word: "
			       "YES, NO or UNCERTAIN.";
		q.form = "YES, NO or UNCERTAIN";
	} else {
		triage_prompt(d, text, hits, nhits, &prompt);
		buf_printf(&correction, "That is not a valid answer. Reply with only the number of "
			   "one category (1 to %d), or NONE.", nhits);
		q.correction = correction.p;
		q.form = "a candidate number or NONE";
		q.pick = nhits;
	}
	struct ask_result r;
	int rc = ask_run(&q, prompt.p, &r);
	out->requests = r.requests;
	out->answers = r.answers;
	if (rc) {
		set_error(out, r.code, r.message);
	} else if (d->mode == CLASSIFY_VERIFY) {
		static const enum classify_status verdict[] = {CLASSIFY_LLM_YES, CLASSIFY_LLM_NO, CLASSIFY_LLM_UNCERTAIN};
		out->status = verdict[r.value];
		if (r.value == ASK_YES)
			out->entry = hits[0].id;
	} else if (r.value == 0) {
		out->status = CLASSIFY_LLM_NO;
	} else {
		out->status = CLASSIFY_LLM_YES;
		out->entry = hits[r.value - 1].id;
		out->score = hits[r.value - 1].score;
	}
	buf_free(&prompt);
	buf_free(&correction);
}
