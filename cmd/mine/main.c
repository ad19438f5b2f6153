/* mine: asks a chat model for a JSON object about each record's text,
 * through a prompt template and a JSON schema, and adds the validated
 * answer as `mined` (with `mined_model`, `mined_digest`). NDJSON in, NDJSON
 * out; see man/mine.1. */
#include "app.h"
#include "check.h"
#include "filter.h"
#include "fingerprint.h"
#include "llmapp.h"
#include "log.h"
#include "mine_files.h"
#include "mine_record.h"
#include "prompts.h"
#include "stage.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: mine [options] < records.ndjson > mined.ndjson\n"
	"Sends each record through a prompt template to a chat model, asks for a\n"
	"JSON object that follows a schema, validates it and adds it to the record\n"
	"as \"mined\" (with \"mined_model\" and the fingerprint of the settings). Records\n"
	"already mined by the same model and settings are passed on untouched. Default template and schema: mine.txt and\n"
	"mine.schema.json from $LANES_PROMPTS, ../share/lanes/prompts next to the\n"
	"binary, or the source tree's pipelines/prompts. --check N asks about the first N\n"
	"records one at a time and then as a run would, and says whether the server\n"
	"gives the same answers both ways (writing no records).\n";

static const struct app_flag flags[] = {
	{"model", 'm', 1, "mine.model", 0, "NAME", "chat model"},
	{"prompt", 'p', 1, "mine.prompt", 0, "FILE", "prompt template (default mine.txt)"},
	{"schema", 's', 1, "mine.schema", 0, "FILE", "JSON schema of the answer (default mine.schema.json)"},
	{"field", 0, 1, "mine.field", 0, "NAME", "record field that {{text}} reads (default text)"},
	{"max-tokens", 0, 1, "mine.max_tokens", 0, "N", "longest answer in tokens"},
	{"answer-attempts", 0, 1, "mine.answer_attempts", 0, "N",
	 "answers asked for per record when they are invalid"},
	{"url", 0, 1, "llm.base_url", 0, "URL", "server address (OpenAI-compatible: ending in /v1)"},
	LLMAPP_FLAGS("mine"),
	CHECK_FLAG("mine"),
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* The file named by tunable key, or the default name; NULL (and a message)
 * when it is not there. */
static char *find_file(struct app *a, const char *key, const char *def, const char *what)
{
	const char *name = tun_str(a->tun, key);
	struct buf tried = {0};
	char *path = prompt_find(*name ? name : def, *name != '\0', &tried);
	if (!path) {
		log_error("cannot find the %s '%s' (tried %s): give one with --%s FILE or set "
			  "LANES_PROMPTS to the directory holding it", what, *name ? name : def,
			  tried.len ? tried.p : "nothing", strchr(key, '.') + 1);
	}
	buf_free(&tried);
	return path;
}

static void work(struct job *job, int worker, void *ud)
{
	(void)worker;
	for (size_t i = 0; i < job->n; i++)
		if (job->recs[i].outcome != REC_REJECTED)
			mine_record(ud, &job->recs[i]);
}

static const char check_advice[] =
	"at temperature 0 with a seed an answer should not depend on what else the server "
	"computes, but llama-server with --parallel above 1 and no unified KV cache computes "
	"a request differently beside others: start it with --kv-unified (-kvu) or --parallel 1 "
	"(Ollama: OLLAMA_NUM_PARALLEL=1), or have lanes send one request at a time "
	"(llm.concurrency 1, slower); answers made one way may not be what the other gives: "
	"mine them again (--force) if that matters";

/* Runs --check instead of the filter; returns the exit status. */
static int check(struct app *a, struct mine_cfg *cfg, long n)
{
	double temp = tun_float(a->tun, "llm.temperature");
	long seed = tun_int(a->tun, "llm.seed");
	if (temp != 0 || seed < 0)
		log_warn("check: llm.temperature is %g and llm.seed %ld: answers vary by design; "
			 "check with llm.temperature 0 and a seed (LANES_LLM_TEMPERATURE=0)",
			 temp, seed);
	cfg->force = 1;
	static const char *const own[] = {"missing_field", NULL};
	struct check_spec cs = {
		.n = n, .stage = &stage_table[STAGE_MINE], .fn = work, .ud = cfg,
		.llm = cfg->llm, .model = cfg->model, .advice = check_advice, .own_codes = own,
	};
	return check_run(a, &cs);
}

/* Ends the run before the pipeline starts: frees what app_init made. */
static int early_end(struct app *a, int code)
{
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"mine", "llm", NULL};
	struct app a;
	struct llmapp_opts o = {0};
	app_init(&a, "mine", sections, argc, argv, flags, llmapp_on_flag, &o, usage);
	if (a.nargs) {
		log_error("unexpected argument '%s': mine reads records on stdin (try --help)",
			  a.args[0]);
		return early_end(&a, EXIT_USAGE);
	}

	char err[1024];
	char *prompt_path = find_file(&a, "mine.prompt", "mine.txt", "prompt template");
	char *schema_path = prompt_path ? find_file(&a, "mine.schema", "mine.schema.json", "schema")
				       : NULL;
	char *schema_text = NULL;
	struct jschema *schema = NULL;
	struct tpl *tpl = NULL;
	if (prompt_path && schema_path) {
		if (!(tpl = mine_load_template(prompt_path, err, sizeof err)))
			log_error("prompt template %s", err);
		else if (!(schema = mine_load_schema(schema_path, &schema_text, err, sizeof err)))
			log_error("schema %s", err);
	}
	if (!tpl || !schema) {
		tpl_free(tpl);
		free(prompt_path);
		free(schema_path);
		return early_end(&a, EXIT_USAGE);
	}

	char *model = xstrdup(tun_str(a.tun, "mine.model"));
	char *text_field = xstrdup(tun_str(a.tun, "mine.field"));
	struct mine_cfg cfg = {
		.model = model,
		.tpl = tpl,
		.schema = schema,
		.schema_text = schema_text,
		.text_field = text_field,
		.max_tokens = tun_int(a.tun, "mine.max_tokens"),
		.answer_attempts = (int)tun_int(a.tun, "mine.answer_attempts"),
	};
	struct buf fields = {0};
	tpl_fields(tpl, text_field, &fields);
	cfg.force = o.force;
	fingerprint_fields_split(fields.p, &cfg.fields, &cfg.nfields);
	size_t src_len = 0;
	char *src = read_file(prompt_path, &src_len);
	fingerprint_mine(model, src ? src : "", schema_text, text_field,
			 tun_float(a.tun, "llm.temperature"), tun_int(a.tun, "llm.seed"),
			 cfg.fingerprint);
	free(src);
	int code;
	if (o.fingerprint) {
		code = early_end(&a, llmapp_print_fingerprint(&a, cfg.fingerprint,
							      (const char *const *)cfg.fields,
							      cfg.nfields));
		buf_free(&fields);
		goto out;
	}
	struct llmapp la;
	llmapp_start(&a, &la, LLM_USE_CHAT, model, "prompt=%s schema=%s fields=%s%s max_tokens=%ld "
		     "answer_attempts=%d fingerprint=%s%s", prompt_path, schema_path,
		     fields.len ? fields.p : "none",
		     tpl_uses(tpl, "schema") ? "" : " (schema not in the prompt)", cfg.max_tokens,
		     cfg.answer_attempts, cfg.fingerprint, cfg.force ? " force" : "");
	buf_free(&fields);
	cfg.llm = la.llm;
	cfg.log = la.log;
	cfg.digest = la.digest;
	if (o.check) {
		code = check(&a, &cfg, o.check);
		llmapp_finish(&a, &la);
		early_end(&a, code);
		goto out;
	}

	app_start_reporting(&a);
	struct filter *f = filter_new(&a, work, NULL, NULL, &cfg);
	filter_read_fd(f, 0, "<stdin>");
	filter_finish(f);
	llmapp_finish(&a, &la);
	log_event("answers: %ld invalid; records saved by the feedback turn %ld, by a plain "
		  "retry %ld", atomic_load(&cfg.invalid_answers), atomic_load(&cfg.fixed),
		  atomic_load(&cfg.later));
	code = app_finish(&a);
out:
	fingerprint_fields_free(cfg.fields, cfg.nfields);
	tpl_free(tpl);
	jschema_free(schema);
	free(schema_text);
	free(model);
	free(text_field);
	free(prompt_path);
	free(schema_path);
	return code;
}
