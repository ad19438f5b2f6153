/* prompts: where the tools find their prompt files (templates, schemas).
 * A name with a '/' is used as given; a bare name given by the user is
 * taken from the current directory when it is there, else (and for the
 * default names such as mine.txt or classify_verify.txt) from, in this
 * order:
 *   1. $LANES_PROMPTS
 *   2. <dir of the binary>/../share/lanes/prompts   (make install)
 *   3. <dir of the binary or one of its parents, up to 4 levels>/pipelines/prompts
 *      (a source checkout: bin/mine, build/asan/bin/mine) */
#ifndef LANES_PROMPTS_H
#define LANES_PROMPTS_H

#include "util.h"

/* Returns the path of prompt file name (caller frees), or NULL with the
 * places tried, for the message, appended to tried (", " between them).
 * from_cwd: a bare name may be found in the current directory. */
char *prompt_find(const char *name, int from_cwd, struct buf *tried);

#endif
