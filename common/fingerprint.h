/* fingerprint: what a stage's result depends on, as 16 hex digits that a
 * tool writes beside the result (stage.h: mined_fingerprint,
 * embedding_fingerprint, class.fingerprint) and compares before it skips
 * a record: a result made with other settings (another prompt template or
 * schema, taxonomy, mode, model, dimensions, text field...) is stale and
 * made again. One function per stage, so that the tool, its tests and
 * `store pending` agree. The model's digest is not part of it: the tools
 * compare it beside (stage_stamped), as only the server knows it.
 *
 * And the input hash: 16 hex digits over the values of the fields a stage
 * reads from a record, so that a result can be reused by content (the
 * same fingerprint and the same input give the same answer). */
#ifndef LANES_FINGERPRINT_H
#define LANES_FINGERPRINT_H

#include <stddef.h>

#include "util.h"

/* 16 hex digits and a NUL. */
#define FINGERPRINT_LEN 17

/* mine: the chat model, the prompt template's source, the schema's text,
 * the field {{text}} reads, and the sampling settings (temperature,
 * seed). */
void fingerprint_mine(const char *model, const char *template_src, const char *schema,
		      const char *field, double temperature, long seed,
		      char out[FINGERPRINT_LEN]);

/* embed: the model as recorded (hash-<dim> offline), the dimensions asked
 * of the server (0: its own), and the field embedded. */
void fingerprint_embed(const char *model, long dimensions, const char *field,
		       char out[FINGERPRINT_LEN]);

/* classify: the taxonomy hash, the mode, the embedding model, and in
 * verify and triage modes the chat model, its prompt template's source
 * and the sampling settings; the threshold, top_k, the field and where
 * the examples go. */
struct fingerprint_classify_in {
	const char *taxonomy;   /* the taxonomy's hash (classify_setup.c: tax_hex) */
	const char *mode;       /* embed, verify, triage */
	const char *embed_model;
	const char *model;      /* chat model; NULL in embed mode */
	const char *prompt_src; /* the mode's template source; NULL in embed mode */
	double threshold;
	long top_k;
	const char *field;
	const char *examples;   /* where the entries' examples go: shortlist, prompt */
	double temperature;
	long seed;
};
void fingerprint_classify(const struct fingerprint_classify_in *in, char out[FINGERPRINT_LEN]);

/* The input hash of a record line (a JSON object as ndjson_parse checks
 * it): over the names and the raw text of the values of fields[0..n), in
 * that order (a missing field counts as missing). Byte for byte: the same
 * value spelled another way is another input. */
void fingerprint_input(const char *line, size_t len, const char *const *fields, size_t n,
		       char out[FINGERPRINT_LEN]);

/* A run's fingerprint with the fields its input hash reads, as one word
 * ("<fingerprint>:<field>,<field>", fields as given), what a tool's
 * --fingerprint prints and `store pending --fingerprint` takes. Appends
 * to out. */
void fingerprint_spec(const char *fp, const char *const *fields, size_t n, struct buf *out);

/* Reads a spec: the fingerprint (16 hex digits) into fp, and the fields
 * after the ':' (none when there is no ':') into *fields (an array of
 * *n strings, the caller frees it with fingerprint_fields_free). Returns
 * 0, or -1 when spec does not start with 16 hex digits. */
int fingerprint_spec_parse(const char *spec, char fp[FINGERPRINT_LEN], char ***fields,
			   size_t *n);

/* Splits a comma-separated list of field names (tpl_fields' output) into
 * *fields (*n of them; empty names skipped). */
void fingerprint_fields_split(const char *list, char ***fields, size_t *n);
void fingerprint_fields_free(char **fields, size_t n);

#endif
