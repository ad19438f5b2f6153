/* Unit tests of ask: the strict answer parsers and the checks of a prompt
 * template (the conversation with a server is tested through classify's
 * verify and triage modes, tests/shell/test_classify.sh). */
#include "t.h"
#include "ask.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_parsers(void)
{
	T_EQ_INT(ask_parse_verdict("YES"), ASK_YES, "YES");
	T_EQ_INT(ask_parse_verdict(" yes.\n"), ASK_YES, "yes. with white space");
	T_EQ_INT(ask_parse_verdict("No"), ASK_NO, "No");
	T_EQ_INT(ask_parse_verdict("UNCERTAIN"), ASK_UNCERTAIN, "UNCERTAIN");
	T_EQ_INT(ask_parse_verdict("Yes, it fits"), -1, "a sentence is refused");
	T_EQ_INT(ask_parse_verdict("YES.."), -1, "two dots refused");
	T_EQ_INT(ask_parse_verdict("MAYBE"), -1, "MAYBE refused");
	T_EQ_INT(ask_parse_verdict(""), -1, "empty refused");
	T_EQ_INT(ask_parse_verdict("\"YES\""), -1, "quotes refused");
	T_EQ_INT(ask_parse_pick("3", 5), 3, "3 of 5");
	T_EQ_INT(ask_parse_pick(" 1.\n", 5), 1, "1. with white space");
	T_EQ_INT(ask_parse_pick("none", 5), 0, "none");
	T_EQ_INT(ask_parse_pick("NONE", 5), 0, "NONE");
	T_EQ_INT(ask_parse_pick("6", 5), -1, "beyond the list");
	T_EQ_INT(ask_parse_pick("0", 5), -1, "zero");
	T_EQ_INT(ask_parse_pick("02", 5), -1, "leading zero");
	T_EQ_INT(ask_parse_pick("2. Software developers", 5), -1, "number with text");
	T_EQ_INT(ask_parse_pick("-1", 5), -1, "negative");
	T_EQ_INT(ask_parse_pick("12", 20), 12, "two digits");
}

static void test_tpl(void)
{
	char dir[] = "/tmp/lanes-test-ask.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	char path[256];
	snprintf(path, sizeof path, "%s/p.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f || fputs("Is {{a}} {{b}}?\nAlso: {{c}}\n", f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
	static const char *const vars[] = {"a", "b", "c"}, *const need[] = {"a", "b"};
	struct ask_tpl_spec spec = {"nosuch-default.txt", "x.prompt", "test", vars, 3, need, 2};
	struct ask_tpl t;
	char err[512];
	T_EQ_INT(ask_tpl_load(&t, path, &spec, err, sizeof err), 0, "a good template loads");
	struct buf out = {0};
	const char *values[] = {"x", "y", ""};
	ask_tpl_render(&t, vars, values, 3, &out);
	T_EQ_STR(out.p, "Is x y?\n", "rendered; the line of an empty placeholder left out");
	buf_free(&out);
	ask_tpl_free(&t);
	spec.nvars = 2;
	T_EQ_INT(ask_tpl_load(&t, path, &spec, err, sizeof err), -1, "an unknown placeholder");
	T_OK(strstr(err, "unknown placeholder {{c}} in a test prompt (known: {{a}} {{b}})") != NULL,
	     "says which and what is known: %s", err);
	static const char *const need3[] = {"a", "d"};
	spec.nvars = 3;
	spec.need = need3;
	T_EQ_INT(ask_tpl_load(&t, path, &spec, err, sizeof err), -1, "a needed placeholder missing");
	T_OK(strstr(err, "has no {{d}} placeholder") != NULL, "says which: %s", err);
	setenv("LANES_PROMPTS", dir, 1);
	T_EQ_INT(ask_tpl_load(&t, "", &spec, err, sizeof err), -1, "no default file");
	T_OK(strstr(err, "cannot find the default prompt nosuch-default.txt") != NULL &&
	     strstr(err, "set x.prompt or $LANES_PROMPTS") != NULL, "says what to set: %s", err);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_parsers();
	test_tpl();
	return t_done();
}
