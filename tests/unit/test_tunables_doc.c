/* Checks that pipelines/tunables.yaml and man/tunables.5 agree with the
 * schema in common/tunables_schema.c: the file loads without error, sets
 * every key to its default, and the man page documents every key. */
#include "t.h"
#include "tunables.h"
#include "util.h"

#include <stdlib.h>

int main(void)
{
	const char *root = getenv("LANES_ROOT");
	if (!root)
		root = ".";
	char *yaml = xasprintf("%s/pipelines/tunables.yaml", root);
	char *manp = xasprintf("%s/man/tunables.5", root);
	static const char *const secs[] = {"llm", NULL};
	struct tunables *t = tun_new(secs);
	char err[512] = "";
	T_EQ_INT(tun_load_file(t, yaml, err, sizeof err), 0, "tunables.yaml loads");
	if (*err)
		printf("# %s\n", err);
	size_t len = 0;
	char *text = read_file(yaml, &len);
	char *man = read_file(manp, &len);
	T_OK(text && man, "files readable");
	if (!text || !man)
		return t_done();
	for (size_t i = 0; i < tun_schema_len; i++) {
		const struct tun_def *d = &tun_schema[i];
		char name[128];
		snprintf(name, sizeof name, "%s.%s", d->section, d->key);
		if (d->type != TUN_SECRET) {
			T_EQ_INT(tun_source_of(t, name), TUN_SRC_FILE, name);
			T_EQ_STR(tun_str(t, name), d->def, name);
		}
		char manname[160];
		snprintf(manname, sizeof manname, ".B %s\n", name);
		T_OK(strstr(man, manname) != NULL, "man/tunables.5 documents %s", name);
	}
	free(text);
	free(man);
	free(yaml);
	free(manp);
	tun_free(t);
	return t_done();
}
