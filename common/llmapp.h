/* llmapp: what every tool that calls an LLM server does at start and end:
 * load the llm settings, check the server has the model before reading
 * input (exit 3 with one clear message if not), size the pool from the
 * concurrency, log the effective settings, add the client's figures to the
 * progress line and the summary. */
#ifndef LANES_LLMAPP_H
#define LANES_LLMAPP_H

#include "app.h"
#include "llm.h"

struct llmapp {
	struct llm *llm;
	char digest[64];    /* server-reported digest of the model, or "" */
	char model[256];
};

/* Returns 0, or exits: 2 on bad settings, 3 when the server or the model is
 * unusable. With check_model 0 the model is not looked up (e.g. when every
 * record may be skipped, the tool checks later). */
void llmapp_start(struct app *a, struct llmapp *la, const char *model,
		  const char *extra_fmt, ...) __attribute__((format(printf, 4, 5)));
/* Logs the client's totals (requests, retries, connections, limit). */
void llmapp_finish(struct app *a, struct llmapp *la);

#endif
