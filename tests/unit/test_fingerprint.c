/* Unit tests of common/fingerprint.c: what changes a stage's fingerprint
 * and what does not, the input hash, and the spec that --fingerprint
 * prints and store pending reads. */
#include "fingerprint.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static void test_mine(void)
{
	char a[FINGERPRINT_LEN], b[FINGERPRINT_LEN];
	fingerprint_mine("m", "Facts of {{text}}", "{\"type\":\"object\"}", "text", 0, 42, a);
	T_EQ_INT((long)strlen(a), 16, "16 hex digits");
	fingerprint_mine("m:latest", "Facts of {{text}}", "{\"type\":\"object\"}", "text", 0, 42, b);
	T_EQ_STR(a, b, "m is m:latest");
	fingerprint_mine("m", "Facts about {{text}}", "{\"type\":\"object\"}", "text", 0, 42, b);
	T_OK(strcmp(a, b) != 0, "another template");
	fingerprint_mine("m", "Facts of {{text}}", "{\"type\":\"object\",\"x\":1}", "text", 0, 42, b);
	T_OK(strcmp(a, b) != 0, "another schema");
	fingerprint_mine("n", "Facts of {{text}}", "{\"type\":\"object\"}", "text", 0, 42, b);
	T_OK(strcmp(a, b) != 0, "another model");
	fingerprint_mine("m", "Facts of {{text}}", "{\"type\":\"object\"}", "body", 0, 42, b);
	T_OK(strcmp(a, b) != 0, "another field");
	fingerprint_mine("m", "Facts of {{text}}", "{\"type\":\"object\"}", "text", 0.5, 42, b);
	T_OK(strcmp(a, b) != 0, "another temperature");
	fingerprint_mine("m", "Facts of {{text}}", "{\"type\":\"object\"}", "text", 0, 42, b);
	T_EQ_STR(a, b, "the same settings, the same fingerprint");
	/* fields are separated: "ab" + "c" is not "a" + "bc" */
	fingerprint_mine("m", "ab", "c", "text", 0, 42, a);
	fingerprint_mine("m", "a", "bc", "text", 0, 42, b);
	T_OK(strcmp(a, b) != 0, "the parts cannot run into each other");
}

static void test_embed_classify(void)
{
	char a[FINGERPRINT_LEN], b[FINGERPRINT_LEN];
	fingerprint_embed("nomic-embed-text", 0, "text", a);
	fingerprint_embed("nomic-embed-text", 256, "text", b);
	T_OK(strcmp(a, b) != 0, "embed: dimensions count");
	fingerprint_embed("nomic-embed-text:latest", 0, "text", b);
	T_EQ_STR(a, b, "embed: m is m:latest");
	struct fingerprint_classify_in in = {"0123456789abcdef", "embed", "hash-384", NULL, NULL,
					     0.5, 5, "text", "shortlist", 0, 42};
	fingerprint_classify(&in, a);
	in.threshold = 0.6;
	fingerprint_classify(&in, b);
	T_OK(strcmp(a, b) != 0, "classify: the threshold counts");
	in.threshold = 0.5;
	in.temperature = 1;
	fingerprint_classify(&in, b);
	T_EQ_STR(a, b, "classify embed mode: sampling settings do not count");
	in.mode = "verify";
	in.model = "m";
	in.prompt_src = "Is {{text}} a {{label}}?";
	fingerprint_classify(&in, a);
	in.prompt_src = "Is {{text}} really a {{label}}?";
	fingerprint_classify(&in, b);
	T_OK(strcmp(a, b) != 0, "classify verify: the prompt counts");
}

static void test_input_spec(void)
{
	char a[FINGERPRINT_LEN], b[FINGERPRINT_LEN];
	const char *text[] = {"text"};
	const char *line1 = "{\"id\":\"x:1\",\"seq\":1,\"text\":\"Same words.\"}";
	const char *line2 = "{\"text\":\"Same words.\",\"id\":\"y:7\",\"seq\":7}";
	fingerprint_input(line1, strlen(line1), text, 1, a);
	fingerprint_input(line2, strlen(line2), text, 1, b);
	T_EQ_STR(a, b, "input: the same text under another id and place");
	const char *both[] = {"text", "seq"};
	fingerprint_input(line1, strlen(line1), both, 2, a);
	fingerprint_input(line2, strlen(line2), both, 2, b);
	T_OK(strcmp(a, b) != 0, "input: every field read counts");
	const char *line3 = "{\"text\":\"Other words.\"}";
	fingerprint_input(line3, strlen(line3), text, 1, b);
	fingerprint_input(line1, strlen(line1), text, 1, a);
	T_OK(strcmp(a, b) != 0, "input: another text");

	struct buf s = {0};
	fingerprint_spec("0123456789abcdef", both, 2, &s);
	T_EQ_STR(s.p, "0123456789abcdef:text,seq", "spec: fingerprint:fields");
	char fp[FINGERPRINT_LEN];
	char **f;
	size_t n;
	T_EQ_INT(fingerprint_spec_parse(s.p, fp, &f, &n), 0, "spec parses");
	T_OK(!strcmp(fp, "0123456789abcdef") && n == 2 && !strcmp(f[0], "text") &&
	     !strcmp(f[1], "seq"), "spec: fingerprint and fields back");
	fingerprint_fields_free(f, n);
	T_EQ_INT(fingerprint_spec_parse("0123456789abcdef", fp, &f, &n), 0, "a bare fingerprint");
	T_EQ_INT((long)n, 0, "no fields");
	T_EQ_INT(fingerprint_spec_parse("0123456789abcdeg", fp, &f, &n), -1, "not hex");
	T_EQ_INT(fingerprint_spec_parse("0123456789abcdef0", fp, &f, &n), -1, "too long");
	T_EQ_INT(fingerprint_spec_parse("abc", fp, &f, &n), -1, "too short");
	buf_free(&s);
}

int main(void)
{
	test_mine();
	test_embed_classify();
	test_input_spec();
	return t_done();
}
