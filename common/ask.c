/* ask: strict questions to a chat model: templates, parsers and the
 * conversation with corrections (see the header). */
#include "ask.h"
#include "prompts.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ask_tpl_load(struct ask_tpl *t, const char *setting, const struct ask_tpl_spec *spec,
		 char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (setting && *setting) {
		t->path = xstrdup(setting);
	} else {
		struct buf tried = {0};
		t->path = prompt_find(spec->dflt, 0, &tried);
		if (!t->path) {
			snprintf(err, errlen, "cannot find the default prompt %s (tried %s): set %s "
				 "or $LANES_PROMPTS", spec->dflt, tried.len ? tried.p : "nothing",
				 spec->key);
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
		ask_tpl_free(t);
		return -1;
	}
	const char *unknown = NULL;
	char msg[256];
	long bad = utf8_check(text, len);
	int ok = 0;
	if (bad >= 0) {
		snprintf(err, errlen, "%s: not valid UTF-8 at byte %ld", t->path, bad + 1);
	} else if (strlen(text) != len) {
		snprintf(err, errlen, "%s: NUL byte in the prompt template", t->path);
	} else if (!(t->tpl = tpl_compile(text, len, TPL_PLAIN | TPL_DROP_EMPTY, msg, sizeof msg))) {
		snprintf(err, errlen, "%s: %s", t->path, msg);
	} else if ((unknown = tpl_unknown(t->tpl, spec->vars, spec->nvars))) {
		struct buf known = {0};
		for (size_t i = 0; i < spec->nvars; i++)
			buf_printf(&known, "%s{{%s}}", i ? " " : "", spec->vars[i]);
		snprintf(err, errlen, "%s: unknown placeholder {{%.40s}} in a %s prompt (known: %s)",
			 t->path, unknown, spec->what, known.p);
		buf_free(&known);
	} else {
		ok = 1;
		for (size_t i = 0; ok && i < spec->nneed; i++)
			if (!tpl_uses(t->tpl, spec->need[i])) {
				snprintf(err, errlen, "%s: the prompt has no {{%s}} placeholder", t->path,
					 spec->need[i]);
				ok = 0;
			}
	}
	free(text);
	if (!ok)
		ask_tpl_free(t);
	return ok ? 0 : -1;
}

void ask_tpl_free(struct ask_tpl *t)
{
	free(t->path);
	tpl_free(t->tpl);
	memset(t, 0, sizeof *t);
}

void ask_tpl_render(const struct ask_tpl *t, const char *const *names,
		    const char *const *values, size_t n, struct buf *out)
{
	struct tpl_vars v = {.names = names, .values = values, .nvalues = n};
	tpl_render(t->tpl, &v, out, NULL, 0);
}

/* Copies the answer without surrounding white space and one final '.';
 * returns its length, 0 when empty or too long for out. */
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

int ask_parse_verdict(const char *answer)
{
	char w[16];
	if (!core(answer, w, sizeof w))
		return -1;
	if (!strcasecmp(w, "yes"))
		return ASK_YES;
	if (!strcasecmp(w, "no"))
		return ASK_NO;
	if (!strcasecmp(w, "uncertain"))
		return ASK_UNCERTAIN;
	return -1;
}

int ask_parse_pick(const char *answer, int n)
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

static void fail(struct ask_result *r, const char *code, const char *msg)
{
	r->value = -1;
	snprintf(r->code, sizeof r->code, "%s", code);
	snprintf(r->message, sizeof r->message, "%s", msg);
}

int ask_run(const struct ask *q, const char *prompt, struct ask_result *r)
{
	memset(r, 0, sizeof *r);
	r->value = -1;
	char *first = NULL;
	int rc = -1;
	for (int a = 0; a < q->attempts; a++) {
		struct llm_chat req = {
			.model = q->model,
			.user = prompt,
			.max_tokens = q->max_tokens,
			.prev_answer = first,
			.correction = first ? q->correction : NULL,
		};
		struct llm_result res;
		char *ans = llm_chat(q->llm, &req, &res);
		r->requests += res.attempts;
		r->answers++;
		if (!ans) {
			fail(r, res.code[0] ? res.code : "llm", res.message);
			break;
		}
		int v = q->pick ? ask_parse_pick(ans, q->pick) : ask_parse_verdict(ans);
		if (v >= 0) {
			r->value = v;
			free(ans);
			rc = 0;
			break;
		}
		/* the conversation goes on from the first answer: the prompt,
		 * that answer, the correction */
		if (!first)
			first = ans;
		else
			free(ans);
		if (a + 1 == q->attempts) {
			struct buf m = {0};
			buf_printf(&m, "%d answers not in the required form (%s); the first was: ",
				   r->answers, q->form);
			size_t n = strlen(first);
			buf_json_str(&m, first, utf8_floor(first, n < 80 ? n : 80));
			fail(r, "bad_answer", m.p);
			buf_free(&m);
		}
	}
	free(first);
	return rc;
}
