/* Unit tests of consolidate_name: keys (titles, legal forms, articles,
 * plurals dropped; accents folded), acronyms and initials, spelling
 * variants made one, and the rules that match names: partial names and
 * initials of people, acronyms of organisations and terms, and the
 * near-misses they must keep apart. */
#include "t.h"
#include "consolidate_name.h"

#include <string.h>

static void key_is(const char *name, enum consolidate_kind kind, const char *key,
		   const char *acronym, const char *initials)
{
	struct consolidate_name n;
	int rc = consolidate_name_parse(name, kind, &n);
	T_OK(rc == 0 && !strcmp(n.key, key), "'%s' has the key '%s' (got '%s')", name, key,
	     rc ? "(none)" : n.key);
	T_OK(rc == 0 && (acronym ? n.acronym && !strcmp(n.acronym, acronym) : !n.acronym),
	     "'%s': acronym %s (got %s)", name, acronym ? acronym : "none",
	     !rc && n.acronym ? n.acronym : "none");
	T_OK(rc == 0 && (initials ? n.initials && !strcmp(n.initials, initials) : !n.initials),
	     "'%s': initials %s (got %s)", name, initials ? initials : "none",
	     !rc && n.initials ? n.initials : "none");
	consolidate_name_free(&n);
}

static int compatible(const char *a, const char *b, enum consolidate_kind kind)
{
	struct consolidate_name x, y;
	if (consolidate_name_parse(a, kind, &x))
		return -1;
	if (consolidate_name_parse(b, kind, &y)) {
		consolidate_name_free(&x);
		return -1;
	}
	int c = consolidate_name_compatible(&x, &y, kind);
	int d = consolidate_name_compatible(&y, &x, kind);
	consolidate_name_free(&x);
	consolidate_name_free(&y);
	return c == d ? c : -2; /* the rules are symmetric */
}

int main(void)
{
	const enum consolidate_kind P = CONSOLIDATE_PERSON, O = CONSOLIDATE_ORG,
				    J = CONSOLIDATE_TERM;
	key_is("Dr. Claire Moreau", P, "claire moreau", NULL, "cm");
	key_is("René Lévesque", P, "rene levesque", NULL, "rl");
	key_is("Jean-Luc Picard", P, "jean luc picard", NULL, "jlp");
	key_is("Prof. Dr.", P, "prof dr", NULL, "pd");
	key_is("Madame", P, "madame", NULL, NULL);
	key_is("World Health Organization (WHO)", O, "world health organization", "who", "who");
	key_is("the WHO", O, "who", "who", NULL);
	key_is("The Who", O, "who", NULL, NULL);
	key_is("Deutsche Bank AG", O, "deutsche bank", NULL, "db");
	key_is("Meta Platforms, Inc.", O, "meta platforms", NULL, "mp");
	key_is("U.N.", O, "u n", "un", "un");
	key_is("LLMs", J, "llm", "llm", NULL);
	key_is("large language models", J, "large language model", NULL, "llm");
	key_is("latencies", J, "latency", NULL, NULL);
	key_is("caches", J, "cache", NULL, NULL);
	key_is("processes", J, "process", NULL, NULL);
	key_is("boxes", J, "box", NULL, NULL);
	key_is("analysis", J, "analysis", NULL, NULL);
	key_is("bias", J, "bias", NULL, NULL);
	key_is("the embeddings", J, "embedding", NULL, NULL);
	struct consolidate_name n;
	T_EQ_INT(consolidate_name_parse("  -- ", P, &n), -1, "a name without a word is refused");
	T_EQ_INT(consolidate_name_parse("Thomas Müller", P, &n), 0, "Müller parses");
	T_EQ_STR(n.squash, "thomasmuller", "ü folds to u in the squashed key");
	consolidate_name_free(&n);

	T_EQ_INT(compatible("Claire Moreau", "Moreau", P), 1, "a surname alone");
	T_EQ_INT(compatible("Claire Moreau", "Claire", P), 1, "a first name alone");
	T_EQ_INT(compatible("Claire Moreau", "C. Moreau", P), 1, "an initial");
	T_EQ_INT(compatible("Claire Marie Moreau", "Claire Moreau", P), 1, "a middle name left out");
	T_EQ_INT(compatible("Jean-Luc Martin", "J.-L. Martin", P), 1, "two initials");
	T_EQ_INT(compatible("Claire Moreau", "Claire M.", P), 1, "an initial of the surname");
	T_EQ_INT(compatible("Claire Moreau", "Pierre Moreau", P), 0, "another first name: apart");
	T_EQ_INT(compatible("Anna Schmidt", "Anne Schmidt", P), 0, "Anna and Anne: apart");
	T_EQ_INT(compatible("Emily Chen", "Emma Chen", P), 0, "Emily and Emma: apart");
	T_EQ_INT(compatible("Claire Moreau", "C.", P), 0, "an initial alone names nobody");
	T_EQ_INT(compatible("Moreau Claire", "Claire Moreau", P), 0, "order counts for the rules");
	T_EQ_INT(compatible("Thomas Müller", "Thomas Mueller", P), 1, "ü and ue");
	T_EQ_INT(compatible("Sarah O'Connor", "Sarah OConnor", P), 1, "the same letters");
	T_EQ_INT(compatible("World Health Organization", "WHO", O), 1, "an acronym");
	T_EQ_INT(compatible("World Health Organisation", "World Health Organization", O), 1,
		 "-isation and -ization");
	T_EQ_INT(compatible("Massachusetts Institute of Technology", "MIT", O), 1,
		 "initials skip small words");
	T_EQ_INT(compatible("European Central Bank", "EC", O), 0, "ECB is not EC");
	T_EQ_INT(compatible("Acme", "Acme Robotics", O), 0, "Acme and Acme Robotics: apart");
	T_EQ_INT(compatible("Open AI", "OpenAI", O), 1, "a space more or less");
	T_EQ_INT(compatible("retrieval-augmented generation", "RAG", J), 1, "a term's acronym");
	T_EQ_INT(compatible("fine-tuning", "finetuning", J), 1, "a hyphen more or less");
	T_EQ_INT(compatible("tokenizer", "tokeniser", J), 1, "-iser and -izer");
	T_EQ_INT(compatible("batch", "batches", J), 1, "-ches");
	T_EQ_INT(compatible("colour", "color", J), 1, "-our and -or");
	T_EQ_INT(compatible("embedding", "embedding model", J), 0, "embedding model is another term");
	T_EQ_INT(compatible("precision", "recall", J), 0, "different terms");
	return t_done();
}
