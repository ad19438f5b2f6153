/* Unit tests of classify_run: the class object it writes and when a
 * record already classified is skipped (same taxonomy, embedding model,
 * mode and chat model, not an error). */
#include "t.h"
#include "classify_run.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/lanes-test-run.XXXXXX";

static int done_for(const char *json, const struct classify_run *run)
{
	cJSON *j = cJSON_Parse(json);
	int r = classify_run_class_done(j, run);
	cJSON_Delete(j);
	return r;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/t.yaml", dir);
	FILE *f = fopen(path, "w");
	if (!f || fputs("- {id: a, label: \"Al \\\"pha\\\"\"}\n- {id: b, label: Beta}\n", f) < 0 ||
	    fclose(f))
		return 1;
	struct taxonomy *t = classify_taxonomy_load(path, err, sizeof err);
	T_OK(t != NULL, "taxonomy");
	if (!t)
		return t_done();
	struct embedder emb = {.model = "hash", .name = "hash-8", .digest = "", .hash_dim = 8};
	static struct classify_run run;
	run.tax = t;
	snprintf(run.tax_hex, sizeof run.tax_hex, "0123456789abcdef");
	run.emb = &emb;
	run.model_digest = "";
	run.dec.mode = CLASSIFY_EMBED;
	run.dec.model = "llama3.2:3b";

	struct vec_hit hits[2] = {{0, 0.91234f}, {1, 0.5f}};
	struct classify_decision d = {.status = CLASSIFY_MATCHED, .entry = 0, .score = 0.91234f};
	struct buf b = {0};
	classify_run_class_json(&b, &run, &d, hits, 2, NULL);
	T_EQ_STR(b.p, "{\"label\":\"Al \\\"pha\\\"\",\"id\":\"a\",\"score\":0.9123,\"status\":\"matched\","
		 "\"candidates\":[{\"id\":\"a\",\"label\":\"Al \\\"pha\\\"\",\"score\":0.9123},"
		 "{\"id\":\"b\",\"label\":\"Beta\",\"score\":0.5000}],\"model\":null,"
		 "\"embed_model\":\"hash-8\",\"taxonomy\":\"0123456789abcdef\",\"mode\":\"embed\"}",
		 "class object of embed mode, labels escaped");
	d = (struct classify_decision){.status = CLASSIFY_NO_MATCH, .entry = -1, .score = NAN};
	classify_run_class_json(&b, &run, &d, NULL, 0, NULL);
	T_OK(strstr(b.p, "\"label\":null,\"id\":null,\"score\":null,\"status\":\"no_match\","
			 "\"candidates\":[]") != NULL, "no_match without hits: nulls, no candidates");
	run.dec.mode = CLASSIFY_VERIFY;
	run.model_digest = "abcdef012345";
	emb.digest = "fedcba987654";
	d = (struct classify_decision){.status = CLASSIFY_LLM_NO, .entry = -1, .score = 0.7f};
	classify_run_class_json(&b, &run, &d, hits, 1, NULL);
	T_OK(strstr(b.p, "\"status\":\"llm_no\"") && strstr(b.p, "\"model\":\"llama3.2:3b\","
							     "\"model_digest\":\"abcdef012345\"") &&
	     strstr(b.p, "\"embed_digest\":\"fedcba987654\"") && strstr(b.p, "\"mode\":\"verify\""),
	     "verify: model and digests recorded");
	buf_free(&b);
	emb.digest = "";

	const char *same = "{\"class\":{\"status\":\"llm_yes\",\"taxonomy\":\"0123456789abcdef\","
			   "\"embed_model\":\"hash-8\",\"mode\":\"verify\",\"model\":\"llama3.2:3b\"}}";
	T_OK(done_for(same, &run), "same taxonomy, models, mode: done");
	run.dec.model = "llama3.2:3b";
	T_OK(!done_for("{\"class\":{\"status\":\"error\",\"taxonomy\":\"0123456789abcdef\","
		       "\"embed_model\":\"hash-8\",\"mode\":\"verify\",\"model\":\"llama3.2:3b\"}}",
		       &run), "status error: classified again");
	T_OK(!done_for("{\"class\":{\"status\":\"llm_yes\",\"taxonomy\":\"ffffffffffffffff\","
		       "\"embed_model\":\"hash-8\",\"mode\":\"verify\",\"model\":\"llama3.2:3b\"}}",
		       &run), "another taxonomy: again");
	T_OK(!done_for("{\"class\":{\"status\":\"llm_yes\",\"taxonomy\":\"0123456789abcdef\","
		       "\"embed_model\":\"hash-16\",\"mode\":\"verify\",\"model\":\"llama3.2:3b\"}}",
		       &run), "another embedding model: again");
	T_OK(!done_for("{\"class\":{\"status\":\"matched\",\"taxonomy\":\"0123456789abcdef\","
		       "\"embed_model\":\"hash-8\",\"mode\":\"embed\",\"model\":null}}", &run),
	     "another mode: again");
	T_OK(!done_for("{\"class\":{\"status\":\"llm_yes\",\"taxonomy\":\"0123456789abcdef\","
		       "\"embed_model\":\"hash-8\",\"mode\":\"verify\",\"model\":\"qwen2.5:7b\"}}",
		       &run), "another chat model: again");
	T_OK(!done_for("{\"class\":\"x\"}", &run) && !done_for("{\"text\":\"x\"}", &run),
	     "no class object: again");
	run.dec.model = "llama3.2:3b:latest";
	T_OK(!done_for(same, &run), "a tag is part of the name");
	run.dec.model = "llama3.2:3b";
	run.dec.mode = CLASSIFY_EMBED;
	T_OK(done_for("{\"class\":{\"status\":\"no_match\",\"taxonomy\":\"0123456789abcdef\","
		      "\"embed_model\":\"hash-8\",\"mode\":\"embed\",\"model\":null}}", &run),
	     "embed mode ignores the chat model");

	classify_taxonomy_free(t);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
