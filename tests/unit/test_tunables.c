/* Unit tests of common/tunables.c: precedence, types, file errors. */
#include "t.h"
#include "tunables.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/lanes-tun-XXXXXX");
	int fd = mkstemp(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

static void bad_file(const char *text, const char *want)
{
	static const char *const secs[] = {"segment", NULL};
	struct tunables *t = tun_new(secs);
	char *path = write_tmp(text);
	char err[512] = "";
	int rc = tun_load_file(t, path, err, sizeof err);
	T_OK(rc == -1 && strstr(err, want), "bad file: want '%s', got '%s'", want, err);
	unlink(path);
	free(path);
	tun_free(t);
}

int main(void)
{
	static const char *const secs[] = {"segment", "llm", NULL};
	char err[512];
	unsetenv("LANES_SEGMENT_TARGET");
	struct tunables *t = tun_new(secs);
	T_EQ_INT(tun_int(t, "segment.target"), 1000, "default");
	T_EQ_INT(tun_source_of(t, "segment.target"), TUN_SRC_DEFAULT, "default source");
	T_EQ_INT(tun_int(t, "segment.workers"), 0, "auto is 0");

	char *path = write_tmp("# settings\nsegment:\n  target: 300\n  max: 400\nllm:\n  base_url: http://h:1\n");
	T_EQ_INT(tun_load_file(t, path, err, sizeof err), 0, "file loads");
	T_EQ_INT(tun_int(t, "segment.target"), 300, "file value");
	T_EQ_STR(tun_str(t, "llm.base_url"), "http://h:1", "file string");

	setenv("LANES_SEGMENT_TARGET", "200", 1);
	T_EQ_INT(tun_load_env(t, err, sizeof err), 0, "env loads");
	T_EQ_INT(tun_int(t, "segment.target"), 200, "env beats file");
	T_EQ_INT(tun_set(t, "segment.target", "100", TUN_SRC_FLAG, "--target", err, sizeof err), 0, "flag");
	T_EQ_INT(tun_int(t, "segment.target"), 100, "flag beats env");
	/* a file loaded later does not override env or flags */
	T_EQ_INT(tun_load_file(t, path, err, sizeof err), 0, "file again");
	T_EQ_INT(tun_int(t, "segment.target"), 100, "file never beats a flag");
	T_EQ_INT(tun_int(t, "segment.max"), 400, "other file value kept");
	unsetenv("LANES_SEGMENT_TARGET");

	setenv("LANES_SEGMENT_TARGET", "many", 1);
	T_EQ_INT(tun_load_env(t, err, sizeof err), -1, "bad env value");
	T_OK(strstr(err, "LANES_SEGMENT_TARGET") != NULL, "env error names the variable");
	unsetenv("LANES_SEGMENT_TARGET");

	setenv("OLLAMA_HOST", ":9999", 1);
	T_EQ_INT(tun_load_env(t, err, sizeof err), 0, "OLLAMA_HOST");
	T_EQ_STR(tun_str(t, "llm.base_url"), "http://127.0.0.1:9999", "OLLAMA_HOST :port");
	unsetenv("OLLAMA_HOST");
	setenv("OPENAI_API_KEY", "sk-secret", 1);
	T_EQ_INT(tun_load_env(t, err, sizeof err), 0, "OPENAI_API_KEY");
	unsetenv("OPENAI_API_KEY");
	FILE *f = tmpfile();
	tun_print(t, f);
	rewind(f);
	char all[8192];
	size_t n = fread(all, 1, sizeof all - 1, f);
	all[n] = '\0';
	fclose(f);
	T_OK(!strstr(all, "sk-secret"), "secret never printed");
	T_OK(strstr(all, "api_key: <redacted>") != NULL, "secret shown as redacted");
	T_OK(strstr(all, "target: 100  # flag --target") != NULL, "source shown");

	T_OK(tun_is_set(t, "segment.target"), "a flag sets a value");
	T_OK(!tun_is_set(t, "segment.overlap"), "a default is not set");
	char *restate = write_tmp("segment:\n  overlap: 0\n  unit: tokens\n");
	T_EQ_INT(tun_load_file(t, restate, err, sizeof err), 0, "restating file loads");
	T_OK(!tun_is_set(t, "segment.overlap"), "a file restating the default does not set it");
	T_OK(tun_is_set(t, "segment.unit"), "a file changing the default sets it");
	unlink(restate);
	free(restate);
	T_EQ_INT(tun_set(t, "segment.unit", "words", TUN_SRC_FLAG, "--unit", err, sizeof err), -1, "enum checked");
	T_EQ_INT(tun_set(t, "segment.nope", "1", TUN_SRC_FLAG, "--x", err, sizeof err), -1, "unknown key");
	unlink(path);
	free(path);
	tun_free(t);

	bad_file("segment:\n  targt: 3\n", ":2: unknown key 'segment.targt'");
	bad_file("sgment:\n  target: 3\n", ":1: unknown section 'sgment'");
	bad_file("segment:\n  target: lots\n", ":2: segment.target: 'lots' is not an integer");
	bad_file("segment:\n  target: [1, 2]\n", "lists are not settings");
	bad_file("segment:\n  target: 3\n bad", "YAML error");
	bad_file("segment:\n  max_failure_ratio: 2\n", "is not a number in [0, 1]");
	/* issue 8: a second value, section or document no longer wins in silence */
	bad_file("segment:\n  target: 3\n  target: 4\n",
		 ":3: 'segment.target' given twice (first at line 2)");
	bad_file("segment:\n  target: 3\nsegment:\n  max: 4\n",
		 ":3: section 'segment' given twice (first at line 1)");
	bad_file("segment:\n  target: 3\n---\nsegment:\n  target: 4\n",
		 ":3: a second YAML document (---)");
	/* the shapes a tunables file may not take, each at its line */
	bad_file("segment:\n  target: {a: 1}\n",
		 ":2: segment.target: expected a plain value, not a mapping");
	bad_file("segment: 5\n", ":1: section 'segment' must be a mapping of settings");
	bad_file("- a\n- b\n", ":1: (top): lists are not settings");
	bad_file("segment: &x\n  target: 5\nmine: *x\n", ":3: aliases are not supported");
	bad_file("x\n", ":1: expected sections (segment:, mine:, ...) at the top");
	bad_file("segment:\n  api_key sk-123: 1\n",
		 ":2: unknown key 'segment.api_key' (followed by more, not shown)");
	struct tunables *e = tun_new(secs);
	setenv("LANES_SEGMENT_TARGT", "3", 1);
	T_EQ_INT(tun_load_env(e, err, sizeof err), -1, "an unknown LANES_SEGMENT_ key");
	T_OK(strstr(err, "LANES_SEGMENT_TARGT: unknown setting") != NULL, "... named: %s", err);
	unsetenv("LANES_SEGMENT_TARGT");
	setenv("LANES_LLM_BASE_URLL", "x", 1);
	T_EQ_INT(tun_load_env(e, err, sizeof err), -1, "an unknown LANES_LLM_ key");
	unsetenv("LANES_LLM_BASE_URLL");
	setenv("LANES_SOMETHING_ELSE", "x", 1);
	T_EQ_INT(tun_load_env(e, err, sizeof err), 0, "a LANES_ name of no section is the scripts'");
	unsetenv("LANES_SOMETHING_ELSE");
	tun_free(e);
	return t_done();
}
