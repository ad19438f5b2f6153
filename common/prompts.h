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

/* A file lanes ships under pipelines/ (rel: "tunables.yaml",
 * "prompts/mine.txt"), looked for as in 2. and 3. above:
 * <dir of the binary>/../share/lanes/rel, then <dir of the binary or a
 * parent, up to 4 levels>/pipelines/rel. Returns its path (caller frees),
 * or NULL with the places tried appended to tried. */
char *prompt_find_shipped(const char *rel, struct buf *tried);

#endif
