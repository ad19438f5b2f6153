/* Unit tests of common/stage.c: model names (and the server's model list
 * read by the same rule), the stamp of a stage's result
 * and writing a result with its stamp. */
#include "llm_wire.h"
#include "stage.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>

static const struct stage *const keys = &stage_table[STAGE_MINE];

static void test_same_model(void)
{
	T_OK(stage_same_model("nomic-embed-text", "nomic-embed-text:latest"),
	     ":latest is the same model");
	T_OK(stage_same_model("m:latest", "m"), "both ways");
	T_OK(!stage_same_model("m:v1", "m"), "another tag is another model");
	T_OK(!stage_same_model("llama3.2", "llama3.2:3b"), "an untagged name is not any tag");
	T_OK(!stage_same_model("llama3.2:3b:latest", "llama3.2:3b"), "a tag is part of the name");
	T_OK(!stage_same_model("hash-384", "hash-256"), "hash dims differ");
	/* the other spelling, for the store's SQL: each alias is the same model */
	char al[32];
	T_EQ_STR(stage_model_alias("m", al, sizeof al), "m:latest", "alias of m");
	T_EQ_STR(stage_model_alias("m:latest", al, sizeof al), "m", "alias of m:latest");
	T_EQ_STR(stage_model_alias("m:v1", al, sizeof al), "m:v1", "another tag: itself");
	T_EQ_STR(stage_model_alias("a:b:latest", al, sizeof al), "a:b:latest",
		 "a tag is part of the name: itself");
	T_EQ_STR(stage_model_alias("nomic-embed-text-v1.5", al, 8), "nomic-embed-text-v1.5",
		 "too long for out: itself");
	T_OK(stage_same_model("m", stage_model_alias("m", al, sizeof al)), "alias is the same model");
	/* the server's model list follows the same rule for an untagged name */
	cJSON *list = cJSON_Parse("{\"models\":[{\"name\":\"m:latest\",\"digest\":\"abcdef\"},"
				  "{\"name\":\"t\"}]}");
	char info[32] = "";
	struct buf have = {0};
	T_OK(llm_wire_model_listed(&llm_ollama_wire, list, "m", info, sizeof info, &have),
	     "listed: m is m:latest");
	T_EQ_STR(info, "abcdef", "listed: its digest");
	T_OK(llm_wire_model_listed(&llm_ollama_wire, list, "m:latest", info, sizeof info, &have),
	     "listed: m:latest as it is");
	T_OK(!llm_wire_model_listed(&llm_ollama_wire, list, "t:latest", info, sizeof info, &have),
	     "listed: a tagged request must be listed as it is");
	T_OK(!llm_wire_model_listed(&llm_ollama_wire, list, "m:v1", info, sizeof info, &have),
	     "listed: another tag is another model");
	buf_free(&have);
	cJSON_Delete(list);
}

static int stamped_fp(const char *rec, const char *model, const char *digest, const char *fp)
{
	cJSON *j = cJSON_Parse(rec);
	struct stage_stamp run = {model, digest, fp, NULL};
	int done = stage_stamped(keys, j, &run);
	cJSON_Delete(j);
	return done;
}

static int stamped(const char *rec, const char *model, const char *digest)
{
	return stamped_fp(rec, model, digest, NULL);
}

static void test_stamped(void)
{
	const char *r = "{\"mined\":{},\"mined_model\":\"m\",\"mined_digest\":\"abc\"}";
	T_OK(stamped(r, "m:latest", NULL), "the same model, the server has no digest");
	T_OK(stamped(r, "m", "abc"), "the same digest");
	T_OK(!stamped(r, "m", "abd"), "another digest: the model changed under its name");
	T_OK(!stamped(r, "n", ""), "another model");
	T_OK(stamped("{\"mined_model\":\"m\"}", "m", "abc"), "no digest in the record");
	T_OK(!stamped("{\"mined_model\":1}", "m", ""), "a model that is not a string");
	T_OK(!stamped("{}", "m", ""), "no stamp");
	const char *f = "{\"mined_model\":\"m\",\"mined_fingerprint\":\"00000000000000aa\"}";
	T_OK(stamped_fp(f, "m", "", "00000000000000aa"), "the same fingerprint");
	T_OK(!stamped_fp(f, "m", "", "00000000000000ab"), "another fingerprint: other settings, stale");
	T_OK(stamped_fp("{\"mined_model\":\"m\"}", "m", "", "00000000000000ab"),
	     "no fingerprint in the record: not known to be stale");
}

/* Runs stage_set (val non-NULL) or stage_pass_done on record line and
 * checks the outcome and the output line. */
static void run(const char *line, const char *val, const char *digest, const char *want,
		const char *what)
{
	struct rec r = {0};
	r.line = xstrdup(line);
	r.len = strlen(line);
	r.json = cJSON_Parse(line);
	r.outcome = REC_FAILED;
	struct stage_stamp stamp = {"m", digest, NULL, NULL};
	if (val)
		stage_set(keys, &r, val, strlen(val), &stamp);
	else
		stage_pass_done(keys, &r);
	T_OK(r.outcome == (val ? REC_OK : REC_SKIPPED) && r.out.p && !strcmp(r.out.p, want),
	     "%s (got %.*s)", what, r.out.len ? (int)r.out.len - 1 : 7,
	     r.out.p ? r.out.p : "nothing");
	buf_free(&r.out);
	cJSON_Delete(r.json);
	free(r.line);
}

static void set(const char *line, const char *val, const char *digest, const char *want,
		const char *what)
{
	run(line, val, digest, want, what);
}

static void pass_done(const char *line, const char *want, const char *what)
{
	run(line, NULL, NULL, want, what);
}

static void test_set(void)
{
	struct rec r = {0};
	r.line = xstrdup("{\"id\":1}");
	r.len = strlen(r.line);
	r.json = cJSON_Parse(r.line);
	struct stage_stamp full = {"m", "d", "00000000000000aa", "00000000000000bb"};
	stage_set(keys, &r, "2", 1, &full);
	T_EQ_STR(r.out.p, "{\"id\":1,\"mined\":2,\"mined_model\":\"m\",\"mined_digest\":\"d\","
		 "\"mined_fingerprint\":\"00000000000000aa\",\"mined_input\":\"00000000000000bb\"}\n",
		 "the whole stamp: model, digest, fingerprint, input");
	buf_free(&r.out);
	cJSON_Delete(r.json);
	free(r.line);
	set("{\"id\":1,\"n\":1.50}", "{\"a\":1}", "abc",
	    "{\"id\":1,\"n\":1.50,\"mined\":{\"a\":1},\"mined_model\":\"m\",\"mined_digest\":\"abc\"}\n",
	    "result and stamp added, other members as written");
	set("{\"mined\":0,\"mined_model\":\"x\",\"mined_digest\":\"d\",\"id\":1}", "[]", "",
	    "{\"mined\":[],\"mined_model\":\"m\",\"id\":1}\n",
	    "replaced in place; the digest goes when the server has none");
	set("{\"id\":1,\"errors\":{\"mine\":{\"code\":\"x\"},\"embed\":{\"code\":\"y\"}}}", "1", NULL,
	    "{\"id\":1,\"errors\":{\"embed\":{\"code\":\"y\"}},\"mined\":1,\"mined_model\":\"m\"}\n",
	    "the stage's earlier error goes, others stay");
}

static void test_pass_done(void)
{
	pass_done("{\"id\":1, \"mined\":{}}", "{\"id\":1, \"mined\":{}}\n",
		  "a done record passes byte for byte");
	pass_done("{\"id\":1,\"mined\":{},\"errors\":{\"mine\":{\"code\":\"x\",\"failures\":2}}}",
		  "{\"id\":1,\"mined\":{}}\n",
		  "the error of a run with another model goes: the result is this run's");
	pass_done("{\"id\":1,\"errors\":{\"mine\":{},\"embed\":{\"code\":\"y\"}}}",
		  "{\"id\":1,\"errors\":{\"embed\":{\"code\":\"y\"}}}\n", "other stages' errors stay");
}

static void test_table(void)
{
	T_OK(stage_find("embed", 5) == &stage_table[STAGE_EMBED], "stage_find by name");
	T_OK(stage_find("embedding", 9) == NULL, "a result's name is not a stage");
	T_OK(stage_find("mine", 3) == NULL, "the length counts");
	for (size_t k = 0; k < STAGE_COUNT; k++) {
		const struct stage *st = &stage_table[k];
		T_OK(st->name && st->result, "stage %zu has a name and a result", k);
		T_OK(k == STAGE_SEGMENT ? !st->derived && !st->model : st->derived && st->model,
		     "%s: derived from the text, with a model, unless it is segment", st->name);
	}
	T_EQ_STR(stage_table[STAGE_MINE].digest, "mined_digest", "mine's digest member");
	T_OK(stage_table[STAGE_CLASSIFY].nested && stage_table[STAGE_EMBED].vector,
	     "class nests its stamp; embed's result is a vector");
}

int main(void)
{
	test_table();
	test_pass_done();
	test_same_model();
	test_stamped();
	test_set();
	return t_done();
}
