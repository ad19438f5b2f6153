/* store: the lanes record store, a database of records merged stage by
 * stage, their vectors and the status of each stage, behind an API that
 * names no backend. store.c picks the backend from the database name
 * (store_backend.h: SQLite in sqlite/) and passes each call on.
 *
 * One struct store is one connection, used by one thread at a time. */
#ifndef LANES_STORE_H
#define LANES_STORE_H

#include <stddef.h>

#include "util.h"

enum store_status {
	STORE_ANY = 0,      /* no filter */
	STORE_OK,           /* the stage's output is stored */
	STORE_ERROR,        /* the stage failed, retries left */
	STORE_GIVEN_UP,     /* failed max_attempts times: not retried */
	STORE_MISSING,      /* the stage never reported on the record */
};

struct store_opts {
	const char *db;          /* the database: a SQLite file, or a
				  * postgres:// or postgresql:// URL */
	long busy_timeout_ms;    /* wait for another writer this long */
	const char *synchronous; /* "off", "normal" or "full" */
	long max_attempts;       /* failures of a stage before given_up */
	int create;              /* create the database when missing */
};

/* What one input record says about one stage. Strings are spans that need
 * not be NUL terminated; they must stay valid during store_write. */
struct store_event {
	const char *stage;
	size_t stage_len;
	int ok;                 /* 1: output present; 0: failed */
	const char *model;      /* model that produced the output, or NULL */
	size_t model_len;
	const char *error;      /* failed: raw JSON of errors.<stage> */
	size_t error_len;
	const char *code;       /* failed: errors.<stage>.code, or NULL */
	size_t code_len;
	const char *message;    /* failed: errors.<stage>.message, or NULL */
	size_t message_len;
	/* ok: the fingerprint of the settings that made the output and the
	 * hash of its input (fingerprint.h), or NULL; with both, members is
	 * the output and its stamp as one JSON object (the vector of a vector
	 * stage is the record's vec), kept to be reused by content */
	const char *fingerprint;
	size_t fingerprint_len;
	const char *input;
	size_t input_len;
	const char *members;
	size_t members_len;
	/* failed: errors.<stage>.failures, the count the store wrote when it
	 * read the record out; > 0 means the entry is passing through again
	 * and is not a new failure (kept as stored, or stored with this count
	 * when the record is new to the database) */
	long carried;
};

/* One record ready to be written; spans as in store_event. */
struct store_rec {
	const char *id;
	size_t id_len;
	const char *doc;        /* NULL: keep the stored one */
	size_t doc_len;
	long long seq;
	int has_seq;
	/* the record's JSON object without "embedding", "embedding_model" and
	 * "errors", which live in their own tables */
	const char *body;
	size_t body_len;
	const float *vec;       /* NULL: no vector in this record */
	size_t dim;
	const char *vec_model;  /* model of vec ("" when unknown) */
	size_t vec_model_len;
	const struct store_event *events;
	size_t nevents;
};

struct store;

/* Opens (or, with o->create, creates) the database and brings its schema
 * to the version this binary writes (migrations in one transaction).
 * Returns a connection the caller frees with store_close, or NULL with
 * "cannot open database '<db>': <why>" in err (also for a database newer
 * than this binary, or not a lanes one). */
struct store *store_open(const struct store_opts *o, char *err, size_t errlen);
/* Rolls back an uncommitted batch, frees everything, closes. NULL ok. */
void store_close(struct store *s);

/* Writes one record inside the current batch (a transaction begun here
 * when none is open, waiting while another writer holds the lock). The
 * body is merged into the stored one: the record's top-level members
 * replace the stored ones, the others are kept; the vector replaces the
 * one of the same (id, model); each event updates its stage (an error adds
 * one to the stage's failures). Returns 0, or -1 with a message in err:
 * the record is not written and the open batch is rolled back, so no
 * record is ever half written; *lost (lost may be NULL) is set to the
 * records of the batch written before, which the caller counts as failed
 * too. A backend may hold records and send them later, together
 * (PostgreSQL): what the database refuses then is said by the call that
 * sends them (a later store_write, store_commit, or any other call in
 * the batch), and the records held count among *lost. */
int store_write(struct store *s, const struct store_rec *r, long *lost, char *err,
		size_t errlen);
/* Deletes, inside the current batch, the records of document doc whose seq
 * is above max_seq, with their vectors and stages: what is left of an
 * earlier, longer version of a document once its new segments are all put.
 * Returns 0 and the count in *removed, or -1 with err (the batch is then
 * rolled back, *lost as for store_write). */
int store_prune_doc(struct store *s, const char *doc, size_t doc_len, long long max_seq,
		    long *removed, long *lost, char *err, size_t errlen);
/* Deletes, inside the current batch, the record whose id is key[0..len)
 * (by_doc 0) or the records of document key (by_doc 1), with their
 * vectors and stages. Returns 0 and the count in *removed (0: none), or
 * -1 with err (the batch is then rolled back, *lost as for store_write). */
int store_delete(struct store *s, const char *key, size_t len, int by_doc, long *removed,
		 long *lost, char *err, size_t errlen);
/* Commits the batch (retrying while the database is busy). Returns 0
 * (also when no batch is open), or -1 with err; the batch is then rolled
 * back and its records are lost (*lost, may be NULL). */
int store_commit(struct store *s, long *lost, char *err, size_t errlen);
/* Records written in the open batch, and how long it has been open. */
long store_batch_records(const struct store *s);
double store_batch_age_ms(const struct store *s);

/* Reads. Records come out as NDJSON lines without '\n', in their stored
 * form: the body, then "embedding" and "embedding_model" of one vector,
 * then "errors" rebuilt from the stages that failed, each entry with the
 * store's "failures" count added. */

/* Appends record id to out. model: the vector of that model, or NULL for
 * the most recently stored one. Returns 1, 0 when there is no such record,
 * -1 with err. */
int store_get(struct store *s, const char *id, const char *model,
	      struct buf *out, char *err, size_t errlen);

enum store_order { STORE_BY_ID, STORE_BY_DOC };

/* A condition on a member of the record: the value at path (members
 * named from the top, e.g. {"mined", "lang"}) is value: a JSON string
 * equal to it, a number equal to it as a number, true, false or null
 * spelt so. */
struct store_where {
	const char *const *path;
	size_t npath;
	const char *value;
};

struct store_query {
	enum store_order order;    /* by id, or by doc then seq then id */
	const struct store_where *where; /* every one must hold */
	size_t nwhere;
	const char *doc;           /* only this doc, or NULL */
	const char *stage;         /* with status: only records in that state */
	enum store_status status;
	int pending;               /* the input of a resumed run of stage */
	const char *model;         /* pending: output of another model is
				    * pending; otherwise: the vector's model */
	const char *fingerprint;   /* pending: output made with another
				    * fingerprint is pending (none: not) */
	const char *claimed;       /* for the backends: only the records of
				    * these keys, a JSON array (a claim's) */
	const char *model_alias;   /* for the backends: model's other spelling
				    * (stage_model_alias: "m" is "m:latest"),
				    * set by store_scan and store_claim */
};
/* Called per record with its line; a nonzero return stops the scan. */
typedef int (*store_row_fn)(const char *line, size_t len, void *ud);
/* Streams the records q selects to fn (memory stays bounded). pending:
 * records without the stage's output, or with an error and retries left,
 * or (with model) whose output came from another model; in doc order.
 * Returns 0, 1 when fn stopped, -1 with err. */
int store_scan(struct store *s, const struct store_query *q, store_row_fn fn,
	       void *ud, char *err, size_t errlen);

/* store_claim: hands out records pending for a stage to one of many
 * workers, each leased for lease_s seconds: a record under a live lease
 * is handed to no one else; a put of the record's result (a stage event)
 * releases it; a lease that runs out (its worker died) lets another
 * worker take it. */
struct store_claim {
	long limit;          /* records at most */
	double lease_s;      /* how long the claim holds */
	const char *worker;  /* who holds it (shown in the claims table) */
	/* claim --follow: only records whose key (store_vec_fn's) is above
	 * after, the lowest keys first (0: from the start, in doc order);
	 * the highest key leased goes to *last when last is set (a backend
	 * that does not keep this order leaves it at 0) */
	long long after;
	long long *last;
};
/* Leases up to cl->limit records that store_scan with q (q->pending and
 * q->stage set) would give and that no live lease holds, and streams them
 * to fn in doc order, as store_scan. Returns 0 (none left: fn never
 * called), 1 when fn stopped, -1 with err. */
int store_claim(struct store *s, const struct store_query *q, const struct store_claim *cl,
		store_row_fn fn, void *ud, char *err, size_t errlen);
/* The live leases (not run out) worker holds on stage: records it claimed
 * and has not put yet, to *held. 0, or -1 with err. */
int store_claims_held(struct store *s, const char *stage, const char *worker, long *held,
		      char *err, size_t errlen);

/* Called per vector with the record's key (an integer the backend gives
 * each record, stable while the record exists), its id and the vector:
 * dim little-endian float32 numbers as stored, not aligned (copy them
 * out); a nonzero return stops the scan. */
typedef int (*store_vec_fn)(long long key, const char *id, const void *vec, size_t dim,
			    void *ud);
/* Streams the vectors of model of the records q selects (doc, stage and
 * status, where; q->model and the order are not used) to fn, in the
 * backend's order, from slice part of nparts: the slices together hold
 * every vector once, so that nparts connections, one a thread, can read
 * them at once. fn gets the record's id only when ids is set (NULL
 * otherwise: it costs a lookup a vector). Memory stays bounded. Returns 0, 1 when fn stopped, -1
 * with err. */
int store_vectors(struct store *s, const struct store_query *q, const char *model, int part,
		  int nparts, int ids, store_vec_fn fn, void *ud, char *err, size_t errlen);
/* The models of the vectors stored, with their counts and sizes (free
 * with store_models_free). Cheaper than store_stats. Returns 0, or -1 with
 * err. */
struct store_model_count;
int store_models(struct store *s, struct store_model_count **models, size_t *n, char *err,
		 size_t errlen);
void store_models_free(struct store_model_count *models, size_t n);
/* As store_get, the record of a key from store_vectors. */
int store_get_key(struct store *s, long long key, const char *model, struct buf *out,
		  char *err, size_t errlen);
/* A result kept by content: the one stage made under settings
 * fingerprint from input (hashes, fingerprint.h), if any. Sets members to
 * its JSON object (the result and its stamp: members of the record, or the
 * result object of a nested stage) and vec to the little-endian float32
 * bytes of a vector stage's result (else empty); both are reset first.
 * Returns 1, 0 when there is none, -1 with err. */
int store_result_get(struct store *s, const char *stage, const char *fingerprint,
		     const char *input, struct buf *members, struct buf *vec, char *err,
		     size_t errlen);

/* One stored document: the records whose "doc" is doc, how many of them
 * failed to segment (the record a document that cannot be read leaves),
 * and when one last changed (seconds since the epoch). */
struct store_doc {
	const char *doc;
	long records;
	long failed;
	double updated;
};
typedef int (*store_doc_fn)(const struct store_doc *d, void *ud);
/* Streams the stored documents, by name, to fn (a nonzero return stops).
 * Returns 0, 1 when fn stopped, -1 with err. */
int store_docs(struct store *s, store_doc_fn fn, void *ud, char *err, size_t errlen);

/* The request log (llm.log, reqlog.h): entries the tools wrote to their
 * log file, which `store log --add` moves in. One entry of it; strings
 * are NUL terminated. */
struct store_log_entry {
	const char *ts;          /* as written: 2026-12-05T02:18:42Z */
	const char *kind;        /* "request", or "answer" (one the tool judged) */
	const char *stage;
	const char *model;       /* NULL when none */
	const char *code;        /* NULL: the request went through */
	const char *const *ids;  /* the records it was for */
	size_t nids;
	long prompt_tokens, completion_tokens; /* -1: not known */
	const char *line;        /* the whole entry, one JSON object */
	size_t len;
};
/* Adds e inside the current batch (as store_write). Returns 0, or -1
 * with err (the batch is then rolled back, *lost as for store_write). */
int store_log_add(struct store *s, const struct store_log_entry *e, long *lost, char *err,
		  size_t errlen);
/* Which entries store_log_scan reads: those of record id (NULL: any),
 * only failures (errors), of stage (NULL: any). */
struct store_log_query {
	const char *id;
	int errors;
	const char *stage;
};
/* Streams the entries q selects to fn (their lines), oldest first.
 * Returns 0, 1 when fn stopped, -1 with err. */
int store_log_scan(struct store *s, const struct store_log_query *q, store_row_fn fn,
		   void *ud, char *err, size_t errlen);

/* What the logged requests of one stage cost (from the request log). */
struct store_usage {
	char *stage;
	long requests, failed;
	long prompt_tokens, completion_tokens;
};

struct store_stage_count {
	char *stage;
	long ok, error, given_up, missing;
	/* ok, but made with other settings than the stage's latest result
	 * (another fingerprint) */
	long stale;
};
struct store_model_count {
	char *model;
	long vectors;
	long dim; /* largest dimension stored for the model */
};
struct store_stats {
	long schema;
	long records;
	long vectors;
	long given_up; /* (record, stage) pairs given up */
	size_t nstages;
	struct store_stage_count *stages; /* the stages of stage.h first */
	size_t nmodels;
	struct store_model_count *models;
	size_t nusage;
	struct store_usage *usage; /* by stage name */
};
/* Fills st (free with store_stats_free). Returns 0, or -1 with err and st
 * empty. */
int store_stats(struct store *s, struct store_stats *st, char *err, size_t errlen);
void store_stats_free(struct store_stats *st);
/* The count of stage name in st, added (zeroed) when it has none yet. For
 * the backends, which fill st. */
struct store_stage_count *store_stats_stage(struct store_stats *st, const char *name);
/* Adds n (record, stage) pairs of stage name in state status ("ok",
 * "error", "given_up"; NULLs read as "") to st. */
void store_stats_add(struct store_stats *st, const char *name, const char *status, long n);

/* Copies the database to path, from one consistent snapshot while writers
 * go on; writes path.tmp first, checks it, then renames it over path.
 * Returns 0, or -1 with err and path untouched. */
int store_backup(struct store *s, const char *path, char *err, size_t errlen);

/* Parses "ok", "error", "given_up", "missing". Returns STORE_ANY if none. */
enum store_status store_status_parse(const char *s);
const char *store_status_name(enum store_status st);

#endif
