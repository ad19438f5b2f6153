/* Unit tests of classify_decide: template
 * checks (their rendering is in test_template.c), and the decisions that
 * need no LLM (embed mode, below the threshold). */
#include "t.h"
#include "classify_decide.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/lanes-test-decide.XXXXXX";

static const char *put(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
	return path;
}

static void test_templates(void)
{
	char err[512];
	struct ask_tpl t;
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_VERIFY, put("v.txt", "{{text}} / {{label}} / {{parent}}"), err,
			     sizeof err), 0, "verify template loads");
	ask_tpl_free(&t);
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_VERIFY, put("v2.txt", "{{text}} / {{candidates}}"), err,
			     sizeof err), -1, "candidates is not a verify placeholder");
	T_OK(strstr(err, "unknown placeholder {{candidates}}") != NULL, "says which: %s", err);
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_VERIFY, put("v3.txt", "{{text}} only"), err, sizeof err), -1,
		 "verify needs {{label}}");
	T_OK(strstr(err, "no {{label}}") != NULL, "says so: %s", err);
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_TRIAGE, put("t.txt", "{{candidates}}"), err, sizeof err), -1,
		 "triage needs {{text}}");
	T_OK(strstr(err, "no {{text}}") != NULL, "says so: %s", err);
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_TRIAGE, put("t2.txt", "{{text}}\n{{candidates}} {{count}}"), err,
			     sizeof err), 0, "triage template loads");
	ask_tpl_free(&t);
	T_EQ_INT(classify_decide_tpl_load(&t, CLASSIFY_TRIAGE, "/nonexistent/p.txt", err, sizeof err), -1,
		 "missing file");
	T_OK(strstr(err, "/nonexistent/p.txt: cannot read") != NULL, "names it: %s", err);
}

static void test_decide_offline(void)
{
	struct classify_decider d = {.mode = CLASSIFY_EMBED, .threshold = 0.5, .answer_attempts = 3};
	struct vec_hit hits[2] = {{7, 0.8f}, {3, 0.4f}};
	struct classify_decision out;
	classify_decide(&d, "x", hits, 2, &out);
	T_OK(out.status == CLASSIFY_MATCHED && out.entry == 7 && out.score == 0.8f, "embed: matched");
	d.threshold = 0.9;
	classify_decide(&d, "x", hits, 2, &out);
	T_OK(out.status == CLASSIFY_NO_MATCH && out.entry == -1 && out.score == 0.8f,
	     "embed: below the threshold is no_match with the best score");
	d.mode = CLASSIFY_VERIFY;
	classify_decide(&d, "x", hits, 2, &out);
	T_OK(out.status == CLASSIFY_NO_MATCH && out.requests == 0,
	     "verify below the threshold: no_match without a request");
	classify_decide(&d, "x", hits, 0, &out);
	T_OK(out.status == CLASSIFY_NO_MATCH && isnan(out.score), "no hits: no_match, no score");
	T_OK(classify_decide_labelled(CLASSIFY_MATCHED) && classify_decide_labelled(CLASSIFY_LLM_YES) &&
	     !classify_decide_labelled(CLASSIFY_LLM_NO) && !classify_decide_labelled(CLASSIFY_LLM_UNCERTAIN),
	     "labelled statuses");
	T_EQ_STR(classify_status_name[CLASSIFY_LLM_UNCERTAIN], "llm_uncertain", "status names");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_templates();
	test_decide_offline();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
