/* consolidate_entity: the set of entities of a run: those read back from an
 * earlier run (--entities) and those made now, each with its aliases,
 * mentions and documents, the indexes that find an entity by a name's key,
 * words, acronym or letters, and the entity records written out:
 *   {"id", "list", "kind", "name", "text", "aliases", "docs",
 *    "mention_count", "mentions": [{"record", "doc", "name", "quote",
 *    "t0", "t1", ...}]}
 * Aliases and mentions come in input order (those read back first). An
 * entity's id is given once ("people:claire-moreau", from its name when it
 * is first written) and never changes. */
#ifndef LANES_CONSOLIDATE_ENTITY_H
#define LANES_CONSOLIDATE_ENTITY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "consolidate_mention.h"
#include "strmap.h"
#include "util.h"

struct consolidate_alias {
	char *name;                 /* as written */
	struct consolidate_name n;
	long mentions;              /* mentions under this name (this run and before) */
	long first;                 /* seq of its first mention (-1: read back) */
};

struct consolidate_entity {
	char *id;          /* NULL until consolidate_set_ids */
	int list;
	int existing;      /* read back from an earlier run */
	int changed;       /* gained a mention in this run */
	int ambiguous;     /* made for a partial name that several entities share */
	long joined;       /* merged into this entity by a check, else -1 */
	long first;        /* seq of its first mention of this run (LONG_MAX: none) */
	struct consolidate_alias *alias;
	size_t nalias, calias;
	size_t full;       /* the alias with the most words: the entity's name */
	char **mention;    /* mention objects as JSON text */
	long *mseq;        /* the seq of each (-1: read back) */
	size_t nmention, cmention;
	char **doc;        /* documents, in order of first mention */
	size_t ndoc, cdoc;
};

/* A chain of entities under one index key. */
struct consolidate_link {
	long entity, next;
};

struct consolidate_set {
	const struct consolidate_list *lists;
	int nlists;
	struct consolidate_entity *e;
	size_t n, cap;
	struct strmap *keys;    /* list+key of an alias -> chain */
	struct strmap *words;   /* list+word of an alias (people) -> chain */
	struct strmap *acro;    /* list+acronym or initials -> chain */
	struct strmap *squash;  /* list+key without spaces -> chain */
	struct strmap *held;    /* list+record+name -> entity holding that mention */
	struct strmap *docs;    /* entity+doc -> 1 */
	struct strmap *ids;     /* ids given -> entity */
	struct consolidate_link *link;
	size_t nlink, clink;
};

/* An empty set for these lists (the caller keeps them). */
void consolidate_set_init(struct consolidate_set *s, const struct consolidate_list *lists,
			  int nlists);
void consolidate_set_free(struct consolidate_set *s);

/* Adds an entity record of an earlier run. Returns its index, or -1 with
 * err set when it is not one (no string id, a list not consolidated now,
 * no aliases, a mention without record and name). */
long consolidate_set_load(struct consolidate_set *s, const cJSON *rec, char *err, size_t errlen);

/* A new, empty entity of list. Returns its index. */
long consolidate_set_add(struct consolidate_set *s, int list);
/* Files mention m under entity e (adding m's name as an alias when new).
 * Returns 0, or 1 when e already holds it (same list, record and name). */
int consolidate_set_mention(struct consolidate_set *s, long e, const struct consolidate_mention *m);
/* The entity that holds a mention of this list, record and name, or -1. */
long consolidate_set_held(const struct consolidate_set *s, int list, const char *record,
			  const char *name);
/* Moves every alias and mention of entity from into entity to; from is left
 * empty with joined = to. */
void consolidate_set_join(struct consolidate_set *s, long to, long from);
/* The entity e was merged into, in the end (e itself when it was not). */
long consolidate_set_root(const struct consolidate_set *s, long e);
/* Whether entity e has a mention in doc. */
int consolidate_set_in_doc(const struct consolidate_set *s, long e, const char *doc);

/* Calls fn for each entity of list that has an alias whose key (which: 'k'
 * key, 'w' one of its words, 'a' acronym or initials, 's' squashed key)
 * is text; each entity once. Returns how many. */
size_t consolidate_set_find(const struct consolidate_set *s, int list, int which,
			    const char *text, void (*fn)(long e, void *ud), void *ud);

/* The entities not merged into another, in the order they are written:
 * those read back, in their order, then the new ones by their first
 * mention in the input. Returns their number; *order (caller frees) holds
 * their indexes. */
size_t consolidate_set_order(const struct consolidate_set *s, long **order);
/* Gives an id to every entity that has none, in that order:
 * "<list>:<words of its name joined by '-'>", with "-2", "-3"... when
 * taken. */
void consolidate_set_ids(struct consolidate_set *s);

/* Writes entity e as one JSON line (with '\n') into out (reset first). */
void consolidate_set_json(const struct consolidate_set *s, long e, struct buf *out);

#endif
