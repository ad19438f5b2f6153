/* classify_taxonomy: loads a taxonomy file (YAML or NDJSON) into entries
 * with an id, a label, an optional description, synonyms, examples and
 * parent, checks it (duplicate ids, empty labels, unknown parents, parent
 * loops) and derives the text each entry is embedded by. */
#ifndef LANES_CLASSIFY_TAXONOMY_H
#define LANES_CLASSIFY_TAXONOMY_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

struct taxonomy_entry {
	char *id;
	char *label;
	char *description;  /* NULL when none */
	char *parent;       /* NULL when none */
	char **synonyms;
	size_t nsyn;
	char **examples;
	size_t nex;
	long line;          /* where the entry starts in the file (1-based) */
	long parent_index;  /* index of the parent entry, -1 when none */
	char *text;         /* what is embedded: see classify_taxonomy_entry_text */
	uint64_t text_hash; /* fnv64 of text: the key of its cached vector */
};

struct taxonomy {
	char *path;
	struct taxonomy_entry *e;
	size_t n;
	uint64_t hash;      /* content hash of every entry, in order */
	struct strmap *ids; /* id -> entry index */
};

/* Reads and checks the taxonomy at path. The format is NDJSON when the
 * name ends in .ndjson, .jsonl or .json, YAML when it ends in .yaml or
 * .yml, else NDJSON if the first non-blank byte is '{'. Returns the
 * taxonomy (free with classify_taxonomy_free), or NULL with "<path>:<line>: <what>" in
 * err. */
struct taxonomy *classify_taxonomy_load(const char *path, char *err, size_t errlen);
void classify_taxonomy_free(struct taxonomy *t);

/* Index of the entry with this id, -1 when none. */
long classify_taxonomy_find(const struct taxonomy *t, const char *id);

/* The text embedded for an entry: the label, then "; " and each synonym,
 * then a newline and the description when there is one. Returns a new
 * string (caller frees). */
char *classify_taxonomy_entry_text(const struct taxonomy_entry *e);

/* The content hash as 16 lowercase hex digits. */
void classify_taxonomy_hash_hex(const struct taxonomy *t, char out[17]);

#endif
