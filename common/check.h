/* check: a tool's --check N (embed, mine; lanes(7) CHECKING THE SERVER):
 * does the server give a record sent alone the same result as the same
 * record sent the way the tool runs, batched and with several requests in
 * flight? Reads the first N records of stdin, runs each one alone through
 * the tool's own work function, one after the other, then all of them
 * through the filter as a run does, keeps the outputs instead of writing
 * them, and compares the stage's result record by record: vectors by
 * their largest difference and their cosine, other results as JSON values
 * (member order aside). Reports on stderr, and on stdout as one JSON
 * object. */
#ifndef LANES_CHECK_H
#define LANES_CHECK_H

#include "app.h"
#include "filter.h"
#include "llm.h"
#include "stage.h"

/* The flag, with its id (below LLMAPP_OPT_FORCE). */
enum { CHECK_OPT = 90 };
#define CHECK_FLAG(what)                                                                  \
	{"check", 0, 1, NULL, CHECK_OPT, "N",                                             \
	 what " the first N records alone, then as a run would; compare, report, exit "  \
	 "(nothing else is written)"}
/* Parses --check's value into *n when id is CHECK_OPT. Returns 1 (it was
 * --check), 0 (another flag), or -1 after saying what is wrong with the
 * value (a whole number from 1 to CHECK_MAX). */
#define CHECK_MAX 100000
int check_flag(int id, const char *arg, long *n);

/* A vector within this share of its largest number is the same vector
 * summed in another order ("float noise"). */
#define CHECK_FLOAT_NOISE 1e-4

/* What to check. */
struct check_spec {
	long n;                     /* records to read at most */
	const struct stage *stage;  /* whose result is compared */
	filter_fn fn;               /* the tool's work, as for filter_new */
	void *ud;                   /* ... and its data: skips nothing (force) */
	void (*between)(void *ud);  /* before the second pass (may be NULL):
				     * forget what the first one cached */
	struct llm *llm;            /* the client, for its figures; NULL offline */
	const char *model;          /* named in the report */
	const char *advice;         /* what to change when results differ */
	/* error codes that are the record's own doing (no text): a record
	 * failing with one of them both times is left out, not counted as
	 * failed; NULL-terminated, may be NULL */
	const char *const *own_codes;
};

/* Runs the check (the app's pool sized, the model checked: after
 * llmapp_start). Returns the exit status: EXIT_DONE when every compared
 * result is the same (or within float noise, for vectors), EXIT_DIFFER
 * when one differs, EXIT_FAILURES when more records failed (in either
 * pass) than max_failure_ratio allows or none could be compared,
 * EXIT_USAGE when stdin has no record, 130/143 when interrupted. Closes
 * the --rejects file; the caller still finishes its client and frees the
 * tunables. */
int check_run(struct app *a, const struct check_spec *spec);

#endif
