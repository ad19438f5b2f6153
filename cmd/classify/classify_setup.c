/* classify_setup: classify's start and end around the record work (see
 * the header). */
#include "classify_setup.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum classify_mode parse_mode(const char *s)
{
	if (!strcmp(s, "verify"))
		return CLASSIFY_VERIFY;
	if (!strcmp(s, "triage"))
		return CLASSIFY_TRIAGE;
	return CLASSIFY_EMBED;
}

void classify_setup_free(struct classify_setup *s)
{
	if (s->in_fd > 0)
		close(s->in_fd);
	vec_index_free(s->ix);
	classify_embed_taxonomy_free(&s->tv);
	classify_taxonomy_free(s->tax);
	ask_tpl_free(&s->tpl);
	free(s->tax_path);
	free(s->model);
	free(s->embed_model);
	free(s->emb_name);
	free(s->field);
	free(s->cache_dir);
	memset(s, 0, sizeof *s);
}

int classify_setup_exit(struct app *a, struct classify_setup *s, int code)
{
	if (s->la.llm)
		llm_free(s->la.llm);
	if (a->rejects)
		fclose(a->rejects);
	tun_free(a->tun);
	a->tun = NULL;
	classify_setup_free(s);
	return code;
}

/* The fingerprint of what a class depends on: the taxonomy, the mode, the
 * models (the embedding model as recorded: hash-<dim> offline), the
 * prompt and sampling of verify and triage, threshold, top_k, field and
 * where the examples go. */
static void setup_fingerprint(struct app *a, struct classify_setup *s)
{
	int llm = s->mode != CLASSIFY_EMBED;
	char *emb = !strcmp(s->embed_model, "hash") ? xasprintf("hash-%d", s->dim)
						    : xstrdup(s->embed_model);
	size_t n = 0;
	char *src = llm && s->tpl.path ? read_file(s->tpl.path, &n) : NULL;
	struct fingerprint_classify_in in = {
		.taxonomy = s->tax_hex,
		.mode = classify_mode_name[s->mode],
		.embed_model = emb,
		.model = llm ? s->model : NULL,
		.prompt_src = src ? src : "",
		.threshold = s->threshold,
		.top_k = s->top_k,
		.field = s->field,
		.examples = s->examples ? "shortlist" : "prompt",
		.temperature = tun_float(a->tun, "llm.temperature"),
		.seed = tun_int(a->tun, "llm.seed"),
	};
	fingerprint_classify(&in, s->fingerprint);
	free(src);
	free(emb);
}

int classify_setup_read(struct app *a, struct classify_setup *s, const char *eval, int json,
			int force)
{
	if (a->nargs) {
		log_error("unexpected argument '%s': classify reads records on stdin (try --help)",
			  a->args[0]);
		return EXIT_USAGE;
	}
	if (json && !eval) {
		log_error("--json goes with --eval GOLD");
		return EXIT_USAGE;
	}
	s->eval = eval != NULL;
	s->json = json;
	s->force = force;
	s->tax_path = xstrdup(tun_str(a->tun, "classify.taxonomy"));
	s->model = xstrdup(tun_str(a->tun, "classify.model"));
	s->embed_model = xstrdup(tun_str(a->tun, "classify.embed_model"));
	s->field = xstrdup(tun_str(a->tun, "classify.field"));
	s->cache_dir = xstrdup(tun_str(a->tun, "classify.cache_dir"));
	s->mode = parse_mode(tun_str(a->tun, "classify.mode"));
	s->threshold = tun_float(a->tun, "classify.threshold");
	s->top_k = (int)tun_int(a->tun, "classify.top_k");
	s->dim = (int)tun_int(a->tun, "classify.dim");
	s->dim_set = tun_is_set(a->tun, "classify.dim");
	s->batch = tun_int(a->tun, "classify.batch");
	s->examples = strcmp(tun_str(a->tun, "classify.examples"), "prompt") != 0;
	if (!*s->tax_path) {
		log_error("no taxonomy: give --taxonomy FILE or set classify.taxonomy");
		return EXIT_USAGE;
	}
	if (!*s->embed_model || (s->mode != CLASSIFY_EMBED && !*s->model)) {
		log_error("empty model name: set classify.embed_model (and classify.model for %s)",
			  classify_mode_name[s->mode]);
		return EXIT_USAGE;
	}
	s->in_name = "<stdin>";
	if (eval && strcmp(eval, "-")) {
		s->in_fd = open(eval, O_RDONLY | O_CLOEXEC);
		if (s->in_fd < 0) {
			s->in_fd = 0;
			log_error("cannot open the gold set %s: %s", eval, strerror(errno));
			return EXIT_USAGE;
		}
		s->in_name = eval;
	}
	char err[1024];
	if (s->mode != CLASSIFY_EMBED &&
	    classify_decide_tpl_load(&s->tpl, s->mode, tun_str(a->tun, s->mode == CLASSIFY_VERIFY
						  ? "classify.prompt_verify"
						  : "classify.prompt_triage"), err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	s->tax = classify_taxonomy_load(s->tax_path, err, sizeof err);
	if (!s->tax) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	classify_taxonomy_hash_hex(s->tax, s->tax_hex);
	setup_fingerprint(a, s);
	return 0;
}

int classify_setup_start(struct app *a, struct classify_setup *s)
{
	/* the server: not needed for the hash embedder in embed mode */
	int offline = !strcmp(s->embed_model, "hash");
	s->emb_name = offline ? xasprintf("hash-%d", s->dim) : xstrdup(s->embed_model);
	s->emb = (struct embedder){
		.model = s->embed_model,
		.name = s->emb_name,
		.digest = "",
		.hash_dim = offline ? s->dim : 0,
		.batch = (size_t)s->batch,
	};
	char extra[512];
	snprintf(extra, sizeof extra, "taxonomy=%s entries=%zu mode=%s threshold=%g top_k=%d "
		 "embed_model=%s examples=%s batch=%ld%s%s", s->tax_path, s->tax->n,
		 classify_mode_name[s->mode], s->threshold, s->top_k, s->emb_name,
		 s->examples ? "shortlist" : "prompt", s->batch, s->mode != CLASSIFY_EMBED ? " prompt=" : "",
		 s->mode != CLASSIFY_EMBED ? s->tpl.path : "");
	a->batch = (size_t)s->batch;
	if (s->mode == CLASSIFY_EMBED && offline) {
		app_size_pool(a, cpu_count());
		app_log_start(a, "backend=none (hash embedder, offline) %s", extra);
		return 0;
	}
	if (s->mode == CLASSIFY_EMBED)
		llmapp_start(a, &s->la, LLM_USE_EMBED, s->embed_model, "%s", extra);
	else
		llmapp_start(a, &s->la, LLM_USE_CHAT, s->model, "%s", extra);
	if (s->mode == CLASSIFY_EMBED) {
		snprintf(s->emb_digest, sizeof s->emb_digest, "%s", s->la.digest);
	} else if (!offline) {
		int rc = llmapp_check_also(a, &s->la, LLM_USE_EMBED, s->embed_model, s->emb_digest,
					   sizeof s->emb_digest);
		if (rc)
			return rc;
	}
	s->emb.llm = s->la.llm;
	s->emb.digest = s->emb_digest;
	if (!offline && s->dim_set && !strcmp(llm_backend_for(s->la.llm, LLM_USE_EMBED), "openai"))
		s->emb.dim_hint = s->dim;
	else if (!offline && s->dim_set)
		log_warn("classify.dim sets the size of hash vectors and OpenAI `dimensions`; "
			 "Ollama models have their own size, %d is ignored", s->dim);
	return 0;
}

int classify_setup_index(struct app *a, struct classify_setup *s)
{
	char err[1024];
	double t0 = now_ms();
	/* at most 16 batches wait for the client's concurrency limit, so that a
	 * stop signal ends the first embedding of a big taxonomy soon */
	int workers = s->emb.hash_dim > 0 ? cpu_count() : a->workers < 16 ? a->workers : 16;
	if (classify_embed_taxonomy(s->tax, &s->emb, s->examples, s->cache_dir, workers, &s->tv, err,
			   sizeof err)) {
		log_error("%s", err);
		if (app_stop)
			return app_stop == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
		return EXIT_BACKEND;
	}
	log_event("taxonomy: %zu entries, hash %s, %zu vectors from the cache, %zu embedded "
		  "(%ld requests) in %.2fs, dim %d, cache %s, %zu vectors of examples", s->tax->n,
		  s->tax_hex, s->tv.from_cache, s->tv.embedded, s->tv.requests,
		  (now_ms() - t0) / 1000, s->tv.dim, s->tv.cache_path ? s->tv.cache_path : "none",
		  s->tv.n - s->tax->n);
	s->ix = vec_index_new(s->tv.vec, s->tv.n, s->tv.dim, s->tv.entry);
	return 0;
}

void classify_setup_run(struct app *a, const struct classify_setup *s, struct classify_run *run)
{
	run->tax = s->tax;
	memcpy(run->tax_hex, s->tax_hex, sizeof run->tax_hex);
	run->ix = s->ix;
	run->top_k = s->top_k;
	run->field = s->field;
	run->emb = &s->emb;
	run->model_digest = s->la.digest;
	run->force = s->force || s->eval;
	run->fingerprint = s->fingerprint;
	run->where = s->in_name;
	run->dec = (struct classify_decider){
		.mode = s->mode,
		.threshold = s->threshold,
		.answer_attempts = (int)tun_int(a->tun, "classify.answer_attempts"),
		.max_tokens = tun_int(a->tun, "classify.max_tokens"),
		.model = s->model,
		.llm = s->la.llm,
		.tpl = &s->tpl,
		.tax = s->tax,
	};
	atomic_init(&run->embedded, 0);
	atomic_init(&run->reused, 0);
	if (s->eval)
		run->ev = classify_eval_new(s->tax);
}

void classify_setup_report(struct app *a, struct classify_setup *s, struct classify_run *run)
{
	struct buf st = {0};
	for (int k = 0; k < CLASSIFY_NSTATUS; k++)
		buf_printf(&st, "%s%s %ld", k ? ", " : "", classify_status_name[k], run->status[k]);
	log_event("classes: %s; item vectors: %ld embedded, %ld reused from the records", st.p,
		  atomic_load(&run->embedded), atomic_load(&run->reused));
	buf_free(&st);
	if (s->la.llm)
		llmapp_finish(a, &s->la);
	if (!run->ev)
		return;
	struct classify_eval_info info = {
		.taxonomy_path = s->tax_path,
		.taxonomy_hash = s->tax_hex,
		.mode = classify_mode_name[s->mode],
		.model = s->mode == CLASSIFY_EMBED ? NULL : s->model,
		.embed_model = s->emb_name,
		.threshold = s->threshold,
		.top_k = s->top_k,
	};
	if (classify_eval_report(run->ev, &info, s->json, 10, stdout)) {
		log_error("cannot write the report: %s", strerror(errno));
		a->run_errors++;
	}
	classify_eval_free(run->ev);
	run->ev = NULL;
}
