/* embed: adds `embedding` and `embedding_model` (and `embedding_digest`)
 * to each NDJSON record, batching texts into requests to an Ollama or
 * OpenAI-compatible server, or hashing them offline with --model hash. */
#include "app.h"
#include "check.h"
#include "embed_batch.h"
#include "embed_cache.h"
#include "filter.h"
#include "fingerprint.h"
#include "llmapp.h"
#include "log.h"
#include "pool.h"
#include "stage.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: embed [options] < records.ndjson > embedded.ndjson\n"
	"Adds \"embedding\" (an array of numbers), \"embedding_model\" and, when the\n"
	"server reports one, \"embedding_digest\" to every NDJSON record on stdin, from\n"
	"the text in --field. Texts go to the server in batches of --batch, several\n"
	"batches at once; identical texts are sent once. --model hash embeds offline\n"
	"(feature hashing of words and character n-grams, no server). --check N\n"
	"embeds the first N records alone and then as a run would, and says whether\n"
	"the server gives the same vectors both ways (writing no records).\n";

static const struct app_flag flags[] = {
	{"model", 'm', 1, "embed.model", 0, "NAME", "embedding model, or `hash` for the offline embedder"},
	{"batch", 'b', 1, "embed.batch", 0, "N", "texts per request"},
	{"field", 0, 1, "embed.field", 0, "NAME", "field holding the text (default text)"},
	{"dim", 0, 1, "embed.dim", 0, "N", "size of hash vectors; `dimensions` asked of OpenAI servers"},
	{"max-inflight-bytes", 0, 1, "embed.max_inflight_bytes", 0, "BYTES",
	 "bytes of input lines in flight at most (default 256 MiB)"},
	{"url", 0, 1, "llm.base_url", 0, "URL", "server address (OpenAI-compatible: ending in /v1)"},
	LLMAPP_FLAGS("embed"),
	CHECK_FLAG("embed"),
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* Texts and vectors remembered for deduplication, at most. */
#define CACHE_BYTES ((size_t)64 << 20)

/* x comes first: the filter hands &run to embed_work as its embed_ctx. */
struct run {
	struct embed_ctx x;
	struct app *a;
	struct llmapp la;
};

/* The lines about the texts and the server, before the run's summary. */
static void report(struct run *run)
{
	struct embed_ctx *x = &run->x;
	struct embed_cache_stats s;
	embed_cache_stats(x->cache, &s);
	long sent = atomic_load(&x->texts_sent);
	if (x->emb.hash_dim > 0)
		log_event("texts: %ld hashed, %ld duplicates reused (%ld in flight), dim %d", sent,
			  s.hits + s.waits, s.waits, x->emb.hash_dim);
	else
		log_event("texts: %ld sent in %ld requests, %ld duplicates reused (%ld in flight), "
			  "dim %d%s", sent, atomic_load(&x->requests), s.hits + s.waits, s.waits,
			  atomic_load(&x->dim), atomic_load(&x->mismatched) ? ", dimension mismatches" : "");
	if (s.evicted)
		log_event("texts: cache full, %ld texts forgotten (duplicates far apart may be sent again)",
			  s.evicted);
	if (run->la.llm)
		llmapp_finish(run->a, &run->la);
}

/* --check: the second pass finds none of the first pass's vectors. */
static void fresh_cache(void *ud)
{
	struct embed_ctx *x = ud;
	embed_cache_free(x->cache);
	x->cache = embed_cache_new(CACHE_BYTES);
}

static const char check_advice[] =
	"the server computes a text differently beside others (llama-server with --parallel "
	"above 1 and no unified KV cache does): start llama-server with --kv-unified (-kvu) or "
	"--parallel 1 (Ollama: OLLAMA_NUM_PARALLEL=1), or have lanes send one text per request, "
	"one request at a time (embed.batch 1 and llm.concurrency 1, slower); vectors made one "
	"way are not comparable with vectors made the other: embed them again (--force)";

/* Runs --check instead of the filter; returns the exit status. */
static int check(struct run *run, long n)
{
	struct embed_ctx *x = &run->x;
	x->force = 1;
	static const char *const own[] = {"no_text", NULL};
	struct check_spec cs = {
		.n = n, .stage = &stage_table[STAGE_EMBED], .fn = embed_work, .ud = x,
		.between = fresh_cache, .llm = x->emb.llm, .model = x->emb.name,
		.advice = check_advice, .own_codes = own,
	};
	int code = check_run(run->a, &cs);
	report(run);
	tun_free(run->a->tun);
	run->a->tun = NULL;
	return code;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"embed", "llm", NULL};
	struct app a;
	struct llmapp_opts o = {0};
	app_init(&a, "embed", sections, argc, argv, flags, llmapp_on_flag, &o, usage);
	if (a.nargs) {
		log_error("embed reads NDJSON on stdin; '%s' is not an option (use `embed < %s`)",
			  a.args[0], a.args[0]);
		tun_free(a.tun);
		return EXIT_USAGE;
	}
	static struct run run;
	run.a = &a;
	struct embed_ctx *x = &run.x;
	char *model = xstrdup(tun_str(a.tun, "embed.model"));
	char *field = xstrdup(tun_str(a.tun, "embed.field"));
	long batch = tun_int(a.tun, "embed.batch");
	int dim = (int)tun_int(a.tun, "embed.dim");
	int dim_set = tun_is_set(a.tun, "embed.dim");
	int offline = !strcmp(model, "hash");
	char *model_name = offline ? xasprintf("hash-%d", dim) : xstrdup(model);

	/* the dimensions asked of a server are part of the settings when
	 * given (an Ollama server ignores them, the fingerprint does not) */
	char fp[FINGERPRINT_LEN];
	fingerprint_embed(model_name, !offline && dim_set ? dim : 0, field, fp);
	if (o.fingerprint) {
		const char *fields[] = {field};
		int rc = llmapp_print_fingerprint(&a, fp, fields, 1);
		free(model);
		free(field);
		free(model_name);
		tun_free(a.tun);
		return rc;
	}
	x->field = field;
	x->force = o.force;
	x->emb.fingerprint = fp;
	x->emb.model = model;
	x->emb.name = model_name;
	x->emb.digest = "";
	x->emb.batch = (size_t)batch;
	a.batch = (size_t)batch;
	if (offline) {
		x->emb.hash_dim = dim;
		app_size_pool(&a, cpu_count());
		app_log_start(&a, "backend=hash model=%s batch=%ld field=%s fingerprint=%s%s "
			      "requests-in-flight=none (offline, no server)", model_name, batch, field,
			      fp, o.force ? " force" : "");
	} else {
		char extra[32] = "";
		if (dim_set)
			snprintf(extra, sizeof extra, " dimensions=%d", dim);
		llmapp_start(&a, &run.la, LLM_USE_EMBED, model, "batch=%ld field=%s%s fingerprint=%s%s", batch, field,
			     extra, fp, o.force ? " force" : "");
		x->emb.llm = run.la.llm;
		x->emb.digest = run.la.digest;
		if (dim_set && !strcmp(llm_backend_for(x->emb.llm, LLM_USE_EMBED), "openai"))
			x->emb.dim_hint = dim;
		else if (dim_set)
			log_warn("embed.dim sets the size of hash vectors and OpenAI `dimensions`; "
				 "Ollama models have their own size, %d is ignored", dim);
	}
	atomic_init(&x->dim, x->emb.hash_dim > 0 ? x->emb.hash_dim : x->emb.dim_hint);
	x->cache = embed_cache_new(CACHE_BYTES);
	if (o.check) {
		int code = check(&run, o.check);
		embed_cache_free(x->cache);
		free(model);
		free(field);
		free(model_name);
		return code;
	}

	app_start_reporting(&a);
	struct filter *f = filter_new(&a, embed_work, NULL, NULL, &run);
	filter_set_max_bytes(f, (size_t)tun_int(a.tun, "embed.max_inflight_bytes"));
	/* in a pipe behind a slow stage, a part-filled batch goes when the
	 * input pauses instead of waiting to fill */
	filter_set_eager(f, 1);
	filter_read_fd(f, 0, "<stdin>");
	filter_finish(f);
	report(&run);
	int code = app_finish(&a);
	embed_cache_free(x->cache);
	free(model);
	free(field);
	free(model_name);
	return code;
}
