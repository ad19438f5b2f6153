/* segment_root: document ids relative to a root directory (--root), the
 * same whichever way a path is spelled: `docs/a.md`, `./docs/a.md`,
 * `$PWD/docs/a.md` and `docs/x/../a.md` under the root `docs` all name
 * `a.md`. Paths are made absolute from the logical working directory (the
 * shell's $PWD when it is this directory) and normalised lexically (no `.`,
 * `..` or `//`); a path that is not under the root that way is tried again
 * with symbolic links resolved (its directory's and the root's realpath). */
#include "segment_root.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct seg_root {
	char *lex;  /* absolute, normalised lexically */
	char *phys; /* realpath of the root */
};

/* The working directory as the user's shell spells it: $PWD when that is
 * an absolute name of this directory without . or .. in it, else
 * getcwd(3). The caller frees it; NULL when neither works. */
static char *logical_cwd(void)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;
	if (pwd && pwd[0] == '/' && !strstr(pwd, "/./") && !strstr(pwd, "/../") &&
	    stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return xstrdup(pwd);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	char *copy = xstrdup(cwd); /* ours come from xmalloc */
	free(cwd);
	return copy;
}

/* "/" + the components of dir/path (path alone when absolute) with "",
 * "." and ".." resolved lexically; the caller frees it. */
static char *normalise(const char *dir, const char *path)
{
	struct buf in = {0}, out = {0};
	if (path[0] != '/' && dir) {
		buf_puts(&in, dir);
		buf_putc(&in, '/');
	}
	buf_puts(&in, path);
	for (char *s = in.p; *s;) {
		char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (out.len && out.p[out.len - 1] != '/')
				out.len--;
			if (out.len)
				out.len--; /* the slash before the dropped name */
		} else if (n && !(n == 1 && s[0] == '.')) {
			buf_putc(&out, '/');
			buf_append(&out, s, n);
		}
		s += n + (e != NULL);
	}
	if (!out.len)
		buf_putc(&out, '/');
	out.p[out.len] = '\0';
	buf_free(&in);
	return buf_steal(&out, NULL);
}

/* path relative to root when path is under it (or is it: its last
 * component), else NULL; a new string. */
static char *relative(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (!strcmp(path, root)) {
		const char *slash = strrchr(path, '/');
		return slash && slash[1] ? xstrdup(slash + 1) : NULL;
	}
	if (n == 1) /* the root is "/" */
		return xstrdup(path + 1);
	if (!strncmp(path, root, n) && path[n] == '/')
		return xstrdup(path + n + 1);
	return NULL;
}

struct seg_root *seg_root_new(const char *dir, char **err)
{
	char *cwd = logical_cwd();
	char real[PATH_MAX];
	if (!cwd || !realpath(dir, real)) {
		*err = xasprintf("--root %s: %s", dir, strerror(errno));
		free(cwd);
		return NULL;
	}
	struct seg_root *r = xcalloc(1, sizeof *r);
	r->lex = normalise(cwd, dir);
	r->phys = xstrdup(real);
	free(cwd);
	return r;
}

char *seg_root_id(const struct seg_root *r, const char *path)
{
	char *cwd = logical_cwd();
	char *abs = normalise(cwd, path);
	char *id = relative(abs, r->lex);
	if (!id) {
		/* links: the directory resolved, the file's own name kept */
		const char *slash = strrchr(abs, '/');
		char *dir = xstrndup(abs, slash == abs ? 1 : (size_t)(slash - abs));
		char real[PATH_MAX];
		if (realpath(dir, real)) {
			char *phys = normalise(real, slash + 1);
			id = relative(phys, r->phys);
			free(phys);
		}
		free(dir);
	}
	free(abs);
	free(cwd);
	return id;
}

char *seg_root_prefix(const struct seg_root *r, const char *dir)
{
	char *cwd = logical_cwd();
	char *abs = normalise(cwd, dir);
	char *prefix = !strcmp(abs, r->lex) ? xstrdup("") : relative(abs, r->lex);
	char real[PATH_MAX];
	if (!prefix && realpath(dir, real))
		prefix = !strcmp(real, r->phys) ? xstrdup("") : relative(real, r->phys);
	free(abs);
	free(cwd);
	return prefix;
}

const char *seg_root_dir(const struct seg_root *r)
{
	return r->lex;
}

void seg_root_free(struct seg_root *r)
{
	if (!r)
		return;
	free(r->lex);
	free(r->phys);
	free(r);
}
