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

enum cl_mode { CL_EMBED, CL_VERIFY, CL_TRIAGE };

enum cl_status {
	CL_MATCHED,       /* embed mode: best score >= threshold */
	CL_NO_MATCH,      /* best score below the threshold (no LLM call) */
	CL_LLM_YES,       /* verify: the best entry fits; triage: the LLM picked one */
	CL_LLM_NO,        /* verify: it does not; triage: NONE */
	CL_LLM_UNCERTAIN, /* verify: the LLM cannot tell */
	CL_ERROR,         /* no decision: see errors.classify */
	CL_NSTATUS
};

/* "matched", "no_match", "llm_yes", "llm_no", "llm_uncertain", "error". */
extern const char *const cl_status_name[CL_NSTATUS];
extern const char *const cl_mode_name[3];

/* Whether the status gives the item a label (matched, llm_yes). */
int cl_status_labelled(enum cl_status s);

/* Loads the prompt template of mode (ask.h): the file named by setting, or
 * when setting is empty the default classify_verify.txt /
 * classify_triage.txt. Verify knows text, id, label, description,
 * synonyms, examples, parent and needs text and label; triage knows text,
 * candidates, count and needs text and candidates. Returns 0, or -1 with
 * "<file>: <what>" in err. Free with ask_tpl_free. */
int cl_tpl_load(struct ask_tpl *t, enum cl_mode mode, const char *setting, char *err,
		size_t errlen);

struct cl_decider {
	enum cl_mode mode;
	double threshold;
	int answer_attempts;
	long max_tokens;
	const char *model;          /* chat model */
	struct llm *llm;            /* NULL in embed mode */
	const struct ask_tpl *tpl;  /* the mode's template */
	const struct taxonomy *tax;
};

struct cl_decision {
	enum cl_status status;
	long entry;        /* the entry given as label (matched, llm_yes), else -1 */
	float score;       /* its score; else the best score (NAN when none) */
	int requests;      /* chat requests sent */
	int answers;       /* answers asked for */
	char code[32];     /* CL_ERROR: short code (bad_answer, http_500, ...) */
	char message[512];
};

/* Decides for one item from its nhits valid hits (best first). Calls the
 * LLM (verify, triage) only when the best score reaches the threshold.
 * Never fails: trouble is CL_ERROR with code and message. Safe from any
 * thread. */
void cl_decide(const struct cl_decider *d, const char *text, const struct vec_hit *hits,
	       int nhits, struct cl_decision *out);

#endif
