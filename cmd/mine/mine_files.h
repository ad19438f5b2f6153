/* mine_files: where mine finds its prompt template and schema, and loading
 * them. A name with a '/' is used as given; a bare name given by the user
 * is taken from the current directory when it is there, else (and for the
 * default names mine.txt and mine.schema.json) from, in this order:
 *   1. $LANES_PROMPTS
 *   2. <dir of the mine binary>/../share/lanes/prompts   (make install)
 *   3. <dir of the binary or one of its parents, up to 4 levels>/pipelines/prompts
 *      (a source checkout: bin/mine, build/asan/bin/mine) */
#ifndef MINE_FILES_H
#define MINE_FILES_H

#include "jsonschema.h"
#include "mine_template.h"
#include "util.h"

/* Returns the path of prompt file name (caller frees), or NULL with the
 * places tried, for the message, appended to tried. from_cwd: a bare name
 * may be found in the current directory. */
char *mine_find_file(const char *name, int from_cwd, struct buf *tried);

/* Loads and compiles a template file. NULL with "<path>: line N: ..." in
 * err. */
struct tpl *mine_load_template(const char *path, char *err, size_t errlen);

/* Loads a schema file: the schema and its text for the prompt, compact
 * (whitespace between tokens removed; caller frees *text). The answer must be an object, so the schema's "type" must
 * be "object". NULL with "<path>: ..." in err. */
struct jschema *mine_load_schema(const char *path, char **text, char *err, size_t errlen);

#endif
