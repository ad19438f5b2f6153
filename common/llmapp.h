/* llmapp: what every tool that calls an LLM server does at start and end:
 * load the llm settings, check the server has the model before reading
 * input (exit 3 with one clear message if not), size the pool from the
 * concurrency, log the effective settings, add the client's figures to the
 * progress line and the summary. */
#ifndef LANES_LLMAPP_H
#define LANES_LLMAPP_H

#include "app.h"
#include "llm.h"

struct reqlog;
struct llmapp {
	struct llm *llm;
	/* the request log (llm.log), owned by llm; NULL when off */
	struct reqlog *log;
	char digest[64];    /* server-reported digest of the model, or "" */
	char model[256];
	enum llm_use use;   /* what model is for */
};

/* Returns 0, or exits: 2 on bad settings, 3 when the server or the model is
 * unusable. use: what model is for (its endpoints are checked: the
 * tool's section's, see llm_config_load_for). */
void llmapp_start(struct app *a, struct llmapp *la, enum llm_use use, const char *model,
		  const char *extra_fmt, ...) __attribute__((format(printf, 5, 6)));
/* A second model of the tool (classify's and consolidate's embedding
 * model beside the chat model): checked on the endpoints of use, which
 * are logged when they are not the first use's. Returns 0 and the digest
 * in info, or the exit status (EXIT_USAGE, EXIT_BACKEND) with the message
 * logged. */
int llmapp_check_also(struct app *a, struct llmapp *la, enum llm_use use, const char *model,
		      char *info, size_t infolen);
/* The flags every LLM tool has besides the common ones, with their ids
 * (a tool numbers its own flags below LLMAPP_OPT_FORCE):
 *   --force        redo the records already done with these settings
 *   --fingerprint  print the settings' fingerprint and the fields the
 *                  input hash reads (fingerprint.h), and exit */
enum { LLMAPP_OPT_FORCE = 100, LLMAPP_OPT_FINGERPRINT };
#define LLMAPP_FLAGS(what)                                                                \
	{"force", 0, 0, NULL, LLMAPP_OPT_FORCE, NULL,                                     \
	 what " records already done with these settings too"},                           \
	{"fingerprint", 0, 0, NULL, LLMAPP_OPT_FINGERPRINT, NULL,                         \
	 "print the fingerprint of these settings and the fields read (for store pending), then exit"}
struct llmapp_opts {
	int force;
	int fingerprint;
	long check;     /* --check N (check.h) of embed and mine, 0 = none */
};
/* Records an LLMAPP_OPT_* flag in o. Returns 1 when id was one, else 0. */
int llmapp_flag(struct llmapp_opts *o, int id);
/* The flag callback (app_flag_fn) of a tool whose own flags are
 * LLMAPP_FLAGS and CHECK_FLAG (embed, mine): ud is its llmapp_opts.
 * Returns nonzero on a bad --check value. */
int llmapp_on_flag(int id, const char *arg, void *ud);
/* --fingerprint: prints fp and fields as fingerprint_spec writes them.
 * Returns the exit status (app_print_line). */
int llmapp_print_fingerprint(struct app *a, const char *fp, const char *const *fields,
			     size_t nfields);

/* Logs the client's totals (requests, retries, connections, limit), puts
 * its tokens in the run's summary, closes the request log. */
void llmapp_finish(struct app *a, struct llmapp *la);

#endif
