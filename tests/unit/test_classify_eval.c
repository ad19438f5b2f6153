/* Unit tests of classify_eval: accuracy, coverage and precision, status
 * counts, confused pairs in order, and the JSON report. */
#include "t.h"
#include "classify_eval.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/lanes-test-eval.XXXXXX";

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/t.yaml", dir);
	FILE *f = fopen(path, "w");
	if (!f || fputs("- {id: a, label: Alpha}\n- {id: b, label: Beta}\n- {id: c, label: Gamma}\n",
			f) < 0 || fclose(f))
		return 1;
	struct taxonomy *t = classify_taxonomy_load(path, err, sizeof err);
	T_OK(t != NULL, "taxonomy");
	if (!t)
		return t_done();
	struct classify_eval *ev = classify_eval_new(t);
	classify_eval_add(ev, 0, 0, CLASSIFY_MATCHED);       /* right */
	classify_eval_add(ev, 0, 1, CLASSIFY_MATCHED);       /* a -> b */
	classify_eval_add(ev, 0, 1, CLASSIFY_LLM_YES);       /* a -> b again */
	classify_eval_add(ev, 2, -1, CLASSIFY_NO_MATCH);     /* c -> none */
	classify_eval_add(ev, -1, -1, CLASSIFY_LLM_NO);      /* none, right */
	classify_eval_add(ev, -1, 2, CLASSIFY_MATCHED);      /* none -> c */
	classify_eval_add(ev, 1, -1, CLASSIFY_LLM_UNCERTAIN); /* b -> none */
	classify_eval_add(ev, 1, 1, CLASSIFY_LLM_YES);       /* right */
	classify_eval_skip(ev);
	struct classify_eval_figures fg;
	classify_eval_figures(ev, &fg);
	T_EQ_INT(fg.items, 8, "items");
	T_EQ_INT(fg.correct, 3, "correct (a, none, b)");
	T_EQ_INT(fg.labelled, 5, "labelled");
	T_EQ_INT(fg.labelled_correct, 2, "labelled and right");
	T_EQ_INT(fg.skipped, 1, "left out");
	T_OK(fg.accuracy == 3.0 / 8 && fg.coverage == 5.0 / 8 && fg.precision == 2.0 / 5,
	     "ratios");
	T_EQ_INT(fg.status[CLASSIFY_MATCHED], 3, "matched count");
	T_EQ_INT(fg.status[CLASSIFY_LLM_YES], 2, "llm_yes count");

	struct classify_eval_info info = {path, "0123456789abcdef", "verify", "m", "hash-384", 0.5, 5};
	char *jpath = xasprintf("%s/r.json", dir);
	FILE *out = fopen(jpath, "w+");
	T_EQ_INT(classify_eval_report(ev, &info, 1, 2, out), 0, "JSON report written");
	rewind(out);
	char text[4096] = "";
	size_t n = fread(text, 1, sizeof text - 1, out);
	text[n] = '\0';
	fclose(out);
	cJSON *j = cJSON_Parse(text);
	T_OK(j != NULL, "the report is JSON");
	const cJSON *conf = cJSON_GetObjectItem(j, "confused");
	T_EQ_INT(cJSON_GetArraySize(conf), 2, "two pairs shown (max_pairs)");
	const cJSON *p0 = cJSON_GetArrayItem(conf, 0);
	T_EQ_STR(cJSON_GetObjectItem(p0, "gold")->valuestring, "a", "most confused: gold a");
	T_EQ_STR(cJSON_GetObjectItem(p0, "predicted")->valuestring, "b", "predicted b");
	T_EQ_INT(cJSON_GetObjectItem(p0, "count")->valueint, 2, "twice");
	const cJSON *p1 = cJSON_GetArrayItem(conf, 1);
	T_OK(cJSON_IsNull(cJSON_GetObjectItem(p1, "gold")), "then: gold none (-1 sorts first)");
	T_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "status"), "llm_no")->valueint, 1,
		 "status counts in JSON");
	T_OK(cJSON_GetObjectItem(j, "accuracy")->valuedouble == 0.375, "accuracy in JSON");
	cJSON_Delete(j);

	out = fopen(jpath, "w+");
	T_EQ_INT(classify_eval_report(ev, &info, 0, 10, out), 0, "text report written");
	rewind(out);
	n = fread(text, 1, sizeof text - 1, out);
	text[n] = '\0';
	fclose(out);
	T_OK(strstr(text, "accuracy   0.3750  (3 of 8 right") != NULL, "text: accuracy");
	T_OK(strstr(text, "coverage   0.6250  (5 of 8 given a label)") != NULL, "text: coverage");
	T_OK(strstr(text, "  2: a Alpha -> b Beta\n") != NULL, "text: confused pair");
	T_OK(strstr(text, "(none) -> c Gamma") != NULL, "text: none -> c");

	free(jpath);
	classify_eval_free(ev);
	classify_taxonomy_free(t);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
