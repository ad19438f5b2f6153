/* ask: a question to a chat model whose answer must take a strict form (a
 * verdict YES, NO or UNCERTAIN; a number from a list, or NONE), as
 * classify's verify and triage modes and consolidate's check ask them: the
 * prompt template (found, read and checked once), the parsers, and the
 * conversation: an answer not in the form is fed back with a correction
 * and asked again, the conversation going on from the first answer, up to
 * a number of answers. Safe from any thread. */
#ifndef LANES_ASK_H
#define LANES_ASK_H

#include <stddef.h>

#include "llm.h"
#include "template.h"

/* A prompt template with {{name}} placeholders (TPL_PLAIN, TPL_DROP_EMPTY). */
struct ask_tpl {
	char *path;
	struct tpl *tpl;
};

/* What a prompt must be. */
struct ask_tpl_spec {
	const char *dflt;             /* default file name: "classify_verify.txt" */
	const char *key;              /* the tunable naming another file */
	const char *what;             /* in messages: "verify" ("in a verify prompt") */
	const char *const *vars;      /* the placeholders it may use */
	size_t nvars;
	const char *const *need;      /* those it must use, checked in order */
	size_t nneed;
};

/* Loads the template named by setting, or when setting is empty the
 * default file found by prompt_find (prompts.h). Checks that it is UTF-8
 * without NUL bytes, compiles, uses only known placeholders and every
 * needed one. Returns 0, or -1 with "<file>: <what>" in err (t is then
 * empty). Free with ask_tpl_free. */
int ask_tpl_load(struct ask_tpl *t, const char *setting, const struct ask_tpl_spec *spec,
		 char *err, size_t errlen);
void ask_tpl_free(struct ask_tpl *t);
/* Renders t with values for names (those checked at load) into out. */
void ask_tpl_render(const struct ask_tpl *t, const char *const *names,
		    const char *const *values, size_t n, struct buf *out);

/* The strict parsers: white space around the answer and one final '.' are
 * ignored, letters may be in any case; nothing else is accepted.
 * ask_parse_verdict: YES, NO, UNCERTAIN -> ASK_YES, ASK_NO, ASK_UNCERTAIN,
 * else -1. ask_parse_pick: a number 1..n -> that number, NONE -> 0, else
 * -1. */
enum ask_verdict { ASK_YES, ASK_NO, ASK_UNCERTAIN };
int ask_parse_verdict(const char *answer);
int ask_parse_pick(const char *answer, int n);

/* One kind of question. */
struct ask {
	struct llm *llm;
	const char *model;
	long max_tokens;
	int attempts;             /* answers asked for at most (>= 1) */
	const char *correction;   /* fed back after an answer not in the form */
	const char *form;         /* the form, for the error: "YES, NO or UNCERTAIN" */
	int pick;                 /* 0: a verdict; > 0: a pick among this many */
};

struct ask_result {
	int value;          /* the parsed answer (ask_parse_*), -1 when none */
	int requests;       /* requests sent, retries included */
	int answers;        /* answers asked for */
	char code[32];      /* on failure: bad_answer, or the request's code */
	char message[512];
};

/* Asks prompt. Returns 0 with r->value set, or -1 with r->code and
 * r->message saying why (the request failed after its retries, or
 * `attempts` answers were not in the form: bad_answer, quoting the
 * first). */
int ask_run(const struct ask *q, const char *prompt, struct ask_result *r);

#endif
