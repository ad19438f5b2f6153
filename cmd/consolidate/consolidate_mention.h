/* consolidate_mention: the mentions of entities in one record: each item of
 * the consolidated lists of its `mined` object, with the record's id and
 * doc, a quote (the item's own `quote`, else the sentence of the record's
 * text that names it, else the text when the name is the record's
 * `speaker`), the time span (t0/t1 of the item, else of the
 * record) and the item's other members. */
#ifndef LANES_CONSOLIDATE_MENTION_H
#define LANES_CONSOLIDATE_MENTION_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "consolidate_name.h"
#include "util.h"

/* One list of the mined object to consolidate. */
struct consolidate_list {
	char *name;                 /* member of `mined`: "people" */
	char *field;                /* member of an item holding its name; NULL:
				     * the first of name, term, title, label */
	enum consolidate_kind kind;
};

/* Parses a --lists value: comma-separated LIST[:FIELD][=KIND], KIND one
 * of person, organisation, term (default: person for people, persons,
 * speakers; organisation for organisations, organizations, orgs,
 * companies; term otherwise). Returns the number of lists (*out: caller
 * frees with consolidate_lists_free), or -1 with err set. */
int consolidate_lists_parse(const char *spec, struct consolidate_list **out, char *err,
			    size_t errlen);
void consolidate_lists_free(struct consolidate_list *l, int n);

struct consolidate_mention {
	int list;          /* index in the lists */
	char *name;        /* as written */
	struct consolidate_name n;
	char *record;      /* the record's id */
	char *doc;         /* the record's doc, NULL when it has none */
	char *json;        /* the mention as written out: {"record", "doc",
			    * "name", "quote", "t0", "t1", other members} */
	char *gold;        /* the item's `gold` (eval sets), else NULL */
	long seq;          /* order of reading */
};

struct consolidate_mentions {
	struct consolidate_mention *m;
	size_t n, cap;
	long items_skipped; /* items without a usable name */
};

/* Appends the mentions of rec to ms (seq numbers go on from ms->n). An
 * item that is not an object with a string name (nor a string) is
 * counted in items_skipped. Returns the number of mentions added, or -1
 * when rec has no string `id` (nothing is added). */
long consolidate_mentions_read(struct consolidate_mentions *ms, const cJSON *rec,
			       const struct consolidate_list *lists, int nlists);
/* Moves the mentions of src to the end of dst (src is left empty). */
void consolidate_mentions_move(struct consolidate_mentions *dst, struct consolidate_mentions *src);
void consolidate_mentions_free(struct consolidate_mentions *ms);

/* The sentence of text that holds name (or its longest word), any case,
 * at most 300 bytes; NULL when the text does not name it. Caller frees. */
char *consolidate_mention_quote(const char *text, const char *name);

#endif
