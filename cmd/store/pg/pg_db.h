/* pg_db: what the files of the PostgreSQL backend share: the connection
 * (struct pg_db, one libpq connection), statements with bound parameters
 * only (struct pg_q: the SQL with its $n and their values, never a value
 * spliced into the text), and reading binary results. The backend's
 * files: pg_conn.c (open, close, the schema and its migrations, backup
 * through pg_dump), pg_write.c (batches, merges, prune, delete),
 * pg_batch.c (the records a batch holds until they are sent, arrays as
 * parameters, libpq's pipeline mode), pg_read.c (get, scan, docs, stats,
 * vectors, claims). The database is named by a URL, postgres://... or
 * postgresql://...; its password is never written anywhere (redact_url). */
#ifndef LANES_PG_DB_H
#define LANES_PG_DB_H

#include <libpq-fe.h>
#include <stdint.h>

#include "../store_backend.h"
#include "../store_body.h"

/* The schema this binary writes: lanes_schema.version. */
#define PG_SCHEMA_VERSION 1

/* Parameters of one statement at most. */
#define PG_MAX_PARAMS 96

/* One statement and its parameters, built together: pg_q_text and
 * pg_q_int append "$n" to the SQL and keep the value. Strings are sent in
 * binary format (their bytes and length: spans need no NUL), integers and
 * doubles as text; NULL strings as SQL NULL. */
struct pg_q {
	struct buf sql;
	int n;
	const char *val[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS];
	int fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][32];
};
void pg_q_reset(struct pg_q *q);
void pg_q_free(struct pg_q *q);
void pg_q_sql(struct pg_q *q, const char *sql);
/* Each appends "$n::type" and returns n, which the SQL may name again
 * (buf_printf(&q->sql, "$%d", n)). pg_q_text: the span p[0..n) (NULL:
 * SQL NULL). pg_q_bytes: n bytes as bytea. */
int pg_q_text(struct pg_q *q, const char *p, size_t n);
int pg_q_str(struct pg_q *q, const char *s);
int pg_q_int(struct pg_q *q, long long v);
int pg_q_double(struct pg_q *q, double v);
int pg_q_bytes(struct pg_q *q, const void *p, size_t n);

/* The statements of the write path, by slot, prepared once per connection:
 * those for one record, and those for many (P_INSERT, P_VECS, P_STAGES_OK:
 * a column of the held records per array parameter). */
enum {
	P_INSERT,
	P_FIND,
	P_UPDATE,
	P_VEC,
	P_VECS,
	P_STAGE_OK,
	P_STAGES_OK,
	P_STAGE_ERR,
	P_STAGE_CARRIED,
	P_RESULT_PUT,
	P_STALE_VECS,
	P_STALE_STAGES,
	P_STALE_VEC_MODEL,
	P_UNCLAIM,
	P_ERRORS,
	P_LOG_ADD,
	P_COUNT,
};

/* A record put in the open batch and not yet sent: a copy of what
 * pg_write was given (spans into the same allocation), its time, and what
 * sending it finds out (pg_write.c). */
struct pg_held {
	struct store_rec r;
	double now;
	long long rid;
	int fresh;           /* inserted by this batch: nothing to merge */
	int stale;           /* its text changed: what was made of it goes */
	int bulk;            /* fresh, its vector and good stages sent for many */
	struct buf merged;   /* the body to write when it was stored before */
};

struct strmap;

struct pg_db {
	PGconn *conn;
	char *shown;         /* the URL as it may be shown: password redacted */
	long max_attempts;
	int in_txn;
	int claims;          /* the batch began with claims held: puts release them */
	long batch_n;
	double batch_t0;
	int prepared[P_COUNT];
	long cursors;        /* names of cursors opened so far */
	struct store_body body;
	struct buf errs;
	struct pg_q q;
	/* records held until sent (pg_batch.c), their ids, their bytes */
	struct pg_held **held;
	size_t nheld, held_cap, held_bytes;
	struct strmap *held_ids;
	/* the parameters of the statement being sent in the pipeline (not
	 * q: a statement built in q sends the held records first) */
	struct pg_q pq;
	/* the tags of the statements sent in the pipeline, in order */
	long *tags;
	size_t ntags, tags_cap;
	/* entries of the request log sent in the pipeline, not yet synced
	 * (pg_log_add): any other statement syncs them first */
	size_t log_sent;
	/* what a statement's failure in the pipeline is said to be (NULL:
	 * "cannot write record") */
	const char *pipe_what;
	/* a send made for a read failed: the batch is lost, and the next
	 * write or commit says so with this message */
	int failed;
	char failed_err[512];
};

/* "<what>: <the server's message>" (its first line). */
void pg_error(struct pg_db *s, char *err, size_t errlen, const char *what, const PGresult *r);
/* Runs q (dynamic SQL), after the batch's held records (pg_write_held,
 * as pg_exec_slot and pg_cmd do too). Results in binary format. Returns
 * the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK), or NULL with err (the
 * result is cleared). */
PGresult *pg_exec(struct pg_db *s, const struct pg_q *q, char *err, size_t errlen,
		  const char *what);
/* Prepares slot k's sql on this connection, once. Returns 0, or -1
 * with err. */
int pg_prepare(struct pg_db *s, int k, const char *sql, char *err, size_t errlen);
/* As pg_exec, the statement of slot k (sql, prepared on first use). */
PGresult *pg_exec_slot(struct pg_db *s, int k, const char *sql, const struct pg_q *q,
		       char *err, size_t errlen, const char *what);
/* Runs plain SQL without parameters. Returns 0, or -1 with err. */
int pg_cmd(struct pg_db *s, const char *sql, char *err, size_t errlen, const char *what);

/* Binary result values: an integer column of 2, 4 or 8 bytes, a float8. */
long long pg_int(const PGresult *r, int row, int col);
double pg_double(const PGresult *r, int row, int col);
/* A text column (NULL when SQL NULL). */
const char *pg_text(const PGresult *r, int row, int col);

/* pg_batch.c. pg_held_add keeps a copy of r in the batch (r's spans
 * need not outlive the call); pg_held_has: 1 when a held record has this
 * id; pg_held_clear frees the held records, pg_held_free all of it. */
void pg_held_add(struct pg_db *s, const struct store_rec *r, double now);
int pg_held_has(const struct pg_db *s, const char *id, size_t len);
void pg_held_clear(struct pg_db *s);
void pg_held_free(struct pg_db *s);
/* A binary array of one dimension (array_send's format): one parameter
 * that carries a column of many rows, for a prepared statement whose SQL
 * names its type ($1::text[]). pg_arr_begin empties a (oid: the element
 * type; bytea's bytes go in with pg_arr_text), pg_arr_* append an
 * element (NULL p, null: SQL NULL), pg_q_arr adds it to q (a must not
 * change until q is sent); free a.b with buf_free. */
struct pg_arr {
	struct buf b;
	size_t n;
	int oid;
	int nulls;
};
#define PG_OID_TEXT 25
#define PG_OID_INT8 20
#define PG_OID_FLOAT8 701
#define PG_OID_BYTEA 17
void pg_arr_begin(struct pg_arr *a, int oid);
void pg_arr_text(struct pg_arr *a, const char *p, size_t n);
void pg_arr_int(struct pg_arr *a, long long v, int null);
void pg_arr_double(struct pg_arr *a, double v);
int pg_q_arr(struct pg_q *q, struct pg_arr *a);
/* Called for each statement answered well, with the tag it was sent
 * with; returns 0, or -1 with err. */
typedef int (*pg_pipe_fn)(struct pg_db *s, const PGresult *r, long tag, void *ud, char *err,
			  size_t errlen);
/* Sends slot k (prepared before) with q's parameters, entering pipeline
 * mode first when needed; nothing is read. Returns 0, or -1 with err. */
int pg_pipe_send(struct pg_db *s, int k, const struct pg_q *q, long tag, char *err,
		 size_t errlen);
/* Syncs the pipeline, reads every answer in order (fn, may be NULL,
 * for each good one) and leaves pipeline mode. Returns 0, or -1 with the
 * first error in err: the transaction is then aborted. */
int pg_pipe_sync(struct pg_db *s, pg_pipe_fn fn, void *ud, char *err, size_t errlen);

/* pg_write.c: reads the answers of the request log's entries sent in the
 * pipeline, when there are any. Returns 0, or -1 with the first error in
 * err (the transaction is then aborted). */
int pg_log_sync(struct pg_db *s, char *err, size_t errlen);
/* pg_write.c: syncs the request log's entries, then sends the records
 * held, when there are any (pg_exec, pg_exec_slot and pg_cmd do it
 * first, so any statement sees them).
 * Returns 0, or -1 with err: the transaction is aborted, the records are
 * freed, and the batch is marked failed. */
int pg_write_held(struct pg_db *s, char *err, size_t errlen);

/* pg_conn.c */
int pg_migrate(struct pg_db *s, char *err, size_t errlen);

/* The backend's entries (store_backend.h), by file. */
void *pg_open(const struct store_opts *o, char *err, size_t errlen);
void pg_close(void *c);
int pg_backup(void *c, const char *path, char *err, size_t errlen);
int pg_write(void *c, const struct store_rec *r, long *lost, char *err, size_t errlen);
int pg_prune_doc(void *c, const char *doc, size_t doc_len, long long max_seq, long *removed,
		 long *lost, char *err, size_t errlen);
int pg_delete(void *c, const char *key, size_t len, int by_doc, long *removed, long *lost,
	      char *err, size_t errlen);
int pg_commit(void *c, long *lost, char *err, size_t errlen);
long pg_batch_records(const void *c);
double pg_batch_age_ms(const void *c);
int pg_get(void *c, const char *id, const char *model, struct buf *out, char *err,
	   size_t errlen);
int pg_scan(void *c, const struct store_query *q, store_row_fn fn, void *ud, char *err,
	    size_t errlen);
int pg_claims_held(void *c, const char *stage, const char *worker, long *held, char *err,
		   size_t errlen);
int pg_claim(void *c, const struct store_query *q, const struct store_claim *cl,
	     store_row_fn fn, void *ud, char *err, size_t errlen);
int pg_vectors(void *c, const struct store_query *q, const char *model, int part, int nparts,
	       int ids, store_vec_fn fn, void *ud, char *err, size_t errlen);
int pg_models(void *c, struct store_model_count **models, size_t *n, char *err,
	      size_t errlen);
int pg_get_key(void *c, long long key, const char *model, struct buf *out, char *err,
	       size_t errlen);
int pg_result_get(void *c, const char *stage, const char *fingerprint, const char *input,
		  struct buf *members, struct buf *vec, char *err, size_t errlen);
int pg_docs(void *c, store_doc_fn fn, void *ud, char *err, size_t errlen);
int pg_stats(void *c, struct store_stats *st, char *err, size_t errlen);
int pg_log_add(void *c, const struct store_log_entry *e, long *lost, char *err, size_t errlen);
int pg_log_scan(void *c, const struct store_log_query *q, store_row_fn fn, void *ud, char *err,
		size_t errlen);

#endif
