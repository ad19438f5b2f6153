/* llmapp: start-up checks and figures shared by mine, embed and classify. */
#include "llmapp.h"
#include "check.h"
#include "fingerprint.h"
#include "log.h"
#include "reqlog.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void progress(char *out, size_t outlen, void *ud)
{
	llm_progress(ud, out, outlen);
}

/* Workers useful now: one per request the limit lets into flight, one
 * per call waiting to try again (it holds its thread, not a slot: others
 * fill the slot meanwhile), and LLMAPP_SPARE_WORKERS more that render the
 * next prompt and read the last answer; a thread beyond them would only
 * wait for a slot. */
#define LLMAPP_SPARE_WORKERS 2
static int workers_need(void *ud)
{
	return llm_limit(ud) + llm_waiting(ud) + LLMAPP_SPARE_WORKERS;
}

void llmapp_start(struct app *a, struct llmapp *la, enum llm_use use, const char *model,
		  const char *extra_fmt, ...)
{
	struct llm_config cfg;
	char err[1024];
	if (llm_config_load_for(&cfg, a->tun, a->section, err, sizeof err)) {
		log_error("%s", err);
		exit(EXIT_USAGE);
	}
	snprintf(la->model, sizeof la->model, "%s", model);
	la->use = use;
	la->llm = llm_new(&cfg, a->tool);
	if (reqlog_open(a->tun, a->tool, &la->log, err, sizeof err)) {
		log_error("%s", err);
		exit(EXIT_USAGE);
	}
	llm_set_log(la->llm, la->log);
	int rc = llm_check_model_for(la->llm, use, model, la->digest, sizeof la->digest, err,
				     sizeof err);
	if (rc) {
		log_error("%s", err);
		exit(rc == -2 ? EXIT_USAGE : EXIT_BACKEND);
	}
	int conc = llm_config_concurrency(&cfg, use);
	app_size_pool(a, conc);
	a->progress_extra = progress;
	a->progress_ud = la->llm;
	a->workers_need = workers_need;
	a->workers_need_ud = la->llm;
	/* writing a record is cheap next to a request; a writer thread
	 * would be woken once per record for it */
	a->emit_in_workers = 1;

	struct buf extra = {0};
	va_list ap;
	va_start(ap, extra_fmt);
	buf_vprintf(&extra, extra_fmt, ap);
	va_end(ap);
	char conc_text[64];
	const struct llm_endpoints *eps = &cfg.ep[use];
	if (cfg.concurrency > 0)
		snprintf(conc_text, sizeof conc_text, "%d (fixed)", conc);
	else
		snprintf(conc_text, sizeof conc_text, "adaptive from %d up to %d",
			 llm_limit(la->llm), conc);
	char rate[64] = "off";
	if (cfg.rpm || cfg.tpm)
		snprintf(rate, sizeof rate, "rpm=%ld tpm=%ld", cfg.rpm, cfg.tpm);
	struct buf where = {0};
	llm_describe(la->llm, use, &where);
	char why[96];
	if (eps->n == 1)
		snprintf(why, sizeof why, " (%s)", eps->v[0].backend_why);
	else
		why[0] = '\0';
	app_log_start(a, "backend=%s%s %s%s%s model=%s%s%s requests-in-flight=%s rate-limit=%s%s%s",
		      llm_backend_for(la->llm, use), why, where.p,
		      strcmp(eps->from, "llm.base_url") ? " from=" : "",
		      strcmp(eps->from, "llm.base_url") ? eps->from : "", model,
		      la->digest[0] ? "@" : "", la->digest, conc_text, rate, extra.len ? " " : "",
		      extra.len ? extra.p : "");
	buf_free(&where);
	buf_free(&extra);
	llm_config_free(&cfg);
}

int llmapp_check_also(struct app *a, struct llmapp *la, enum llm_use use, const char *model,
		      char *info, size_t infolen)
{
	(void)a;
	char err[1024];
	int rc = llm_check_model_for(la->llm, use, model, info, infolen, err, sizeof err);
	if (rc) {
		log_error("%s", err);
		return rc == -2 ? EXIT_USAGE : EXIT_BACKEND;
	}
	if (use != la->use && !llm_same_endpoints(la->llm)) {
		struct buf where = {0};
		llm_describe(la->llm, use, &where);
		log_event("%s: backend=%s %s model=%s%s%s", use == LLM_USE_EMBED ? "embeddings"
			  : "chat", llm_backend_for(la->llm, use), where.p, model, *info ? "@" : "",
			  info);
		buf_free(&where);
	}
	return 0;
}

int llmapp_flag(struct llmapp_opts *o, int id)
{
	if (id == LLMAPP_OPT_FORCE)
		o->force = 1;
	else if (id == LLMAPP_OPT_FINGERPRINT)
		o->fingerprint = 1;
	else
		return 0;
	return 1;
}

int llmapp_on_flag(int id, const char *arg, void *ud)
{
	struct llmapp_opts *o = ud;
	int c = check_flag(id, arg, &o->check);
	if (!c)
		llmapp_flag(o, id);
	return c < 0;
}

int llmapp_print_fingerprint(struct app *a, const char *fp, const char *const *fields,
			     size_t nfields)
{
	struct buf spec = {0};
	fingerprint_spec(fp, fields, nfields, &spec);
	int rc = app_print_line(a, spec.p);
	buf_free(&spec);
	return rc;
}

void llmapp_finish(struct app *a, struct llmapp *la)
{
	struct llm_totals t;
	llm_totals(la->llm, &t);
	log_event("llm: %ld requests, %ld retries, %ld failed calls, %ld connections opened, "
		  "peak %d in flight, final limit %d",
		  t.requests, t.retries, t.failures, t.connections, t.peak_inflight, t.limit);
	if (la->log)
		log_event("llm: request log %s: %ld entries", reqlog_path(la->log), reqlog_count(la->log));
	a->tokens = 1;
	a->prompt_tokens += t.prompt_tokens;
	a->completion_tokens += t.completion_tokens;
	struct buf per = {0};
	llm_endpoint_totals(la->llm, &per);
	for (char *line = per.p, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		log_event("llm: %s", line);
	}
	buf_free(&per);
	llm_free(la->llm);
	la->llm = NULL;
}
