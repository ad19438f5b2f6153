/* prompts: the search for prompt files and the other files lanes ships,
 * in the order prompts.h gives. */
#include "prompts.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Tries dir/name; returns the path when readable. */
static char *try_dir(const char *dir, const char *name, struct buf *tried)
{
	char *p = xasprintf("%s/%s", dir, name);
	if (readable(p))
		return p;
	buf_printf(tried, "%s%s", tried->len ? ", " : "", p);
	free(p);
	return NULL;
}

/* The directory of the running binary, or NULL; the caller frees it. */
static char *exe_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return xstrdup(exe);
}

char *prompt_find_shipped(const char *rel, struct buf *tried)
{
	char *exe = exe_dir();
	if (!exe)
		return NULL;
	char *dir = xasprintf("%s/../share/lanes", exe);
	char *found = try_dir(dir, rel, tried);
	free(dir);
	for (int up = 0; up <= 4 && !found; up++) {
		dir = xasprintf("%s/pipelines", exe);
		found = try_dir(dir, rel, tried);
		free(dir);
		char *slash = strrchr(exe, '/');
		if (!slash || slash == exe)
			break;
		*slash = '\0';
	}
	free(exe);
	return found;
}

char *prompt_find(const char *name, int from_cwd, struct buf *tried)
{
	if ((from_cwd || strchr(name, '/')) && readable(name))
		return xstrdup(name);
	if (strchr(name, '/')) {
		buf_printf(tried, "%s%s", tried->len ? ", " : "", name);
		return NULL;
	}
	char *found = NULL;
	const char *env = getenv("LANES_PROMPTS");
	if (env && *env && (found = try_dir(env, name, tried)))
		return found;
	char *rel = xasprintf("prompts/%s", name);
	found = prompt_find_shipped(rel, tried);
	free(rel);
	return found;
}
