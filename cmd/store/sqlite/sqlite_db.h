/* sqlite_db: what the files of the SQLite backend share: the connection
 * (struct sqlite_db), its prepared statements, and running SQL while
 * another writer holds the database (a busy handler that polls briefly,
 * retries with a jittered backoff up to busy_timeout_ms). The backend's
 * files: sqlite_conn.c (open, close, retries), sqlite_schema.c
 * (migrations), sqlite_write.c (batches, merges, prune, delete), sqlite_ckpt.c
 * (the checkpointer thread), sqlite_read.c (get, scan, docs, stats),
 * sqlite_backup.c (the online backup). */
#ifndef LANES_SQLITE_DB_H
#define LANES_SQLITE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "../store_backend.h"
#include "../store_body.h"

/* The schema this binary writes; PRAGMA user_version of the database. */
#define SQLITE_SCHEMA_VERSION 3
/* 'lane' in PRAGMA application_id marks a lanes database. */
#define SQLITE_APP_ID 0x6c616e65

/* The statements used once per record or read, prepared once. */
enum {
	Q_FIND,
	Q_INSERT,
	Q_UPDATE,
	Q_VEC,
	Q_STAGE_OK,
	Q_STAGE_ERR,
	Q_STAGE_CARRIED,
	Q_RESULT_PUT,
	Q_RESULT_GET,
	Q_STALE_VECS,
	Q_STALE_STAGES,
	Q_STALE_VEC_MODEL,
	Q_PRUNE_VECS,
	Q_PRUNE_STAGES,
	Q_PRUNE_RECORDS,
	Q_DELETE_ID_VECS,
	Q_DELETE_ID_STAGES,
	Q_DELETE_ID,
	Q_DELETE_DOC_VECS,
	Q_DELETE_DOC_STAGES,
	Q_DELETE_DOC,
	Q_GET,
	Q_ERRORS,
	Q_LOG_ADD,
	Q_LOG_ID,
	Q_UNCLAIM,
	Q_COUNT,
};

struct sqlite_db {
	sqlite3 *db;
	char *path;
	long busy_timeout_ms;
	long max_attempts;
	double busy_since;   /* first call of the busy handler in this wait */
	double contended_at; /* last time this connection had to wait */
	uint64_t rng;
	int in_txn;
	int claims;          /* the batch began with claims held: puts release them */
	long batch_n;
	double batch_t0;
	sqlite3_stmt *q[Q_COUNT];
	struct store_body body;
	struct buf errs;
	/* the checkpointer: a thread with its own connection that copies the
	 * WAL back into the database while this one goes on writing */
	sqlite3 *ck_db;
	struct thread *ck;
	struct lock *ck_lock;
	int ck_stop;
	long ck_asked, ck_done; /* passes asked for, and done */
	int wal_frames;         /* pages in the WAL after the last commit */
	int ck_frames, restart_frames; /* CKPT_BYTES and CKPT_RESTART_BYTES in pages */
};

/* sqlite_conn.c */
/* A factor in [0.5, 1.5) that spreads the waits of several writers. */
double sqlite_jitter(struct sqlite_db *s);
int sqlite_is_busy(int rc);
/* "<what>: <SQLite's message>", or what a lock held too long means. */
void sqlite_db_error(struct sqlite_db *s, char *err, size_t errlen, const char *what);
/* Run, prepare, step (a read) retrying while the database is busy. */
int sqlite_exec_retry(struct sqlite_db *s, const char *sql);
int sqlite_prepare_retry(struct sqlite_db *s, const char *sql, sqlite3_stmt **st);
int sqlite_step_retry(struct sqlite_db *s, sqlite3_stmt *st);
/* The statement sql, prepared on first use and kept in slot k. Returns 0,
 * or -1 with err. */
int sqlite_stmt(struct sqlite_db *s, int k, const char *sql, sqlite3_stmt **out, char *err,
		size_t errlen);
/* One integer result of sql (0 when no row). Returns an SQLite code. */
int sqlite_query_long(struct sqlite_db *s, const char *sql, long *out);
/* Binds p[0..n), or NULL when p is NULL. */
void sqlite_bind_span(sqlite3_stmt *st, int i, const char *p, size_t n);
/* Steps a write statement once and resets it; SQLITE_OK when done. */
int sqlite_run(sqlite3_stmt *st);

/* sqlite_schema.c: checks the database is a lanes one this binary
 * understands and applies the missing migrations in one transaction.
 * Returns 0, or -1 with err. */
int sqlite_migrate(struct sqlite_db *s, char *err, size_t errlen);

/* sqlite_ckpt.c: the first write starts the checkpointer thread (on a
 * second connection, in place of SQLite's automatic checkpoints in the
 * writer's own time); after a commit the writer may wait for it to catch
 * up; close stops it. */
void sqlite_ckpt_start(struct sqlite_db *s);
void sqlite_ckpt_after_commit(struct sqlite_db *s);
void sqlite_ckpt_stop(struct sqlite_db *s);

/* The backend's entries (store_backend.h), by file. */
void *sqlite_open(const struct store_opts *o, char *err, size_t errlen);
void sqlite_close(void *c);
int sqlite_write(void *c, const struct store_rec *r, long *lost, char *err, size_t errlen);
int sqlite_prune_doc(void *c, const char *doc, size_t doc_len, long long max_seq,
		     long *removed, long *lost, char *err, size_t errlen);
int sqlite_delete(void *c, const char *key, size_t len, int by_doc, long *removed, long *lost,
		  char *err, size_t errlen);
int sqlite_commit(void *c, long *lost, char *err, size_t errlen);
long sqlite_batch_records(const void *c);
double sqlite_batch_age_ms(const void *c);
int sqlite_get(void *c, const char *id, const char *model, struct buf *out, char *err,
	       size_t errlen);
int sqlite_scan(void *c, const struct store_query *q, store_row_fn fn, void *ud, char *err,
		size_t errlen);
int sqlite_claims_held(void *c, const char *stage, const char *worker, long *held, char *err,
		       size_t errlen);
int sqlite_claim(void *c, const struct store_query *q, const struct store_claim *cl,
		 store_row_fn fn, void *ud, char *err, size_t errlen);
int sqlite_result_get(void *c, const char *stage, const char *fingerprint, const char *input,
		      struct buf *members, struct buf *vec, char *err, size_t errlen);
int sqlite_docs(void *c, store_doc_fn fn, void *ud, char *err, size_t errlen);
int sqlite_stats(void *c, struct store_stats *st, char *err, size_t errlen);
int sqlite_log_add(void *c, const struct store_log_entry *e, long *lost, char *err,
		   size_t errlen);
int sqlite_log_scan(void *c, const struct store_log_query *q, store_row_fn fn, void *ud,
		    char *err, size_t errlen);
int sqlite_vectors(void *c, const struct store_query *q, const char *model, int part,
		   int nparts, int ids, store_vec_fn fn, void *ud, char *err, size_t errlen);
int sqlite_models(void *c, struct store_model_count **models, size_t *n, char *err,
		  size_t errlen);
int sqlite_get_key(void *c, long long key, const char *model, struct buf *out, char *err,
		   size_t errlen);

/* sqlite_vectors.c */
/* Appends the condition that stage_data s has status (missing: no row). */
void sqlite_status_sql(struct buf *sql, enum store_status status);
/* Appends the conditions of q->where to a WHERE over records r, with
 * parameters ?first.. (three per condition), and binds them. */
void sqlite_where_sql(struct buf *sql, const struct store_query *q, int first);
void sqlite_where_bind(sqlite3_stmt *st, const struct store_query *q, int first);
int sqlite_backup(void *c, const char *path, char *err, size_t errlen);

#endif
