/* mine_files: loading mine's prompt template and schema, found by
 * prompt_find (prompts.h). */
#ifndef MINE_FILES_H
#define MINE_FILES_H

#include "jsonschema.h"
#include "template.h"
#include "util.h"

/* Loads and compiles a template file. NULL with "<path>: line N: ..." in
 * err. */
struct tpl *mine_load_template(const char *path, char *err, size_t errlen);

/* Loads a schema file: the schema and its text for the prompt, compact
 * (whitespace between tokens removed; caller frees *text). The answer must be an object, so the schema's "type" must
 * be "object". NULL with "<path>: ..." in err. */
struct jschema *mine_load_schema(const char *path, char **text, char *err, size_t errlen);

#endif
