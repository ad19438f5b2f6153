/* classify_decide: turns an item's shortlist into a status: by threshold
 * alone (embed mode), or by asking the LLM whether the best entry fits
 * (verify) or which entry fits (triage), with strictly parsed answers,
 * feedback and retries. Also the prompt templates of both modes. */
#ifndef LANES_CLASSIFY_DECIDE_H
#define LANES_CLASSIFY_DECIDE_H

#include <stddef.h>

#include "ask.h"
#include "classify_taxonomy.h"
#include "llm.h"
#include "util.h"
#include "vec.h"

enum classify_mode { CLASSIFY_EMBED, CLASSIFY_VERIFY, CLASSIFY_TRIAGE };

enum classify_status {
	CLASSIFY_MATCHED,       /* embed mode: best score >= threshold */
	CLASSIFY_NO_MATCH,      /* best score below the threshold (no LLM call) */
	CLASSIFY_LLM_YES,       /* verify: the best entry fits; triage: the LLM picked one */
	CLASSIFY_LLM_NO,        /* verify: it does not; triage: NONE */
	CLASSIFY_LLM_UNCERTAIN, /* verify: the LLM cannot tell */
	CLASSIFY_ERROR,         /* no decision: see errors.classify */
	CLASSIFY_NSTATUS
};

/* "matched", "no_match", "llm_yes", "llm_no", "llm_uncertain", "error". */
extern const char *const classify_status_name[CLASSIFY_NSTATUS];
extern const char *const classify_mode_name[3];

/* Whether the status gives the item a label (matched, llm_yes). */
int classify_decide_labelled(enum classify_status s);

/* Loads the prompt template of mode (ask.h): the file named by setting, or
 * when setting is empty the default classify_verify.txt /
 * classify_triage.txt. Verify knows text, id, label, description,
 * synonyms, examples, parent and needs text and label; triage knows text,
 * candidates, count and needs text and candidates. Returns 0, or -1 with
 * "<file>: <what>" in err. Free with ask_tpl_free. */
int classify_decide_tpl_load(struct ask_tpl *t, enum classify_mode mode, const char *setting, char *err,
		size_t errlen);

struct classify_decider {
	enum classify_mode mode;
	double threshold;
	int answer_attempts;
	long max_tokens;
	const char *model;          /* chat model */
	struct llm *llm;            /* NULL in embed mode */
	const struct ask_tpl *tpl;  /* the mode's template */
	const struct taxonomy *tax;
};

struct classify_decision {
	enum classify_status status;
	long entry;        /* the entry given as label (matched, llm_yes), else -1 */
	float score;       /* its score; else the best score (NAN when none) */
	int requests;      /* chat requests sent */
	int answers;       /* answers asked for */
	char code[32];     /* CLASSIFY_ERROR: short code (bad_answer, http_500, ...) */
	char message[512];
};

/* Decides for one item from its nhits valid hits (best first). Calls the
 * LLM (verify, triage) only when the best score reaches the threshold.
 * Never fails: trouble is CLASSIFY_ERROR with code and message. Safe from any
 * thread. */
void classify_decide(const struct classify_decider *d, const char *text, const struct vec_hit *hits,
	       int nhits, struct classify_decision *out);

#endif
