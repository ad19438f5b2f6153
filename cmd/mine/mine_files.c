/* mine_files: finds and loads prompt templates and schemas. */
#include "mine_files.h"
#include "mine_answer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
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

char *mine_find_file(const char *name, int from_cwd, struct buf *tried)
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
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	char *dir = xasprintf("%s/../share/lanes/prompts", exe);
	found = try_dir(dir, name, tried);
	free(dir);
	for (int up = 0; up <= 4 && !found; up++) {
		dir = xasprintf("%s/pipelines/prompts", exe);
		found = try_dir(dir, name, tried);
		free(dir);
		slash = strrchr(exe, '/');
		if (!slash || slash == exe)
			break;
		*slash = '\0';
	}
	return found;
}

struct tpl *mine_load_template(const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	char msg[512];
	struct tpl *t = NULL;
	long bad = utf8_check(text, len);
	if (bad >= 0)
		snprintf(err, errlen, "%s: not valid UTF-8 at byte %ld", path, bad + 1);
	else if (!(t = tpl_compile(text, len, msg, sizeof msg)))
		snprintf(err, errlen, "%s: %s", path, msg);
	free(text);
	return t;
}

struct jschema *mine_load_schema(const char *path, char **text, char *err, size_t errlen)
{
	size_t len;
	char *raw = read_file(path, &len);
	if (!raw) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	char msg[768];
	struct jschema *s = jschema_parse(raw, len, msg, sizeof msg);
	if (!s) {
		snprintf(err, errlen, "%s: %s", path, msg);
		free(raw);
		return NULL;
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(jschema_json(s), "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "object")) {
		snprintf(err, errlen, "%s: the schema's \"type\" must be \"object\" (mine stores "
			 "the answer as a JSON object)", path);
		jschema_free(s);
		free(raw);
		return NULL;
	}
	/* compact: the prompt carries it, and whitespace costs tokens */
	struct buf t = {0};
	answer_minify(&t, raw, len);
	*text = buf_steal(&t, NULL);
	free(raw);
	return s;
}
