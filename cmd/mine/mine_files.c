/* mine_files: loads prompt templates and schemas. */
#include "mine_files.h"
#include "mine_answer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	else if (!(t = tpl_compile(text, len, 0, msg, sizeof msg)))
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
	size_t bom = len >= 3 && !memcmp(raw, "\xEF\xBB\xBF", 3) ? 3 : 0;
	mine_answer_minify(&t, raw + bom, len - bom);
	*text = buf_steal(&t, NULL);
	free(raw);
	return s;
}
