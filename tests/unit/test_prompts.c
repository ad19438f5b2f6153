/* Unit tests of common/prompts.c: the search for prompt files. */
#include "prompts.h"
#include "t.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	char dir[] = "/tmp/lanes-prompts-test-XXXXXX";
	T_OK(mkdtemp(dir) != NULL, "temporary directory");
	char *p = xasprintf("%s/custom.txt", dir);
	FILE *f = fopen(p, "w");
	fputs("Hello {{text}}", f);
	fclose(f);
	setenv("LANES_PROMPTS", dir, 1);
	struct buf tried = {0};
	char *found = prompt_find("custom.txt", 0, &tried);
	T_EQ_STR(found, p, "$LANES_PROMPTS is searched");
	free(found);
	found = prompt_find("nope.txt", 0, &tried);
	T_OK(!found && strstr(tried.p, "/nope.txt"), "not found: the places tried are listed (%s)",
	     tried.p);
	buf_reset(&tried);
	found = prompt_find("/no/such/dir/x.txt", 1, &tried);
	T_OK(!found && !strcmp(tried.p, "/no/such/dir/x.txt"), "a path is used as given");
	buf_reset(&tried);
	unsetenv("LANES_PROMPTS");
	found = prompt_find("classify_verify.txt", 0, &tried);
	T_OK(found && strstr(found, "pipelines/prompts/classify_verify.txt"),
	     "a default prompt is found from the binary (%s)", found ? found : tried.p);
	free(found);
	buf_free(&tried);
	unlink(p);
	rmdir(dir);
	free(p);
	return t_done();
}
