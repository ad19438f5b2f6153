/* Unit tests of classify_cache: round trip, lookup by text hash, the file
 * name, and the files it refuses (other model, truncated, bad magic). */
#include "t.h"
#include "classify_cache.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/lanes-test-cache.XXXXXX";

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char err[512];
	char *sub = xasprintf("%s/deeper/still", dir);
	char *path = classify_cache_path(sub, "/etc/hostname", "nomic-embed-text", 0);
	T_OK(strncmp(path, sub, strlen(sub)) == 0 && strstr(path, "/classify-") &&
	     strstr(path, ".vec"), "path in the directory: %s", path);
	char *p2 = classify_cache_path(sub, "/etc/hostname", "other-model", 0);
	char *p3 = classify_cache_path(sub, "/etc/passwd", "nomic-embed-text", 0);
	char *p4 = classify_cache_path(sub, "/etc/hostname", "nomic-embed-text", 256);
	T_OK(strcmp(path, p2) && strcmp(path, p3) && strcmp(path, p4),
	     "model, taxonomy and dimension each change the file name");

	T_OK(classify_cache_read(path, "m", err, sizeof err) == NULL && err[0] == '\0',
	     "a missing file is no error");

	uint64_t hash[3] = {11, 22, 33};
	float vec[9] = {1, 0, 0, 0, 1, 0, 0.6f, 0, 0.8f};
	T_EQ_INT(classify_cache_write(path, "nomic-embed-text@abc", 3, 3, hash, vec, err, sizeof err), 0,
		 "write creates the directories");
	struct stat st;
	T_OK(stat(path, &st) == 0 && st.st_size == 32 + 24 + 24 + 36,
	     "file size: header 32 + model 24 + hashes 24 + vectors 36");
	struct classify_cache *c = classify_cache_read(path, "nomic-embed-text@abc", err, sizeof err);
	T_OK(c != NULL, "read back");
	if (c) {
		T_EQ_INT(c->n, 3, "three vectors");
		T_EQ_INT(c->dim, 3, "dim 3");
		const float *v = classify_cache_get(c, 33);
		T_OK(v && v[0] == 0.6f && v[2] == 0.8f, "lookup by hash");
		T_OK(classify_cache_get(c, 44) == NULL, "unknown hash misses");
		classify_cache_free(c);
	}
	c = classify_cache_read(path, "nomic-embed-text@def", err, sizeof err);
	T_OK(!c && strstr(err, "another model"), "another digest: refused (%s)", err);

	/* truncate by one byte */
	int rc = truncate(path, st.st_size - 1);
	T_OK(rc == 0, "truncate");
	c = classify_cache_read(path, "nomic-embed-text@abc", err, sizeof err);
	T_OK(!c && strstr(err, "truncated"), "truncated file refused (%s)", err);
	FILE *f = fopen(path, "w");
	int ok = f && fputs("not a cache at all, longer than a header....", f) >= 0;
	ok = f && !fclose(f) && ok;
	T_OK(ok, "overwrite");
	c = classify_cache_read(path, "nomic-embed-text@abc", err, sizeof err);
	T_OK(!c && strstr(err, "bad magic"), "bad magic refused (%s)", err);

	/* no leftover temporary files */
	char *cmd = xasprintf("ls '%s' | grep -c tmp", sub);
	FILE *ls = popen(cmd, "r");
	char line[32] = "";
	ok = ls && fgets(line, sizeof line, ls) && line[0] == '0';
	T_OK(ok, "no temporary files left");
	if (ls)
		pclose(ls);
	free(cmd);

	char *d = classify_cache_dir("/x/y");
	T_EQ_STR(d, "/x/y", "the setting wins");
	free(d);
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	d = classify_cache_dir("");
	T_EQ_STR(d, "/xdg/lanes", "XDG_CACHE_HOME/lanes");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/home/u", 1);
	d = classify_cache_dir(NULL);
	T_EQ_STR(d, "/home/u/.cache/lanes", "~/.cache/lanes");
	free(d);

	free(path);
	free(p2);
	free(p3);
	free(p4);
	free(sub);
	char *rm = xasprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		printf("# could not remove %s\n", dir);
	free(rm);
	return t_done();
}
