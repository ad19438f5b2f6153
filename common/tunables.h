/* tunables: the one settings mechanism of lanes. Every key of every section
 * is declared once in tunables_schema.c; values come from (highest first) a
 * command-line flag, the environment (LANES_<SECTION>_<KEY> and the
 * ecosystem's OLLAMA_HOST, OPENAI_API_KEY, OPENAI_BASE_URL), the YAML file
 * (--tunables FILE or $LANES_TUNABLES), the built-in default. */
#ifndef LANES_TUNABLES_H
#define LANES_TUNABLES_H

#include <stdio.h>

enum tun_type {
	TUN_INT,    /* integer in [min, max]; "auto" allowed when auto_ok (value 0) */
	TUN_FLOAT,  /* number in [min, max] */
	TUN_STR,    /* any string */
	TUN_ENUM,   /* one of choices ("a|b|c") */
	TUN_SECRET, /* string never printed */
};

struct tun_def {
	const char *section;
	const char *key;
	enum tun_type type;
	const char *def;     /* default, as text */
	double min, max;     /* TUN_INT / TUN_FLOAT */
	int auto_ok;         /* TUN_INT: "auto" allowed, stored as 0 */
	const char *choices; /* TUN_ENUM */
	const char *help;
};

extern const struct tun_def tun_schema[];
extern const size_t tun_schema_len;

enum tun_source { TUN_SRC_DEFAULT, TUN_SRC_FILE, TUN_SRC_ENV, TUN_SRC_FLAG };

struct tunables;
/* Defaults only. sections is a NULL-terminated list of the sections the
 * tool uses (shown by --print-config); any section may still be read. */
struct tunables *tun_new(const char *const *sections);
void tun_free(struct tunables *t);
/* Loads a YAML file. Returns 0, or -1 with a message naming file, line and
 * key in err (unknown section or key, wrong type, unreadable file). */
int tun_load_file(struct tunables *t, const char *path, char *err, size_t errlen);
/* Applies LANES_<SECTION>_<KEY> and the ecosystem variables. -1 + err on a
 * bad value. */
int tun_load_env(struct tunables *t, char *err, size_t errlen);
/* Sets "section.key" from text, at the given precedence (a lower source
 * never overwrites a higher one). -1 + err if the key or value is bad. */
int tun_set(struct tunables *t, const char *name, const char *value,
	    enum tun_source src, const char *origin, char *err, size_t errlen);

/* Accessors by "section.key"; an undeclared name aborts (a programming
 * error). Strings are owned by t. */
long tun_int(const struct tunables *t, const char *name);
double tun_float(const struct tunables *t, const char *name);
const char *tun_str(const struct tunables *t, const char *name);
enum tun_source tun_source_of(const struct tunables *t, const char *name);
/* Whether the user chose this value: given by a flag or the environment,
 * or set to something other than the default. A file restating the
 * default (as the shipped tunables.yaml does for every key) is no choice. */
int tun_is_set(const struct tunables *t, const char *name);

/* Prints every setting of the tool's sections as YAML with its source in a
 * comment; secrets are redacted. */
void tun_print(const struct tunables *t, FILE *f);

#endif
