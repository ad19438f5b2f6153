/* mine_record: the work of mine on one record: skip it when it is already
 * mined by this run (the model, the digest when known, the fingerprint of
 * the settings), render the prompt, ask for an answer, check it against
 * the schema (feeding the error back once), write `mined` with its stamp
 * or errors.mine. */
#ifndef MINE_RECORD_H
#define MINE_RECORD_H

#include <stdatomic.h>

#include "filter.h"
#include "fingerprint.h"
#include "jsonschema.h"
#include "llm.h"
#include "template.h"

struct reqlog;
struct mine_cfg {
	struct llm *llm;
	struct reqlog *log;       /* the request log, NULL when off */
	const char *model;
	const char *digest;       /* server-reported digest, "" when none */
	const struct tpl *tpl;
	const struct jschema *schema;
	const char *schema_text;  /* what {{schema}} inserts */
	const char *text_field;   /* what {{text}} reads */
	char fingerprint[FINGERPRINT_LEN]; /* of this run's settings */
	char **fields;            /* what the input hash reads: the template's fields */
	size_t nfields;
	int force;                /* mine records already mined by this run's settings */
	long max_tokens;
	int answer_attempts;      /* answers asked for per record, >= 1 */
	/* figures for the end-of-run line */
	atomic_long invalid_answers; /* answers that were not valid */
	atomic_long fixed;           /* records saved by the feedback turn */
	atomic_long later;           /* records saved by a plain retry after it */
};

/* Processes r (not rejected): sets r->out, r->outcome and r->retries. A
 * record whose requests a stop request abandoned passes on unchanged
 * (REC_SKIPPED: it stays pending). After an invalid answer the error is
 * fed back once (a plain retry instead when that would overflow the
 * context); later answers are plain retries with another seed.
 * Thread safe; cfg is only read apart from its atomic figures. A record
 * that cannot be mined comes out with errors.mine {code, message,
 * attempts} (and "answer", the last answer, when one came back):
 * missing_field (the template names a field it lacks),
 * invalid_answer (no valid answer in answer_attempts), truncated_answer
 * (the server cut the answer: max_tokens or the context), or the client's
 * code (http_500, timeout, ...) when the requests failed. */
void mine_record(struct mine_cfg *cfg, struct rec *r);

#endif
