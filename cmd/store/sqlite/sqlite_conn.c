/* sqlite_conn: the SQLite backend's connection: opening it (WAL, 16 KB
 * pages, synchronous, the schema), closing it, and SQL run while other
 * writers hold the database: a busy handler that polls briefly, and
 * retries with a jittered backoff up to busy_timeout_ms. */
#include "sqlite_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

double sqlite_jitter(struct sqlite_db *s)
{
	/* xorshift64: a spread of waits so that writers do not poll in step */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return 0.5 + (double)(s->rng % 1000) / 1000.0;
}

/* SQLite's own busy handler sleeps up to 100 ms between tries, long
 * enough for another writer to take the lock back each time; short polls
 * give every writer its turn. */
static int busy_handler(void *ud, int count)
{
	struct sqlite_db *s = ud;
	double now = now_ms();
	if (count == 0)
		s->busy_since = now;
	s->contended_at = now;
	if (now - s->busy_since >= (double)s->busy_timeout_ms)
		return 0;
	double ms = count < 4 ? 0.5 * (double)(1 << count) : 4;
	sleep_ms(ms * sqlite_jitter(s));
	return 1;
}

int sqlite_is_busy(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

void sqlite_db_error(struct sqlite_db *s, char *err, size_t errlen, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	if (sqlite_is_busy(rc))
		snprintf(err, errlen, "%s: database '%s' stayed locked by another writer for "
			 "more than %ld ms (raise store.busy_timeout_ms)", what, s->path,
			 s->busy_timeout_ms);
	else
		snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Waits before the next try of a call that found the database busy; 0
 * while busy_timeout_ms since t0 has not passed. */
static int backoff(struct sqlite_db *s, double t0, double *wait)
{
	if (now_ms() - t0 >= (double)s->busy_timeout_ms)
		return -1;
	sleep_ms(*wait * sqlite_jitter(s));
	*wait = *wait < 100 ? *wait * 2 : 100;
	return 0;
}

int sqlite_exec_retry(struct sqlite_db *s, const char *sql)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK || !sqlite_is_busy(rc) || backoff(s, t0, &wait))
			return rc;
	}
}

int sqlite_prepare_retry(struct sqlite_db *s, const char *sql, sqlite3_stmt **st)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
		if (rc == SQLITE_OK || !sqlite_is_busy(rc) || backoff(s, t0, &wait))
			return rc;
	}
}

int sqlite_step_retry(struct sqlite_db *s, sqlite3_stmt *st)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_step(st);
		if (!sqlite_is_busy(rc))
			return rc;
		sqlite3_reset(st);
		if (backoff(s, t0, &wait))
			return rc;
	}
}

int sqlite_stmt(struct sqlite_db *s, int k, const char *sql, sqlite3_stmt **out, char *err,
		size_t errlen)
{
	if (!s->q[k] && sqlite_prepare_retry(s, sql, &s->q[k]) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot prepare a statement");
		s->q[k] = NULL;
		return -1;
	}
	*out = s->q[k];
	return 0;
}

int sqlite_query_long(struct sqlite_db *s, const char *sql, long *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_prepare_retry(s, sql, &st);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite_step_retry(s, st);
	if (rc == SQLITE_ROW) {
		*out = (long)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

void sqlite_bind_span(sqlite3_stmt *st, int i, const char *p, size_t n)
{
	if (p)
		sqlite3_bind_text(st, i, p, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int sqlite_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void *sqlite_open(const struct store_opts *o, char *err, size_t errlen)
{
	char why[512] = "";
	const char *path = o->db ? o->db : "";
	if (!*path) {
		snprintf(err, errlen, "cannot open database '': no file name (set --db or store.db)");
		return NULL;
	}
	struct stat sb;
	if (!o->create && strcmp(path, ":memory:") && stat(path, &sb) != 0) {
		snprintf(err, errlen, "cannot open database '%s': %s%s", path, strerror(errno),
			 errno == ENOENT ? " (`store put` creates it)" : "");
		return NULL;
	}
	struct sqlite_db *s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	s->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 0;
	s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 1;
	s->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ now_us();
	if (!s->rng)
		s->rng = 1;
	/* one thread at a time uses a connection: no SQLite mutexes */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (o->create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		int sys = s->db ? sqlite3_system_errno(s->db) : 0;
		snprintf(why, sizeof why, "%s%s%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
			 sys ? ": " : "", sys ? strerror(sys) : "");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, busy_handler, s);

	/* 16 KB pages for a new database: a quarter of the WAL frames and write
	 * calls of 4 KB pages for the same records (no effect on an existing
	 * one) */
	if (sqlite_exec_retry(s, "PRAGMA page_size = 16384") != SQLITE_OK) {
		sqlite_db_error(s, why, sizeof why, "cannot set the page size");
		goto fail;
	}
	/* journal_mode answers with the mode in force (memory for :memory:) */
	sqlite3_stmt *st;
	if ((rc = sqlite_prepare_retry(s, "PRAGMA journal_mode = WAL", &st)) == SQLITE_OK) {
		rc = sqlite_step_retry(s, st);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		/* the first statement is where a file that is not SQLite shows */
		if ((rc & 0xff) == SQLITE_NOTADB)
			snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->db));
		else
			sqlite_db_error(s, why, sizeof why, "cannot set WAL mode");
		goto fail;
	}
	const char *sync = o->synchronous ? o->synchronous : "normal";
	if (strcmp(sync, "off") && strcmp(sync, "normal") && strcmp(sync, "full")) {
		snprintf(why, sizeof why, "synchronous '%s' is not off, normal or full", sync);
		goto fail;
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", sync);
	if (sqlite_exec_retry(s, sql) != SQLITE_OK) {
		sqlite_db_error(s, why, sizeof why, "cannot set synchronous");
		goto fail;
	}
	if (sqlite_migrate(s, why, sizeof why))
		goto fail;
	return s;
fail:
	snprintf(err, errlen, "cannot open database '%s': %s", path, why);
	sqlite_close(s);
	return NULL;
}

void sqlite_close(void *c)
{
	struct sqlite_db *s = c;
	if (!s)
		return;
	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite_ckpt_stop(s);
	for (int k = 0; k < Q_COUNT; k++)
		sqlite3_finalize(s->q[k]);
	sqlite3_close(s->db);
	free(s->path);
	store_body_free(&s->body);
	buf_free(&s->errs);
	free(s);
}

/* Anything that is not a URL of another backend is a SQLite file name. */
static int handles(const char *db)
{
	(void)db;
	return 1;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.handles = handles,
	.open = sqlite_open,
	.close = sqlite_close,
	.write = sqlite_write,
	.prune_doc = sqlite_prune_doc,
	.delete_records = sqlite_delete,
	.commit = sqlite_commit,
	.batch_records = sqlite_batch_records,
	.batch_age_ms = sqlite_batch_age_ms,
	.get = sqlite_get,
	.scan = sqlite_scan,
	.claim = sqlite_claim,
	.claims_held = sqlite_claims_held,
	.vectors = sqlite_vectors,
	.models = sqlite_models,
	.get_key = sqlite_get_key,
	.docs = sqlite_docs,
	.result_get = sqlite_result_get,
	.stats = sqlite_stats,
	.log_add = sqlite_log_add,
	.log_scan = sqlite_log_scan,
	.backup = sqlite_backup,
};
