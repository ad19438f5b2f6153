/* consolidate: merges the entities that mined records mention (people,
 * organisations, jargon, any list of the mined object) across segments and
 * documents into one entity each, with its aliases and mentions, and
 * writes the entities that changed as NDJSON. With --entities FILE it
 * goes on from an earlier run; with --eval GOLD it scores itself on a
 * labelled set instead. See man/consolidate.1. */
#include "app.h"
#include "consolidate_run.h"
#include "filter.h"

static const char usage[] =
	"Usage: consolidate [--entities FILE] [options] < mined.ndjson > entities.ndjson\n"
	"       consolidate --eval GOLD [--json] [options]\n"
	"Merges the entities of the mined records' lists (people, organisations,\n"
	"jargon by default) into one entity each: the same name once normalised,\n"
	"partial names and initials (Dr. Moreau, C. Moreau), acronyms (WHO), then\n"
	"names whose embeddings are close (above --threshold); --mode verify asks\n"
	"the chat model about the uncertain band below it. Writes the entities that\n"
	"are new or changed: {id, list, kind, name, aliases, docs, mentions: [{record,\n"
	"doc, name, quote, t0, t1, ...}]}. --eval scores grouping against gold labels\n"
	"(pairwise precision and recall).\n";

enum { OPT_EVAL = 1, OPT_JSON, OPT_ALL };

static const struct app_flag flags[] = {
	{"lists", 0, 1, "consolidate.lists", 0, "LIST,...",
	 "lists of `mined` to consolidate: LIST[:FIELD][=KIND]"},
	{"entities", 0, 1, "consolidate.entities", 0, "FILE",
	 "entities of an earlier run to go on from (NDJSON)"},
	{"mode", 'm', 1, "consolidate.mode", 0, "MODE", "embed, or verify (LLM checks the uncertain band)"},
	{"threshold", 0, 1, "consolidate.threshold", 0, "X",
	 "cosine of two names from which they are merged"},
	{"uncertain", 0, 1, "consolidate.uncertain", 0, "X",
	 "cosine from which, below the threshold, verify asks the LLM"},
	{"model", 0, 1, "consolidate.model", 0, "NAME", "chat model (verify)"},
	{"embed-model", 'e', 1, "consolidate.embed_model", 0, "NAME",
	 "embedding model, or `hash` for the offline embedder"},
	{"dim", 0, 1, "consolidate.dim", 0, "N", "size of hash vectors; `dimensions` asked of OpenAI"},
	{"batch", 0, 1, "consolidate.batch", 0, "N", "names per embedding request"},
	{"prompt", 0, 1, "consolidate.prompt", 0, "FILE", "prompt template of verify"},
	{"answer-attempts", 0, 1, "consolidate.answer_attempts", 0, "N",
	 "answers asked for per pair when they are invalid"},
	{"max-tokens", 0, 1, "consolidate.max_tokens", 0, "N", "longest answer in tokens"},
	{"all", 0, 0, NULL, OPT_ALL, NULL, "write every entity, not only new or changed ones"},
	{"eval", 0, 1, NULL, OPT_EVAL, "GOLD", "score a labelled set (- = stdin) and print a report"},
	{"json", 0, 0, NULL, OPT_JSON, NULL, "print the --eval report as JSON"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

struct opts {
	const char *eval;
	int json, all;
};

static int on_flag(int id, const char *arg, void *ud)
{
	struct opts *o = ud;
	if (id == OPT_EVAL)
		o->eval = arg;
	else if (id == OPT_JSON)
		o->json = 1;
	else if (id == OPT_ALL)
		o->all = 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"consolidate", "llm", NULL};
	static struct consolidate_run run;
	struct app a;
	struct opts o = {0};
	app_init(&a, "consolidate", sections, argc, argv, flags, on_flag, &o, usage);
	/* jobs of 16 records (sent part-filled when the input waits) */
	a.batch = 16;
	int rc = consolidate_run_setup(&a, &run, o.eval, o.json, o.all);
	if (rc) {
		consolidate_run_free(&run);
		if (a.rejects)
			fclose(a.rejects);
		tun_free(a.tun);
		return rc;
	}
	app_start_reporting(&a);
	run.f = filter_new(&a, consolidate_run_job, consolidate_run_emitted,
			   consolidate_run_idle, &run);
	/* records are read as they come, not held until a job fills */
	filter_set_eager(run.f, 1);
	filter_read_fd(run.f, run.in_fd, run.in_name);
	atomic_store(&run.input_done, 1);
	filter_finish(run.f);
	consolidate_run_finish(&run);
	return app_finish(&a);
}
