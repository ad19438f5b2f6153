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

int main(int argc, char **argv)
{
	static const char *const sections[] = {"classify", "llm", NULL};
	struct app a;
	struct opts o = {0};
	app_init(&a, "classify", sections, argc, argv, flags, on_flag, &o, usage);
	if (a.nargs) {
		log_error("unexpected argument '%s': classify reads records on stdin (try --help)",
			  a.args[0]);
		return EXIT_USAGE;
	}
	if (o.json && !o.eval) {
		log_error("--json goes with --eval GOLD");
		return EXIT_USAGE;
	}
	char *tax_path = xstrdup(tun_str(a.tun, "classify.taxonomy"));
	char *model = xstrdup(tun_str(a.tun, "classify.model"));
	char *embed_model = xstrdup(tun_str(a.tun, "classify.embed_model"));
	char *field = xstrdup(tun_str(a.tun, "classify.field"));
	char *cache_dir = xstrdup(tun_str(a.tun, "classify.cache_dir"));
	enum cl_mode mode = parse_mode(tun_str(a.tun, "classify.mode"));
	double threshold = tun_float(a.tun, "classify.threshold");
	int top_k = (int)tun_int(a.tun, "classify.top_k");
	int dim = (int)tun_int(a.tun, "classify.dim");
	int dim_set = tun_source_of(a.tun, "classify.dim") != TUN_SRC_DEFAULT;
	long batch = tun_int(a.tun, "classify.batch");
	if (!*tax_path) {
		log_error("no taxonomy: give --taxonomy FILE or set classify.taxonomy");
		return EXIT_USAGE;
	}
	if (!*embed_model || (mode != CL_EMBED && !*model)) {
		log_error("empty model name: set classify.embed_model (and classify.model for %s)",
			  cl_mode_name[mode]);
		return EXIT_USAGE;
	}

	char err[1024];
	struct cl_tpl tpl = {0};
	if (mode != CL_EMBED &&
	    cl_tpl_load(&tpl, mode, tun_str(a.tun, mode == CL_VERIFY ? "classify.prompt_verify"
						: "classify.prompt_triage"), err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	struct taxonomy *tax = tax_load(tax_path, err, sizeof err);
	if (!tax) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	char tax_hex[17];
	tax_hash_hex(tax, tax_hex);

	/* the server: not needed for the hash embedder in embed mode */
	int offline = !strcmp(embed_model, "hash");
	char *emb_name = offline ? xasprintf("hash-%d", dim) : xstrdup(embed_model);
	struct cl_embedder emb = {
		.model = embed_model,
		.name = emb_name,
		.digest = "",
		.hash_dim = offline ? dim : 0,
		.batch = (size_t)batch,
	};
	struct llmapp la = {0};
	char emb_digest[64] = "";
	const char *chat_digest = "";
	char extra[512];
	snprintf(extra, sizeof extra, "taxonomy=%s entries=%zu mode=%s threshold=%g top_k=%d "
		 "embed_model=%s batch=%ld%s%s", tax_path, tax->n, cl_mode_name[mode], threshold,
		 top_k, emb_name, batch, mode != CL_EMBED ? " prompt=" : "",
		 mode != CL_EMBED ? tpl.path : "");
	size_inflight(&a, batch, mode == CL_EMBED && offline);
	if (mode == CL_EMBED && offline) {
		app_size_pool(&a, cpu_count());
		app_log_start(&a, "backend=none (hash embedder, offline) %s", extra);
	} else {
		llmapp_start(&a, &la, mode == CL_EMBED ? embed_model : model, "%s", extra);
		if (mode == CL_EMBED) {
			snprintf(emb_digest, sizeof emb_digest, "%s", la.digest);
		} else {
			chat_digest = la.digest;
			if (!offline && llm_check_model(la.llm, embed_model, emb_digest,
							sizeof emb_digest, err, sizeof err)) {
				log_error("%s", err);
				return EXIT_BACKEND;
			}
		}
		emb.llm = la.llm;
		emb.digest = emb_digest;
		if (!offline && dim_set && !strcmp(llm_backend_name(la.llm), "openai"))
			emb.dim_hint = dim;
		else if (!offline && dim_set)
			log_warn("classify.dim sets the size of hash vectors and OpenAI `dimensions`; "
				 "Ollama models have their own size, %d is ignored", dim);
	}
	struct cl_tax_vectors tv;
	double t0 = now_ms();
	if (cl_tax_vectors(tax, &emb, cache_dir, offline ? cpu_count() : a.workers, &tv, err,
			   sizeof err)) {
		log_error("%s", err);
		return EXIT_BACKEND;
	}
	log_event("taxonomy: %zu entries, hash %s, %zu vectors from the cache, %zu embedded "
		  "(%ld requests) in %.2fs, dim %d, cache %s", tax->n, tax_hex, tv.from_cache,
		  tv.embedded, tv.requests, (now_ms() - t0) / 1000, tv.dim,
		  tv.cache_path ? tv.cache_path : "none");
	struct sl_index *ix = sl_index_new(tv.vec, tax->n, tv.dim);

	static struct cl_run run;
	run.tax = tax;
	memcpy(run.tax_hex, tax_hex, sizeof tax_hex);
	run.ix = ix;
	run.top_k = top_k;
	run.field = field;
	run.emb = &emb;
	run.model_digest = chat_digest;
	run.force = o.force || o.eval;
	run.dec = (struct cl_decider){
		.mode = mode,
		.threshold = threshold,
		.answer_attempts = (int)tun_int(a.tun, "classify.answer_attempts"),
		.max_tokens = tun_int(a.tun, "classify.max_tokens"),
		.model = model,
		.llm = la.llm,
		.tpl = &tpl,
		.tax = tax,
	};
	atomic_init(&run.embedded, 0);
	atomic_init(&run.reused, 0);
	if (o.eval)
		run.ev = cl_eval_new(tax);

	int in_fd = 0;
	const char *in_name = "<stdin>";
	if (o.eval && strcmp(o.eval, "-")) {
		in_fd = open(o.eval, O_RDONLY | O_CLOEXEC);
		if (in_fd < 0) {
			log_error("cannot open the gold set %s: %s", o.eval, strerror(errno));
			return EXIT_USAGE;
		}
		in_name = o.eval;
	}
	run.where = in_name;
	app_start_reporting(&a);
	struct filter *f = filter_new(&a, (size_t)batch, cl_run_job, cl_run_emitted, NULL, &run);
	filter_read_fd(f, in_fd, in_name);
	int code = filter_finish(f);
	if (in_fd > 0)
		close(in_fd);

	struct buf st = {0};
	for (int s = 0; s < CL_NSTATUS; s++)
		buf_printf(&st, "%s%s %ld", s ? ", " : "", cl_status_name[s], run.status[s]);
	log_event("classes: %s; item vectors: %ld embedded, %ld reused from the records", st.p,
		  atomic_load(&run.embedded), atomic_load(&run.reused));
	buf_free(&st);
	if (la.llm)
		llmapp_finish(&a, &la);
	if (run.ev) {
		struct cl_eval_info info = {
			.taxonomy_path = tax_path,
			.taxonomy_hash = tax_hex,
			.mode = cl_mode_name[mode],
			.model = mode == CL_EMBED ? NULL : model,
			.embed_model = emb_name,
			.threshold = threshold,
			.top_k = top_k,
		};
		if (cl_eval_report(run.ev, &info, o.json, 10, stdout)) {
			log_error("cannot write the report: %s", strerror(errno));
			if (code == EXIT_DONE)
				code = EXIT_FAILURES;
		}
		cl_eval_free(run.ev);
	}
	sl_index_free(ix);
	cl_tax_vectors_free(&tv);
	tax_free(tax);
	cl_tpl_free(&tpl);
	free(tax_path);
	free(model);
	free(embed_model);
	free(emb_name);
	free(field);
	free(cache_dir);
	return code;
}
