/* consolidate_name: what consolidate compares of a name. A name is cut into
 * lower-cased words (embedder_hash's words: letters and digits; accents of
 * Latin letters folded, so René is rene), words that do not tell entities
 * apart are dropped (titles of people, legal forms of organisations,
 * articles and plurals of terms), and the rest is the name's key. Also
 * kept: the key without spaces, the letters of an acronym ("WHO", "U.N.",
 * "LLMs", or "(WHO)" after a name) and the initials of a name of several
 * words. Rules of man/consolidate.1, RULES. */
#ifndef LANES_CONSOLIDATE_NAME_H
#define LANES_CONSOLIDATE_NAME_H

/* How names of a list are compared. */
enum consolidate_kind {
	CONSOLIDATE_PERSON, /* titles dropped; partial names and initials match */
	CONSOLIDATE_ORG,    /* "the" and legal forms dropped; acronyms match */
	CONSOLIDATE_TERM,   /* articles and plural -s dropped; acronyms match */
};

/* "person", "organisation", "term". */
extern const char *const consolidate_kind_name[3];

struct consolidate_name {
	char *key;      /* words one space apart: "claire moreau" */
	char *squash;   /* key without spaces, spelling variants made one:
			 * "clairemoreau", "organization", "muller" */
	char **tok;     /* the words of key (into one allocation) */
	int ntok;
	char *acronym;  /* lower-case letters of an acronym, else NULL */
	char *initials; /* first letters of the key's words (2 or more words,
			 * small words left out), else NULL */
};

/* Parses name for kind into n (free with consolidate_name_free). Returns
 * 0, or -1 when the name has no word (n is then empty). */
int consolidate_name_parse(const char *name, enum consolidate_kind kind,
			   struct consolidate_name *n);
void consolidate_name_free(struct consolidate_name *n);

/* Whether a and b can name the same entity by the rules alone, without
 * being the same key: people when the words of the shorter name are, in
 * order, words or initials of the longer one and it ends with the longer
 * one's last word (or is one word equal to the longer one's first);
 * organisations and terms when one is the acronym of the other's
 * initials. For every kind: equal keys without spaces ("fine-tuning",
 * "finetuning"). */
int consolidate_name_compatible(const struct consolidate_name *a,
				const struct consolidate_name *b, enum consolidate_kind kind);

/* Whether a has at least as many words as b and b's words all match
 * (b is as specific as a, or less). */
int consolidate_name_covers(const struct consolidate_name *a, const struct consolidate_name *b);

#endif
