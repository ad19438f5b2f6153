/* classify_decide: thresholds, prompt templates, strict answers and the
 * LLM conversation of verify and triage modes. */
#include "classify_decide.h"
#include "prompts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const cl_status_name[CL_NSTATUS] = {
	"matched", "no_match", "llm_yes", "llm_no", "llm_uncertain", "error",
};
const char *const cl_mode_name[3] = {"embed", "verify", "triage"};

int cl_status_labelled(enum cl_status s)
{
	return s == CL_MATCHED || s == CL_LLM_YES;
}

/* ---- templates ---- */

static const char *const verify_vars[] = {"text", "id", "label", "description", "synonyms",
					  "examples", "parent"};
static const char *const triage_vars[] = {"text", "candidates", "count"};

int cl_tpl_load(struct cl_tpl *t, enum cl_mode mode, const char *setting, char *err,
		size_t errlen)
{
	memset(t, 0, sizeof *t);
	const char *name = mode == CL_TRIAGE ? "classify_triage.txt" : "classify_verify.txt";
	const char *key = mode == CL_TRIAGE ? "classify.prompt_triage" : "classify.prompt_verify";
	if (setting && *setting) {
		t->path = xstrdup(setting);
	} else {
		struct buf tried = {0};
		t->path = prompt_find(name, 0, &tried);
		if (!t->path) {
			snprintf(err, errlen, "cannot find the default prompt %s (tried %s): set %s "
				 "or $LANES_PROMPTS", name, tried.len ? tried.p : "nothing", key);
			buf_free(&tried);
			return -1;
		}
		buf_free(&tried);
	}
	size_t len;
	char *text = read_file(t->path, &len);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read the prompt template: %s", t->path,
			 strerror(errno));
		cl_tpl_free(t);
		return -1;
	}
	const char *const *vars = mode == CL_TRIAGE ? triage_vars : verify_vars;
	size_t nvars = mode == CL_TRIAGE ? ARRAY_LEN(triage_vars) : ARRAY_LEN(verify_vars);
	const char *needed = vars[mode == CL_TRIAGE ? 1 : 2];
	const char *unknown = NULL;
	char msg[256];
	long bad = utf8_check(text, len);
	if (bad >= 0) {
		snprintf(err, errlen, "%s: not valid UTF-8 at byte %ld", t->path, bad + 1);
	} else if (strlen(text) != len) {
		snprintf(err, errlen, "%s: NUL byte in the prompt template", t->path);
	} else if (!(t->tpl = tpl_compile(text, len, TPL_PLAIN | TPL_DROP_EMPTY, msg, sizeof msg))) {
		snprintf(err, errlen, "%s: %s", t->path, msg);
	} else if ((unknown = tpl_unknown(t->tpl, vars, nvars))) {
		struct buf known = {0};
		for (size_t i = 0; i < nvars; i++)
			buf_printf(&known, "%s{{%s}}", i ? " " : "", vars[i]);
		snprintf(err, errlen, "%s: unknown placeholder {{%.40s}} in a %s prompt (known: %s)",
			 t->path, unknown, cl_mode_name[mode], known.p);
		buf_free(&known);
	} else if (!tpl_uses(t->tpl, "text")) {
		snprintf(err, errlen, "%s: the prompt has no {{text}} placeholder", t->path);
	} else if (!tpl_uses(t->tpl, needed)) {
		snprintf(err, errlen, "%s: the prompt has no {{%s}} placeholder", t->path, needed);
	} else {
		free(text);
		return 0;
	}
	free(text);
	cl_tpl_free(t);
	return -1;
}

void cl_tpl_free(struct cl_tpl *t)
{
	free(t->path);
	tpl_free(t->tpl);
	memset(t, 0, sizeof *t);
}

/* ---- answers ---- */

/* Copies the answer without surrounding white space and one final '.'. */
static size_t core(const char *s, char *out, size_t outlen)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n && s[n - 1] == '.')
		n--;
	if (n >= outlen)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

int cl_parse_verdict(const char *answer)
{
	char w[16];
	if (!core(answer, w, sizeof w))
		return -1;
	if (!strcasecmp(w, "yes"))
		return CL_LLM_YES;
	if (!strcasecmp(w, "no"))
		return CL_LLM_NO;
	if (!strcasecmp(w, "uncertain"))
		return CL_LLM_UNCERTAIN;
	return -1;
}

int cl_parse_pick(const char *answer, int n)
{
	char w[16];
	size_t len = core(answer, w, sizeof w);
	if (!len)
		return -1;
	if (!strcasecmp(w, "none"))
		return 0;
	if (len > 4 || w[0] == '0')
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -1;
		v = v * 10 + (w[i] - '0');
	}
	return v >= 1 && v <= n ? (int)v : -1;
}

/* ---- prompts of one item ---- */

static void join(struct buf *b, char **v, size_t n)
{
	buf_puts(b, "");
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? "; " : "", v[i]);
}

/* Renders the mode's template; its names were checked at load. */
static void render(const struct cl_decider *d, const char *const *names,
		   const char *const *values, size_t n, struct buf *out)
{
	struct tpl_vars v = {.names = names, .values = values, .nvalues = n};
	tpl_render(d->tpl->tpl, &v, out, NULL, 0);
}

static void verify_prompt(const struct cl_decider *d, const char *text, long entry,
			  struct buf *out)
{
	const struct tax_entry *e = &d->tax->e[entry];
	struct buf syn = {0}, ex = {0};
	join(&syn, e->synonyms, e->nsyn);
	join(&ex, e->examples, e->nex);
	const char *parent = e->parent_index >= 0 ? d->tax->e[e->parent_index].label : "";
	const char *values[] = {text, e->id, e->label, e->description, syn.p, ex.p, parent};
	render(d, verify_vars, values, ARRAY_LEN(verify_vars), out);
	buf_free(&syn);
	buf_free(&ex);
}

static void triage_prompt(const struct cl_decider *d, const char *text,
			  const struct vec_hit *hits, int n, struct buf *out)
{
	struct buf list = {0};
	for (int i = 0; i < n; i++) {
		const struct tax_entry *e = &d->tax->e[hits[i].id];
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
	render(d, triage_vars, values, ARRAY_LEN(triage_vars), out);
	buf_free(&list);
}

static void set_error(struct cl_decision *out, const char *code, const char *msg)
{
	out->status = CL_ERROR;
	out->entry = -1;
	snprintf(out->code, sizeof out->code, "%s", code);
	snprintf(out->message, sizeof out->message, "%s", msg);
}

void cl_decide(const struct cl_decider *d, const char *text, const struct vec_hit *hits,
	       int nhits, struct cl_decision *out)
{
	memset(out, 0, sizeof *out);
	out->entry = -1;
	out->score = nhits > 0 ? hits[0].score : NAN;
	if (nhits <= 0 || !(hits[0].score >= d->threshold)) {
		out->status = CL_NO_MATCH;
		return;
	}
	if (d->mode == CL_EMBED) {
		out->status = CL_MATCHED;
		out->entry = hits[0].id;
		return;
	}
	struct buf prompt = {0}, correction = {0};
	if (d->mode == CL_VERIFY) {
		verify_prompt(d, text, hits[0].id, &prompt);
		buf_puts(&correction, "That is not a valid answer. Reply with exactly one word: "
			 "YES, NO or UNCERTAIN.");
	} else {
		triage_prompt(d, text, hits, nhits, &prompt);
		buf_printf(&correction, "That is not a valid answer. Reply with only the number of "
			   "one category (1 to %d), or NONE.", nhits);
	}
	char *prev = NULL;
	char *first = NULL;
	for (int a = 0; a < d->answer_attempts; a++) {
		struct llm_chat req = {
			.model = d->model,
			.user = prompt.p,
			.max_tokens = d->max_tokens,
			.prev_answer = prev,
			.correction = prev ? correction.p : NULL,
		};
		struct llm_result res;
		char *ans = llm_chat(d->llm, &req, &res);
		out->requests += res.attempts;
		out->answers++;
		if (!ans) {
			set_error(out, res.code[0] ? res.code : "llm", res.message);
			break;
		}
		int v = d->mode == CL_VERIFY ? cl_parse_verdict(ans) : cl_parse_pick(ans, nhits);
		if (v >= 0) {
			if (d->mode == CL_VERIFY) {
				out->status = (enum cl_status)v;
				if (v == CL_LLM_YES)
					out->entry = hits[0].id;
			} else if (v == 0) {
				out->status = CL_LLM_NO;
			} else {
				out->status = CL_LLM_YES;
				out->entry = hits[v - 1].id;
				out->score = hits[v - 1].score;
			}
			free(ans);
			break;
		}
		/* the conversation goes on from the first answer: the prompt, that
		 * answer, the correction */
		if (!first)
			first = ans;
		else
			free(ans);
		prev = first;
		if (a + 1 == d->answer_attempts) {
			struct buf m = {0};
			buf_printf(&m, "%d answers not in the required form (%s); the first was: ",
				   out->answers, d->mode == CL_VERIFY ? "YES, NO or UNCERTAIN"
				   : "a candidate number or NONE");
			size_t n = strlen(first);
			buf_json_str(&m, first, utf8_floor(first, n < 80 ? n : 80));
			set_error(out, "bad_answer", m.p);
			buf_free(&m);
		}
	}
	free(first);
	buf_free(&prompt);
	buf_free(&correction);
}
