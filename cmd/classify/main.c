/* classify: maps each record's text onto a taxonomy: a shortlist by cosine
 * similarity of embeddings, then a threshold (embed mode) or an LLM check
 * (verify, triage); adds `class`. With --eval GOLD it scores itself on a
 * gold set instead. NDJSON in, NDJSON out; see man/classify.1. */
#include "app.h"
#include "classify_decide.h"
#include "classify_embed.h"
#include "classify_eval.h"
#include "classify_run.h"
#include "classify_shortlist.h"
#include "classify_taxonomy.h"
#include "filter.h"
#include "llmapp.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"Usage: classify --taxonomy FILE [options] < items.ndjson > classified.ndjson\n"
	"       classify --taxonomy FILE --eval GOLD [--json]\n"
	"Shortlists the taxonomy entries closest to each record's text (cosine\n"
	"similarity of embeddings; the taxonomy's vectors are cached on disk) and\n"
	"adds \"class\": {label, id, score, status, candidates, ...}. Modes: embed\n"
	"(accept the best entry above the threshold), verify (the LLM checks the\n"
	"best entry: YES, NO or UNCERTAIN), triage (the LLM picks one of the\n"
	"shortlist or none). --eval scores a gold set ({\"text\", \"gold\": id})\n"
	"and prints accuracy, coverage, statuses and the most confused pairs.\n";

enum { OPT_EVAL = 1, OPT_JSON, OPT_FORCE };

static const struct app_flag flags[] = {
	{"taxonomy", 't', 1, "classify.taxonomy", 0, "FILE", "taxonomy file (YAML or NDJSON)"},
	{"mode", 'm', 1, "classify.mode", 0, "MODE", "embed, verify or triage"},
	{"threshold", 0, 1, "classify.threshold", 0, "X", "lowest cosine similarity accepted"},
	{"top-k", 'k', 1, "classify.top_k", 0, "N", "shortlist size"},
	{"model", 0, 1, "classify.model", 0, "NAME", "chat model (verify, triage)"},
	{"embed-model", 'e', 1, "classify.embed_model", 0, "NAME",
	 "embedding model, or `hash` for the offline embedder"},
	{"field", 0, 1, "classify.field", 0, "NAME", "field holding the item text (default text)"},
	{"cache-dir", 0, 1, "classify.cache_dir", 0, "DIR", "taxonomy vector cache directory"},
	{"dim", 0, 1, "classify.dim", 0, "N", "size of hash vectors; `dimensions` asked of OpenAI"},
	{"batch", 0, 1, "classify.batch", 0, "N", "items per job and per embedding request"},
	{"answer-attempts", 0, 1, "classify.answer_attempts", 0, "N",
	 "answers asked for per item when they are invalid"},
	{"max-tokens", 0, 1, "classify.max_tokens", 0, "N", "longest answer in tokens"},
	{"prompt-verify", 0, 1, "classify.prompt_verify", 0, "FILE", "prompt template of verify"},
	{"prompt-triage", 0, 1, "classify.prompt_triage", 0, "FILE", "prompt template of triage"},
	{"force", 0, 0, NULL, OPT_FORCE, NULL, "classify records that already have a class"},
	{"eval", 0, 1, NULL, OPT_EVAL, "GOLD", "score a gold set (- = stdin) and print a report"},
	{"json", 0, 0, NULL, OPT_JSON, NULL, "print the --eval report as JSON"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

struct opts {
	const char *eval;
	int json;
	int force;
};

static int on_flag(int id, const char *arg, void *ud)
{
	struct opts *o = ud;
	if (id == OPT_EVAL)
		o->eval = arg;
	else if (id == OPT_JSON)
		o->json = 1;
	else if (id == OPT_FORCE)
		o->force = 1;
	return 0;
}

/* The records in flight are batch records per job: unless set, the cap is
 * 2 x workers + 4 jobs' worth, so that every worker has a job while the
 * writer waits for the oldest (as embed does). */
static void size_inflight(struct app *a, long batch, int offline)
{
	if (tun_int(a->tun, "classify.inflight") > 0)
		return;
	long w = tun_int(a->tun, "classify.workers");
	if (w <= 0) {
		long c = tun_int(a->tun, "llm.concurrency");
		w = offline ? cpu_count() : c > 0 ? c : tun_int(a->tun, "llm.max_concurrency");
	}
	long n = (2 * w + 4) * batch;
	if (n > 1000000)
		n = 1000000;
	char v[32], err[256];
	snprintf(v, sizeof v, "%ld", n);
	if (tun_set(a->tun, "classify.inflight", v, tun_source_of(a->tun, "classify.inflight"),
		    "auto", err, sizeof err))
		log_fatal("classify.inflight: %s", err);
}

static enum cl_mode parse_mode(const char *s)
{
	if (!strcmp(s, "verify"))
		return CL_VERIFY;
	if (!strcmp(s, "triage"))
		return CL_TRIAGE;
	return CL_EMBED;
}

/* What main sets up, released in one place, also on early exits. */
struct setup {
	char *tax_path, *model, *embed_model, *field, *cache_dir, *emb_name;
	enum cl_mode mode;
	double threshold;
	int top_k, dim, dim_set;
	long batch;
	int in_fd;
	const char *in_name;
	struct cl_tpl tpl;
	struct taxonomy *tax;
	char tax_hex[17];
	struct llmapp la;
	char emb_digest[64];
	struct cl_embedder emb;
	struct cl_tax_vectors tv;
	struct sl_index *ix;
};

static void setup_free(struct setup *s)
{
	if (s->in_fd > 0)
		close(s->in_fd);
	sl_index_free(s->ix);
	cl_tax_vectors_free(&s->tv);
	tax_free(s->tax);
	cl_tpl_free(&s->tpl);
	free(s->tax_path);
	free(s->model);
	free(s->embed_model);
	free(s->emb_name);
	free(s->field);
	free(s->cache_dir);
}

/* Ends the run before any record was read: releases everything. */
static int early_exit(struct app *a, struct setup *s, int code)
{
	if (s->la.llm)
		llm_free(s->la.llm);
	if (a->rejects)
		fclose(a->rejects);
	tun_free(a->tun);
	a->tun = NULL;
	setup_free(s);
	return code;
}

/* Reads the settings; returns 0 or an exit status. */
static int configure(struct app *a, const struct opts *o, struct setup *s)
{
	if (a->nargs) {
		log_error("unexpected argument '%s': classify reads records on stdin (try --help)",
			  a->args[0]);
		return EXIT_USAGE;
	}
	if (o->json && !o->eval) {
		log_error("--json goes with --eval GOLD");
		return EXIT_USAGE;
	}
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
	if (!*s->tax_path) {
		log_error("no taxonomy: give --taxonomy FILE or set classify.taxonomy");
		return EXIT_USAGE;
	}
	if (!*s->embed_model || (s->mode != CL_EMBED && !*s->model)) {
		log_error("empty model name: set classify.embed_model (and classify.model for %s)",
			  cl_mode_name[s->mode]);
		return EXIT_USAGE;
	}
	s->in_name = "<stdin>";
	if (o->eval && strcmp(o->eval, "-")) {
		s->in_fd = open(o->eval, O_RDONLY | O_CLOEXEC);
		if (s->in_fd < 0) {
			s->in_fd = 0;
			log_error("cannot open the gold set %s: %s", o->eval, strerror(errno));
			return EXIT_USAGE;
		}
		s->in_name = o->eval;
	}
	char err[1024];
	if (s->mode != CL_EMBED &&
	    cl_tpl_load(&s->tpl, s->mode, tun_str(a->tun, s->mode == CL_VERIFY
						  ? "classify.prompt_verify"
						  : "classify.prompt_triage"), err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	s->tax = tax_load(s->tax_path, err, sizeof err);
	if (!s->tax) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	tax_hash_hex(s->tax, s->tax_hex);
	return 0;
}

/* Sizes the pool, logs the start line and, unless everything is offline,
 * checks the server and its models. Returns 0 or an exit status. */
static int start(struct app *a, struct setup *s)
{
	/* the server: not needed for the hash embedder in embed mode */
	int offline = !strcmp(s->embed_model, "hash");
	s->emb_name = offline ? xasprintf("hash-%d", s->dim) : xstrdup(s->embed_model);
	s->emb = (struct cl_embedder){
		.model = s->embed_model,
		.name = s->emb_name,
		.digest = "",
		.hash_dim = offline ? s->dim : 0,
		.batch = (size_t)s->batch,
	};
	char extra[512];
	snprintf(extra, sizeof extra, "taxonomy=%s entries=%zu mode=%s threshold=%g top_k=%d "
		 "embed_model=%s batch=%ld%s%s", s->tax_path, s->tax->n, cl_mode_name[s->mode],
		 s->threshold, s->top_k, s->emb_name, s->batch, s->mode != CL_EMBED ? " prompt=" : "",
		 s->mode != CL_EMBED ? s->tpl.path : "");
	size_inflight(a, s->batch, s->mode == CL_EMBED && offline);
	if (s->mode == CL_EMBED && offline) {
		app_size_pool(a, cpu_count());
		app_log_start(a, "backend=none (hash embedder, offline) %s", extra);
		return 0;
	}
	llmapp_start(a, &s->la, s->mode == CL_EMBED ? s->embed_model : s->model, "%s", extra);
	char err[1024];
	if (s->mode == CL_EMBED) {
		snprintf(s->emb_digest, sizeof s->emb_digest, "%s", s->la.digest);
	} else if (!offline && llm_check_model(s->la.llm, s->embed_model, s->emb_digest,
					       sizeof s->emb_digest, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_BACKEND;
	}
	s->emb.llm = s->la.llm;
	s->emb.digest = s->emb_digest;
	if (!offline && s->dim_set && !strcmp(llm_backend_name(s->la.llm), "openai"))
		s->emb.dim_hint = s->dim;
	else if (!offline && s->dim_set)
		log_warn("classify.dim sets the size of hash vectors and OpenAI `dimensions`; "
			 "Ollama models have their own size, %d is ignored", s->dim);
	return 0;
}

/* The taxonomy's vectors (cache + embedding) and the shortlist index. */
static int build_index(struct app *a, struct setup *s)
{
	char err[1024];
	double t0 = now_ms();
	/* at most 16 batches wait for the client's concurrency limit, so that a
	 * stop signal ends the first embedding of a big taxonomy soon */
	int workers = s->emb.hash_dim > 0 ? cpu_count() : a->workers < 16 ? a->workers : 16;
	if (cl_tax_vectors(s->tax, &s->emb, s->cache_dir, workers, &s->tv, err, sizeof err)) {
		log_error("%s", err);
		if (app_stop)
			return app_stop == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
		return EXIT_BACKEND;
	}
	log_event("taxonomy: %zu entries, hash %s, %zu vectors from the cache, %zu embedded "
		  "(%ld requests) in %.2fs, dim %d, cache %s", s->tax->n, s->tax_hex,
		  s->tv.from_cache, s->tv.embedded, s->tv.requests, (now_ms() - t0) / 1000, s->tv.dim,
		  s->tv.cache_path ? s->tv.cache_path : "none");
	s->ix = sl_index_new(s->tv.vec, s->tax->n, s->tv.dim);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"classify", "llm", NULL};
	static struct setup s;
	static struct cl_run run;
	struct app a;
	struct opts o = {0};
	app_init(&a, "classify", sections, argc, argv, flags, on_flag, &o, usage);
	int rc = configure(&a, &o, &s);
	if (!rc)
		rc = start(&a, &s);
	if (!rc)
		rc = build_index(&a, &s);
	if (rc)
		return early_exit(&a, &s, rc);

	run.tax = s.tax;
	memcpy(run.tax_hex, s.tax_hex, sizeof run.tax_hex);
	run.ix = s.ix;
	run.top_k = s.top_k;
	run.field = s.field;
	run.emb = &s.emb;
	run.model_digest = s.la.digest;
	run.force = o.force || o.eval;
	run.where = s.in_name;
	run.dec = (struct cl_decider){
		.mode = s.mode,
		.threshold = s.threshold,
		.answer_attempts = (int)tun_int(a.tun, "classify.answer_attempts"),
		.max_tokens = tun_int(a.tun, "classify.max_tokens"),
		.model = s.model,
		.llm = s.la.llm,
		.tpl = &s.tpl,
		.tax = s.tax,
	};
	atomic_init(&run.embedded, 0);
	atomic_init(&run.reused, 0);
	if (o.eval)
		run.ev = cl_eval_new(s.tax);

	app_start_reporting(&a);
	struct filter *f = filter_new(&a, (size_t)s.batch, cl_run_job, cl_run_emitted, NULL, &run);
	/* in a pipe behind a slow stage, a part-filled batch goes when the
	 * input pauses instead of waiting to fill */
	filter_set_eager(f, 1);
	filter_read_fd(f, s.in_fd, s.in_name);
	int code = filter_finish(f);

	struct buf st = {0};
	for (int k = 0; k < CL_NSTATUS; k++)
		buf_printf(&st, "%s%s %ld", k ? ", " : "", cl_status_name[k], run.status[k]);
	log_event("classes: %s; item vectors: %ld embedded, %ld reused from the records", st.p,
		  atomic_load(&run.embedded), atomic_load(&run.reused));
	buf_free(&st);
	if (s.la.llm)
		llmapp_finish(&a, &s.la);
	if (run.ev) {
		struct cl_eval_info info = {
			.taxonomy_path = s.tax_path,
			.taxonomy_hash = s.tax_hex,
			.mode = cl_mode_name[s.mode],
			.model = s.mode == CL_EMBED ? NULL : s.model,
			.embed_model = s.emb_name,
			.threshold = s.threshold,
			.top_k = s.top_k,
		};
		if (cl_eval_report(run.ev, &info, o.json, 10, stdout)) {
			log_error("cannot write the report: %s", strerror(errno));
			if (code == EXIT_DONE)
				code = EXIT_FAILURES;
		}
		cl_eval_free(run.ev);
	}
	setup_free(&s);
	return code;
}
