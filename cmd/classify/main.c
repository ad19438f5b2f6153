/* classify: maps each record's text onto a taxonomy: a shortlist by cosine
 * similarity of embeddings, then a threshold (embed mode) or an LLM check
 * (verify, triage); adds `class`. With --eval GOLD it scores itself on a
 * gold set instead. NDJSON in, NDJSON out; see man/classify.1. */
#include "app.h"
#include "classify_run.h"
#include "classify_setup.h"
#include "filter.h"

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

enum { OPT_EVAL = 1, OPT_JSON };

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
	{"examples", 0, 1, "classify.examples", 0, "HOW",
	 "shortlist: an entry scores the best of its text and examples; prompt: examples only in the prompt"},
	{"answer-attempts", 0, 1, "classify.answer_attempts", 0, "N",
	 "answers asked for per item when they are invalid"},
	{"max-tokens", 0, 1, "classify.max_tokens", 0, "N", "longest answer in tokens"},
	{"prompt-verify", 0, 1, "classify.prompt_verify", 0, "FILE", "prompt template of verify"},
	{"prompt-triage", 0, 1, "classify.prompt_triage", 0, "FILE", "prompt template of triage"},
	LLMAPP_FLAGS("classify"),
	{"eval", 0, 1, NULL, OPT_EVAL, "GOLD", "score a gold set (- = stdin) and print a report"},
	{"json", 0, 0, NULL, OPT_JSON, NULL, "print the --eval report as JSON"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

struct opts {
	const char *eval;
	int json;
	struct llmapp_opts llm;
};

static int on_flag(int id, const char *arg, void *ud)
{
	struct opts *o = ud;
	if (id == OPT_EVAL)
		o->eval = arg;
	else if (id == OPT_JSON)
		o->json = 1;
	else
		llmapp_flag(&o->llm, id);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"classify", "llm", NULL};
	static struct classify_setup s;
	static struct classify_run run;
	struct app a;
	struct opts o = {0};
	app_init(&a, "classify", sections, argc, argv, flags, on_flag, &o, usage);
	int rc = classify_setup_read(&a, &s, o.eval, o.json, o.llm.force);
	if (!rc && o.llm.fingerprint) {
		const char *fields[] = {s.field};
		rc = llmapp_print_fingerprint(&a, s.fingerprint, fields, 1);
		return classify_setup_exit(&a, &s, rc);
	}
	if (!rc)
		rc = classify_setup_start(&a, &s);
	if (!rc)
		rc = classify_setup_index(&a, &s);
	if (rc)
		return classify_setup_exit(&a, &s, rc);
	classify_setup_run(&a, &s, &run);

	app_start_reporting(&a);
	struct filter *f = filter_new(&a, classify_run_job, classify_run_emitted, NULL, &run);
	/* in a pipe behind a slow stage, a part-filled batch goes when the
	 * input pauses instead of waiting to fill */
	filter_set_eager(f, 1);
	filter_read_fd(f, s.in_fd, s.in_name);
	filter_finish(f);
	classify_setup_report(&a, &s, &run);
	classify_setup_free(&s);
	return app_finish(&a);
}
