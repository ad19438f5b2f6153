/* Unit tests of classify_taxonomy: YAML and NDJSON taxonomies, the
 * embedded text, the content hash, and every error with its file:line. */
#include "t.h"
#include "classify_taxonomy.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/lanes-test-tax.XXXXXX";

/* Writes text to dir/name and returns the path (static buffer). */
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

/* Loads text as file name; returns the taxonomy or NULL with err. */
static struct taxonomy *load(const char *name, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return classify_taxonomy_load(put(name, text), err, errlen);
}

static int has(const char *err, const char *want)
{
	if (strstr(err, want))
		return 1;
	printf("# error was: %s\n", err);
	return 0;
}

static void test_yaml(void)
{
	char err[512];
	struct taxonomy *t = load("a.yaml",
				  "# comment\n"
				  "- id: \"1\"\n"
				  "  label: Professionals\n"
				  "- id: 2512\n"
				  "  label: Software developers\n"
				  "  synonyms: [programmer, software engineer]\n"
				  "  description: Write programs.\n"
				  "  examples:\n"
				  "    - Senior Backend Engineer\n"
				  "  parent: \"1\"\n"
				  "- id: 0042\n"
				  "  label: '  Padded  '\n"
				  "  description: ~\n",
				  err, sizeof err);
	T_OK(t != NULL, "YAML list loads");
	if (!t) {
		printf("# %s\n", err);
		return;
	}
	T_EQ_INT(t->n, 3, "three entries");
	T_EQ_STR(t->e[1].id, "2512", "numeric id kept as written");
	T_EQ_STR(t->e[2].id, "0042", "leading zeros kept");
	T_EQ_STR(t->e[2].label, "Padded", "label trimmed");
	T_OK(t->e[2].description == NULL, "~ is no description");
	T_EQ_INT(t->e[1].nsyn, 2, "two synonyms");
	T_EQ_INT(t->e[1].nex, 1, "one example");
	T_EQ_INT(t->e[1].parent_index, 0, "parent linked");
	T_EQ_INT(t->e[1].line, 4, "entry line");
	T_EQ_STR(t->e[1].text, "Software developers; programmer; software engineer\nWrite programs.",
		 "embedded text: label; synonyms, newline, description");
	T_EQ_STR(t->e[0].text, "Professionals", "embedded text of a bare label");
	T_EQ_INT(classify_taxonomy_find(t, "2512"), 1, "find by id");
	T_EQ_INT(classify_taxonomy_find(t, "9999"), -1, "unknown id");
	uint64_t h1 = t->hash, th = t->e[1].text_hash;
	classify_taxonomy_free(t);

	/* the same entries as {entries: [...]} with metadata, in flow style */
	t = load("b.yml",
		 "name: demo\nversion: 3\nentries:\n"
		 "  - {id: \"1\", label: Professionals}\n"
		 "  - {id: 2512, label: Software developers, synonyms: [programmer, software engineer],"
		 " description: Write programs., examples: [Senior Backend Engineer], parent: \"1\"}\n"
		 "  - {id: 0042, label: Padded}\n",
		 err, sizeof err);
	T_OK(t != NULL, "mapping with entries loads");
	if (t) {
		T_OK(t->hash == h1, "same content, same taxonomy hash");
		T_OK(t->e[1].text_hash == th, "same text, same text hash");
		classify_taxonomy_free(t);
	}
	t = load("c.yaml",
		 "- {id: \"1\", label: Professionals}\n"
		 "- {id: 2512, label: Software developers, synonyms: [programmer], "
		 "description: Write programs., examples: [Senior Backend Engineer], parent: \"1\"}\n"
		 "- {id: 0042, label: Padded}\n",
		 err, sizeof err);
	T_OK(t && t->hash != h1, "a dropped synonym changes the taxonomy hash");
	T_OK(t && t->e[1].text_hash != th, "and the entry's text hash");
	T_OK(t && t->e[0].text_hash != 0, "other entries keep theirs");
	classify_taxonomy_free(t);
	t = load("d.yaml",
		 "- {id: \"1\", label: Professionals}\n"
		 "- {id: 2512, label: Software developers, synonyms: [programmer, software engineer], "
		 "description: Write programs., examples: [Another example], parent: \"1\"}\n"
		 "- {id: 0042, label: Padded}\n",
		 err, sizeof err);
	T_OK(t && t->hash != h1, "a changed example changes the taxonomy hash");
	T_OK(t && t->e[1].text_hash == th, "but not the embedded text");
	classify_taxonomy_free(t);
}

static void test_ndjson(void)
{
	char err[512];
	struct taxonomy *t = load("t.ndjson",
				  "{\"id\":\"a\",\"label\":\"Alpha\",\"synonyms\":[\"first\"]}\n"
				  "\n"
				  "{\"id\":7,\"label\":\"Seven\",\"parent\":\"a\",\"description\":null}\n",
				  err, sizeof err);
	T_OK(t != NULL, "NDJSON loads");
	if (!t) {
		printf("# %s\n", err);
		return;
	}
	T_EQ_INT(t->n, 2, "two entries, blank line skipped");
	T_EQ_STR(t->e[1].id, "7", "numeric id as text");
	T_EQ_INT(t->e[1].line, 3, "line number counts blank lines");
	T_EQ_STR(t->e[0].text, "Alpha; first", "text with synonym");
	classify_taxonomy_free(t);
	t = load("noext", "{\"id\":\"x\",\"label\":\"X\"}\n", err, sizeof err);
	T_OK(t && t->n == 1, "sniffed as NDJSON without an extension");
	classify_taxonomy_free(t);
}

static void test_errors(void)
{
	char err[512];
	struct taxonomy *t;
	t = load("dup.yaml", "- {id: a, label: A}\n- {id: b, label: B}\n- {id: a, label: C}\n",
		 err, sizeof err);
	T_OK(!t && has(err, "dup.yaml:3: duplicate id 'a' (first at line 1)"), "duplicate id");
	t = load("empty.yaml", "- id: a\n  label: \"\"\n", err, sizeof err);
	T_OK(!t && has(err, "empty.yaml:1: entry 'a' has an empty label"), "empty label");
	t = load("nolabel.yaml", "- id: a\n- id: b\n  label: B\n", err, sizeof err);
	T_OK(!t && has(err, "nolabel.yaml:1: entry 'a' has an empty label"), "missing label");
	t = load("noid.ndjson", "{\"label\":\"A\"}\n", err, sizeof err);
	T_OK(!t && has(err, "noid.ndjson:1: entry without an id"), "missing id");
	t = load("parent.yaml", "- {id: a, label: A}\n- {id: b, label: B, parent: zz}\n", err,
		 sizeof err);
	T_OK(!t && has(err, "parent.yaml:2: parent 'zz' of entry 'b' is not in the taxonomy"),
	     "unknown parent");
	t = load("loop.yaml", "- {id: a, label: A, parent: b}\n- {id: b, label: B, parent: a}\n",
		 err, sizeof err);
	T_OK(!t && has(err, "loop.yaml:1: the parents of entry 'a' form a loop"), "parent loop");
	/* a loop met from an entry outside it names an entry of the loop */
	t = load("loop2.yaml", "- {id: c, label: C, parent: a}\n- {id: a, label: A, parent: b}\n"
		 "- {id: b, label: B, parent: a}\n", err, sizeof err);
	T_OK(!t && has(err, "loop2.yaml:2: the parents of entry 'a' form a loop"),
	     "a chain into a loop: %s", err);
	t = load("self.yaml", "- {id: a, label: A, parent: a}\n", err, sizeof err);
	T_OK(!t && has(err, "self.yaml:1: the parents of entry 'a' form a loop"), "own parent");
	/* issue 8: aliases were expanded without limit (billion laughs) */
	t = load("alias.yaml", "- &e {id: a, label: A}\n- {id: b, label: B, synonyms: *x}\n",
		 err, sizeof err);
	T_OK(!t && has(err, "alias.yaml:"), "an alias to no anchor is an error: %s", err);
	{
		/* each alias to a 10 KB synonym used to be a 10 KB copy */
		struct buf y = {0};
		buf_puts(&y, "- id: a\n  label: A\n  synonyms: [&s \"");
		for (int k = 0; k < 10000; k++)
			buf_putc(&y, 'x');
		buf_puts(&y, "\"");
		for (int k = 0; k < 1000; k++)
			buf_puts(&y, ", *s");
		buf_puts(&y, "]\n");
		t = load("laughs.yaml", y.p, err, sizeof err);
		T_OK(!t && has(err, "laughs.yaml:3: YAML alias *s: a taxonomy takes no aliases"),
		     "aliases are refused at the first one: %s", err);
		classify_taxonomy_free(t);
		buf_free(&y);
	}
	t = load("docs.yaml", "- {id: a, label: A}\n---\n- {id: b, label: B}\n", err, sizeof err);
	T_OK(!t && has(err, "docs.yaml:2: a second YAML document"), "a second document: %s", err);
	/* a chain of 20000 parents loads (each entry walked once) */
	{
		struct buf y = {0};
		buf_puts(&y, "- {id: e0, label: E0}\n");
		for (int k = 1; k < 20000; k++)
			buf_printf(&y, "- {id: e%d, label: E%d, parent: e%d}\n", k, k, k - 1);
		t = load("chain.yaml", y.p, err, sizeof err);
		T_OK(t && t->n == 20000, "a chain of 20000 parents: %s", t ? "loaded" : err);
		classify_taxonomy_free(t);
		buf_free(&y);
	}
	t = load("key.yaml", "- id: a\n  label: A\n  synonym: [x]\n", err, sizeof err);
	T_OK(!t && has(err, "key.yaml:3: unknown key 'synonym'"), "unknown key, with its line");
	t = load("list.yaml", "- id: a\n  label: A\n  synonyms: x\n", err, sizeof err);
	T_OK(!t && has(err, "list.yaml:3: synonyms must be a list"), "synonyms not a list");
	t = load("syntax.yaml", "- id: a\n  label: [unclosed\n", err, sizeof err);
	T_OK(!t && has(err, "syntax.yaml:") && has(err, "YAML:"), "YAML syntax error");
	t = load("bad.ndjson", "{\"id\":\"a\",\"label\":\"A\"}\n{\"id\":\n", err, sizeof err);
	T_OK(!t && has(err, "bad.ndjson:2:"), "bad JSON line");
	t = load("none.yaml", "# nothing\n", err, sizeof err);
	T_OK(!t && has(err, "none.yaml"), "no entries");
	t = load("scalar.yaml", "just a string\n", err, sizeof err);
	T_OK(!t && has(err, "expected a list"), "not a list");
	err[0] = '\0';
	t = classify_taxonomy_load("/nonexistent/tax.yaml", err, sizeof err);
	T_OK(!t && has(err, "/nonexistent/tax.yaml: cannot read the taxonomy: No such file"),
	     "missing file");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_yaml();
	test_ndjson();
	test_errors();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
