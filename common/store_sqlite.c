/* store_sqlite: the record store on SQLite: WAL, a busy handler that polls
 * briefly, BEGIN IMMEDIATE batches retried while busy, prepared statements
 * reused for every record, merges done on the JSON text (never re-encoded),
 * vectors as little-endian float32 BLOBs, migrations by PRAGMA user_version,
 * the online backup API. */
#include "store_sqlite.h"
#include "pool.h"
#include "record.h"
#include "stage.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* 'lane' in PRAGMA application_id marks a lanes database. */
#define STORE_APP_ID 0x6c616e65

/* Migration i brings the schema from version i to i + 1. They run in
 * order, all in one transaction; never edit one that has shipped.
 *
 * Stages and vectors are keyed by the record's rid, not its id: a new
 * record gets the next rid, so their rows are appended to the end of their
 * B-trees instead of being scattered (several times faster to write). The
 * views stages and vectors show them by id. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE records ("
	" rid INTEGER PRIMARY KEY,"  /* stable row number */
	" id TEXT NOT NULL UNIQUE,"
	" doc TEXT,"
	" seq INTEGER,"
	" body TEXT NOT NULL,"      /* JSON object without embedding*, errors */
	" vec_model TEXT,"          /* model of the latest vector */
	" updated REAL NOT NULL);"  /* unix time of the last put */
	"CREATE INDEX records_doc_seq ON records(doc, seq);"
	"CREATE TABLE vector_data ("
	" rid INTEGER NOT NULL,"
	" model TEXT NOT NULL,"
	" dim INTEGER NOT NULL,"
	" vec BLOB NOT NULL,"       /* dim little-endian float32 */
	" updated REAL NOT NULL,"
	" PRIMARY KEY (rid, model));"
	"CREATE TABLE stage_data ("
	" rid INTEGER NOT NULL,"
	" stage TEXT NOT NULL,"
	/* not IN (...): SQLite builds an ephemeral table for it on each row */
	" status TEXT NOT NULL"
	" CHECK (status = 'ok' OR status = 'error' OR status = 'given_up'),"
	" model TEXT,"
	" failures INTEGER NOT NULL DEFAULT 0," /* failed puts since the last ok */
	" code TEXT,"
	" message TEXT,"
	" error TEXT,"              /* raw JSON of errors.<stage> */
	" updated REAL NOT NULL,"
	" PRIMARY KEY (rid, stage)) WITHOUT ROWID;"
	"CREATE VIEW vectors AS SELECT r.id, v.model, v.dim, v.vec, v.updated"
	" FROM vector_data v JOIN records r ON r.rid = v.rid;"
	"CREATE VIEW stages AS SELECT r.id, s.stage, s.status, s.model, s.failures,"
	" s.code, s.message, s.error, s.updated FROM stage_data s JOIN records r ON r.rid = s.rid;",
};

enum {
	Q_FIND,
	Q_INSERT,
	Q_UPDATE,
	Q_VEC,
	Q_STAGE_OK,
	Q_STAGE_ERR,
	Q_STAGE_CARRIED,
	Q_STALE_VECS,
	Q_STALE_STAGES,
	Q_STALE_VEC_MODEL,
	Q_PRUNE_VECS,
	Q_PRUNE_STAGES,
	Q_PRUNE_RECORDS,
	Q_GET,
	Q_ERRORS,
	Q_COUNT,
};

static const char *const queries[Q_COUNT] = {
	[Q_FIND] = "SELECT rid, body FROM records WHERE id = ?1",
	[Q_INSERT] = "INSERT INTO records(id, doc, seq, body, vec_model, updated)"
		     " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
	/* rows are only written when something changes: a rerun rewrites
	 * nothing, and updated says when a row last changed */
	[Q_UPDATE] = "UPDATE records SET doc = coalesce(?2, doc), seq = coalesce(?3, seq),"
		     " body = ?4, vec_model = coalesce(?5, vec_model), updated = ?6"
		     " WHERE rid = ?1 AND (body IS NOT ?4 OR doc IS NOT coalesce(?2, doc)"
		     " OR seq IS NOT coalesce(?3, seq) OR vec_model IS NOT coalesce(?5, vec_model))",
	[Q_VEC] = "INSERT INTO vector_data(rid, model, dim, vec, updated)"
		  " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(rid, model) DO UPDATE SET"
		  " dim = excluded.dim, vec = excluded.vec, updated = excluded.updated"
		  " WHERE vec IS NOT excluded.vec",
	[Q_STAGE_OK] = "INSERT INTO stage_data(rid, stage, status, model, failures, updated)"
		       " VALUES(?1, ?2, 'ok', ?3, 0, ?4) ON CONFLICT(rid, stage) DO UPDATE SET"
		       " status = 'ok', model = excluded.model, failures = 0, code = NULL,"
		       " message = NULL, error = NULL, updated = excluded.updated"
		       " WHERE status IS NOT 'ok' OR model IS NOT excluded.model",
	[Q_STAGE_ERR] = "INSERT INTO stage_data(rid, stage, status, model, failures, code,"
			" message, error, updated) VALUES(?1, ?2,"
			" CASE WHEN ?7 <= 1 THEN 'given_up' ELSE 'error' END,"
			" ?3, 1, ?4, ?5, ?6, ?8) ON CONFLICT(rid, stage) DO UPDATE SET"
			" failures = stage_data.failures + 1,"
			" status = CASE WHEN stage_data.status = 'given_up'"
			" OR stage_data.failures + 1 >= ?7 THEN 'given_up' ELSE 'error' END,"
			" model = coalesce(excluded.model, stage_data.model), code = excluded.code,"
			" message = excluded.message, error = excluded.error,"
			" updated = excluded.updated",
	/* an error the store itself wrote out, passing through again: kept as
	 * stored, or (in another database) stored with its count */
	[Q_STAGE_CARRIED] = "INSERT INTO stage_data(rid, stage, status, model, failures, code,"
			    " message, error, updated) VALUES(?1, ?2,"
			    " CASE WHEN ?7 >= ?9 THEN 'given_up' ELSE 'error' END,"
			    " ?3, ?7, ?4, ?5, ?6, ?8) ON CONFLICT(rid, stage) DO NOTHING",
	/* a record whose text changed: what was derived from the old text */
	[Q_STALE_VECS] = "DELETE FROM vector_data WHERE rid = ?1",
	[Q_STALE_STAGES] = "DELETE FROM stage_data WHERE rid = ?1 AND stage = ?2",
	[Q_PRUNE_VECS] = "DELETE FROM vector_data WHERE rid IN"
			  " (SELECT rid FROM records WHERE doc = ?1 AND seq > ?2)",
	[Q_PRUNE_STAGES] = "DELETE FROM stage_data WHERE rid IN"
			    " (SELECT rid FROM records WHERE doc = ?1 AND seq > ?2)",
	[Q_PRUNE_RECORDS] = "DELETE FROM records WHERE doc = ?1 AND seq > ?2",
	[Q_STALE_VEC_MODEL] = "UPDATE records SET vec_model = NULL WHERE rid = ?1",
	[Q_GET] = "SELECT r.rid, r.body, v.model, v.vec FROM records r LEFT JOIN vector_data v"
		  " ON v.rid = r.rid AND v.model = coalesce(?2, r.vec_model) WHERE r.id = ?1",
	[Q_ERRORS] = "SELECT stage, error, code, message, failures FROM stage_data"
		     " WHERE rid = ?1 AND status <> 'ok' ORDER BY stage",
};

/* A top-level member of a JSON object: the key with its quotes is
 * [ks, ke), the value [vs, ve). */
struct store {
	sqlite3 *db;
	char *path;
	long busy_timeout_ms;
	long max_attempts;
	double busy_since;   /* first call of the busy handler in this wait */
	double contended_at; /* last time this connection had to wait */
	uint64_t rng;
	int in_txn;
	long batch_n;
	double batch_t0;
	sqlite3_stmt *q[Q_COUNT];
	struct buf merged;
	struct rec_members mold, mnew;
	unsigned char *used;
	size_t used_cap;
	unsigned char *le;   /* vector bytes on big-endian hosts */
	size_t le_cap;
	struct buf errs;
	struct buf tmp;
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

/* WAL bytes after which a commit wakes the checkpointer (SQLite's own
 * wal_autocheckpoint is 1000 pages, 4 MB of 4 KB pages). */
#define CKPT_BYTES (4 << 20)
/* WAL bytes after which the writer, once committed, waits for the
 * checkpointer to catch up: the WAL can only start over from its beginning
 * when a write begins with every page copied back, and a writer that never
 * waits would begin each batch while the copy of the last one runs. */
#define CKPT_RESTART_BYTES (16 << 20)

static double jitter(struct store *s)
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
	struct store *s = ud;
	double now = now_ms();
	if (count == 0)
		s->busy_since = now;
	s->contended_at = now;
	if (now - s->busy_since >= (double)s->busy_timeout_ms)
		return 0;
	double ms = count < 4 ? 0.5 * (double)(1 << count) : 4;
	sleep_ms(ms * jitter(s));
	return 1;
}

static int is_busy(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

static void db_error(struct store *s, char *err, size_t errlen, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	if (is_busy(rc))
		snprintf(err, errlen, "%s: database '%s' stayed locked by another writer for "
			 "more than %ld ms (raise store.busy_timeout_ms)", what, s->path,
			 s->busy_timeout_ms);
	else
		snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Runs sql, retrying while the database is busy (beyond what the busy
 * handler waited) for up to busy_timeout_ms. */
static int exec_retry(struct store *s, const char *sql)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return SQLITE_OK;
		if (!is_busy(rc) || now_ms() - t0 >= (double)s->busy_timeout_ms)
			return rc;
		sleep_ms(wait * jitter(s));
		wait = wait < 100 ? wait * 2 : 100;
	}
}

static int prepare_retry(struct store *s, const char *sql, sqlite3_stmt **st)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
		if (rc == SQLITE_OK)
			return SQLITE_OK;
		if (!is_busy(rc) || now_ms() - t0 >= (double)s->busy_timeout_ms)
			return rc;
		sleep_ms(wait * jitter(s));
		wait = wait < 100 ? wait * 2 : 100;
	}
}

/* Steps a read statement, retrying while busy. */
static int step_retry(struct store *s, sqlite3_stmt *st)
{
	double t0 = now_ms(), wait = 1;
	for (;;) {
		int rc = sqlite3_step(st);
		if (!is_busy(rc) || now_ms() - t0 >= (double)s->busy_timeout_ms)
			return rc;
		sqlite3_reset(st);
		sleep_ms(wait * jitter(s));
		wait = wait < 100 ? wait * 2 : 100;
	}
}

static int stmt(struct store *s, int k, sqlite3_stmt **out, char *err, size_t errlen)
{
	if (!s->q[k] && prepare_retry(s, queries[k], &s->q[k]) != SQLITE_OK) {
		db_error(s, err, errlen, "cannot prepare a statement");
		s->q[k] = NULL;
		return -1;
	}
	*out = s->q[k];
	return 0;
}

/* Reads one integer PRAGMA or query result. */
static int query_long(struct store *s, const char *sql, long *out)
{
	sqlite3_stmt *st;
	int rc = prepare_retry(s, sql, &st);
	if (rc != SQLITE_OK)
		return rc;
	rc = step_retry(s, st);
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

/* Checks the database is a lanes one this binary understands and applies
 * the missing migrations in one transaction. */
static int migrate(struct store *s, char *err, size_t errlen)
{
	long version, app_id, tables;
	if (query_long(s, "PRAGMA user_version", &version) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	int locked = 0;
	if (version < STORE_SCHEMA_VERSION) {
		if (exec_retry(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
			db_error(s, err, errlen, "cannot lock it to update the schema");
			return -1;
		}
		locked = 1;
		/* another process may have migrated it meanwhile */
		if (query_long(s, "PRAGMA user_version", &version) != SQLITE_OK)
			goto sql_fail;
		if (version == STORE_SCHEMA_VERSION) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return 0;
		}
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "its schema version %ld is newer than this store's (%d): "
			 "use a newer lanes", version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (query_long(s, "PRAGMA application_id", &app_id) != SQLITE_OK ||
	    query_long(s, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK)
		goto sql_fail;
	if ((app_id != 0 && app_id != STORE_APP_ID) ||
	    (app_id == 0 && version == 0 && tables > 0)) {
		snprintf(err, errlen, "not a lanes database (it has other tables); "
			 "give another --db");
		goto fail;
	}
	for (long v = version; v < STORE_SCHEMA_VERSION; v++)
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto sql_fail;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
		 STORE_SCHEMA_VERSION, STORE_APP_ID);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto sql_fail;
	if (exec_retry(s, "COMMIT") != SQLITE_OK)
		goto sql_fail;
	return 0;
sql_fail:
	db_error(s, err, errlen, "cannot update the schema");
fail:
	if (locked)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct store *store_open(const struct store_opts *o, char *err, size_t errlen)
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
	struct store *s = xcalloc(1, sizeof *s);
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
	if (exec_retry(s, "PRAGMA page_size = 16384") != SQLITE_OK) {
		db_error(s, why, sizeof why, "cannot set the page size");
		goto fail;
	}
	/* journal_mode answers with the mode in force (memory for :memory:) */
	sqlite3_stmt *st;
	if ((rc = prepare_retry(s, "PRAGMA journal_mode = WAL", &st)) == SQLITE_OK) {
		rc = step_retry(s, st);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		/* the first statement is where a file that is not SQLite shows */
		if ((rc & 0xff) == SQLITE_NOTADB)
			snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->db));
		else
			db_error(s, why, sizeof why, "cannot set WAL mode");
		goto fail;
	}
	const char *sync = o->synchronous ? o->synchronous : "normal";
	if (strcmp(sync, "off") && strcmp(sync, "normal") && strcmp(sync, "full")) {
		snprintf(why, sizeof why, "synchronous '%s' is not off, normal or full", sync);
		goto fail;
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", sync);
	if (exec_retry(s, sql) != SQLITE_OK) {
		db_error(s, why, sizeof why, "cannot set synchronous");
		goto fail;
	}
	if (migrate(s, why, sizeof why))
		goto fail;
	return s;
fail:
	snprintf(err, errlen, "cannot open database '%s': %s", path, why);
	store_close(s);
	return NULL;
}

static void *ckpt_main(void *arg)
{
	struct store *s = arg;
	lock_take(s->ck_lock);
	while (!s->ck_stop) {
		if (s->ck_done == s->ck_asked) {
			lock_wait(s->ck_lock);
			continue;
		}
		long pass = s->ck_asked;
		lock_give(s->ck_lock);
		/* PASSIVE: copies what is committed, never waits for the writer;
		 * SQLITE_BUSY (another process checkpointing) is fine */
		sqlite3_wal_checkpoint_v2(s->ck_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		lock_take(s->ck_lock);
		s->ck_done = pass;
		lock_broadcast(s->ck_lock);
	}
	lock_give(s->ck_lock);
	return NULL;
}

/* After each commit of this connection: n pages in the WAL. */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int n)
{
	(void)db;
	(void)name;
	struct store *s = ud;
	s->wal_frames = n;
	if (n >= s->ck_frames) {
		lock_take(s->ck_lock);
		s->ck_asked++;
		lock_broadcast(s->ck_lock);
		lock_give(s->ck_lock);
	}
	return SQLITE_OK;
}

/* The first write starts the checkpointer, in place of SQLite's automatic
 * checkpoints that would copy the WAL in the writer's own time. Without a
 * second connection the automatic checkpoints stay. */
static void start_checkpointer(struct store *s)
{
	if (s->ck_db || !strcmp(s->path, ":memory:"))
		return;
	if (sqlite3_open_v2(s->path, &s->ck_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close(s->ck_db);
		s->ck_db = NULL;
		return;
	}
	sqlite3_busy_timeout(s->ck_db, 0);
	/* a first read makes the connection see the database in WAL mode */
	if (sqlite3_exec(s->ck_db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(s->ck_db);
		s->ck_db = NULL;
		return;
	}
	long page = 0;
	if (query_long(s, "PRAGMA page_size", &page) != SQLITE_OK || page <= 0)
		page = 4096;
	s->ck_frames = (int)(CKPT_BYTES / page);
	s->restart_frames = (int)(CKPT_RESTART_BYTES / page);
	s->ck_lock = lock_new();
	s->ck = thread_start(ckpt_main, s);
	sqlite3_wal_hook(s->db, wal_hook, s);
}

static void stop_checkpointer(struct store *s)
{
	if (!s->ck)
		return;
	lock_take(s->ck_lock);
	s->ck_stop = 1;
	lock_broadcast(s->ck_lock);
	lock_give(s->ck_lock);
	thread_join(s->ck);
	lock_free(s->ck_lock);
	sqlite3_close(s->ck_db);
	s->ck = NULL;
	s->ck_db = NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	stop_checkpointer(s);
	for (int k = 0; k < Q_COUNT; k++)
		sqlite3_finalize(s->q[k]);
	sqlite3_close(s->db);
	free(s->path);
	buf_free(&s->merged);
	buf_free(&s->errs);
	buf_free(&s->tmp);
	free(s->mold.m);
	free(s->mnew.m);
	free(s->used);
	free(s->le);
	free(s);
}

static int same_key(const char *a, const struct rec_member *ma, const char *b,
		    const struct rec_member *mb)
{
	return ma->ke - ma->ks == mb->ke - mb->ks &&
	       !memcmp(a + ma->ks, b + mb->ks, ma->ke - ma->ks);
}

/* out = old with each member of new replacing the one of the same key
 * where it stands, and new's other members appended in their order. Bytes
 * outside the replaced values are copied as they are. Returns -1 (out
 * untouched) if either text is not an object. */
static int merge_bodies(struct store *s, const char *old, size_t oldn,
			const char *nw, size_t nwn)
{
	size_t oclose, nclose;
	if (rec_scan(old, oldn, &s->mold, &oclose) ||
	    rec_scan(nw, nwn, &s->mnew, &nclose))
		return -1;
	if (s->used_cap < s->mnew.n) {
		s->used_cap = s->mnew.cap;
		s->used = xrealloc(s->used, s->used_cap);
	}
	memset(s->used, 0, s->mnew.n);
	struct buf *out = &s->merged;
	buf_reset(out);
	size_t pos = 0;
	for (size_t i = 0; i < s->mold.n; i++) {
		const struct rec_member *mo = &s->mold.m[i];
		const char *val = old + mo->vs;
		size_t vlen = mo->ve - mo->vs;
		for (size_t j = 0; j < s->mnew.n; j++) {
			const struct rec_member *mn = &s->mnew.m[j];
			if (!s->used[j] && same_key(old, mo, nw, mn)) {
				s->used[j] = 1;
				val = nw + mn->vs;
				vlen = mn->ve - mn->vs;
				break;
			}
		}
		buf_append(out, old + pos, mo->vs - pos);
		buf_append(out, val, vlen);
		pos = mo->ve;
	}
	buf_append(out, old + pos, oclose - pos);
	int empty = s->mold.n == 0;
	for (size_t j = 0; j < s->mnew.n; j++) {
		if (s->used[j])
			continue;
		const struct rec_member *mn = &s->mnew.m[j];
		if (!empty)
			buf_putc(out, ',');
		empty = 0;
		buf_append(out, nw + mn->ks, mn->ve - mn->ks);
	}
	buf_append(out, old + oclose, oldn - oclose);
	return 0;
}

static int host_is_le(void)
{
	const uint16_t one = 1;
	unsigned char b;
	memcpy(&b, &one, 1);
	return b == 1;
}

/* Vector bytes as stored: little-endian float32. */
static const void *vec_bytes(struct store *s, const float *v, size_t dim)
{
	if (host_is_le())
		return v;
	if (s->le_cap < dim * 4) {
		s->le_cap = dim * 4;
		s->le = xrealloc(s->le, s->le_cap);
	}
	for (size_t i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		for (int k = 0; k < 4; k++)
			s->le[i * 4 + (size_t)k] = (unsigned char)(u >> (8 * k));
	}
	return s->le;
}

static int begin(struct store *s, char *err, size_t errlen)
{
	if (s->in_txn)
		return 0;
	start_checkpointer(s);
	if (exec_retry(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
		db_error(s, err, errlen, "cannot begin a transaction");
		return -1;
	}
	s->in_txn = 1;
	s->batch_n = 0;
	s->batch_t0 = now_ms();
	return 0;
}

/* After a failed statement: SQLite may have rolled the whole transaction
 * back (full disk, I/O error); then the batch is gone. Rolls back what is
 * left so the records of the batch are never half written. */
static void abandon_batch(struct store *s, long *lost)
{
	if (lost)
		*lost = s->in_txn ? s->batch_n : 0;
	if (s->in_txn && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = 0;
	s->batch_n = 0;
}

static void bind_span(sqlite3_stmt *st, int i, const char *p, size_t n)
{
	if (p)
		sqlite3_bind_text(st, i, p, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* 1 when both bodies have "text" and its values differ. */
static int text_changed(const char *old, size_t oldn, const char *nw, size_t nwn)
{
	size_t os, oe, ns, ne;
	if (!rec_find(old, oldn, "text", NULL, NULL, &os, &oe) ||
	    !rec_find(nw, nwn, "text", NULL, NULL, &ns, &ne))
		return 0;
	return oe - os != ne - ns || memcmp(old + os, nw + ns, oe - os);
}

/* Drops from the merged body a member the new record does not bring
 * itself. */
static void drop_member(struct store *s, const char *nw, size_t nwn, const char **body,
			size_t *body_len, const char *key)
{
	if (!key || rec_find(nw, nwn, key, NULL, NULL, NULL, NULL) ||
	    !rec_find(*body, *body_len, key, NULL, NULL, NULL, NULL))
		return;
	rec_del(&s->tmp, *body, *body_len, key);
	buf_reset(&s->merged);
	buf_append(&s->merged, s->tmp.p, s->tmp.len);
	*body = s->merged.p;
	*body_len = s->merged.len;
}

/* Drops from the merged body the members of the stages made from the text
 * (stage.h: each one's result and stamp) that the new record does not
 * bring itself. */
static void drop_derived(struct store *s, const char *nw, size_t nwn, const char **body,
			 size_t *body_len)
{
	for (size_t k = 0; k < STAGE_COUNT; k++) {
		const struct stage *st = &stage_table[k];
		if (!st->derived)
			continue;
		drop_member(s, nw, nwn, body, body_len, st->result);
		if (!st->nested) {
			drop_member(s, nw, nwn, body, body_len, st->model);
			drop_member(s, nw, nwn, body, body_len, st->digest);
		}
	}
}

int store_prune_doc(struct store *s, const char *doc, size_t doc_len, long long max_seq,
		    long *removed, long *lost, char *err, size_t errlen)
{
	if (lost)
		*lost = 0;
	*removed = 0;
	if (begin(s, err, errlen))
		return -1;
	static const int order[] = {Q_PRUNE_VECS, Q_PRUNE_STAGES, Q_PRUNE_RECORDS};
	for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
		sqlite3_stmt *st;
		if (stmt(s, order[k], &st, err, errlen)) {
			abandon_batch(s, lost);
			return -1;
		}
		sqlite3_bind_text(st, 1, doc, (int)doc_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, max_seq);
		if (run(st) != SQLITE_OK) {
			db_error(s, err, errlen, "cannot remove the stale segments");
			abandon_batch(s, lost);
			return -1;
		}
		if (order[k] == Q_PRUNE_RECORDS)
			*removed = sqlite3_changes(s->db);
	}
	return 0;
}

int store_put(struct store *s, const struct store_rec *r, long *lost, char *err,
	      size_t errlen)
{
	if (lost)
		*lost = 0;
	if (r->id_len > 0x7fffffff || r->body_len > 0x7fffffff || r->dim > 0x1fffffff) {
		snprintf(err, errlen, "record too big for the database");
		return -1;
	}
	if (begin(s, err, errlen))
		return -1;
	int rc;
	sqlite3_stmt *st;
	sqlite3_stmt *find, *ins, *upd, *vec, *ok, *bad, *carried;
	if (stmt(s, Q_FIND, &find, err, errlen) || stmt(s, Q_INSERT, &ins, err, errlen) ||
	    stmt(s, Q_UPDATE, &upd, err, errlen) || stmt(s, Q_VEC, &vec, err, errlen) ||
	    stmt(s, Q_STAGE_OK, &ok, err, errlen) || stmt(s, Q_STAGE_ERR, &bad, err, errlen) ||
	    stmt(s, Q_STAGE_CARRIED, &carried, err, errlen) ||
	    stmt(s, Q_STALE_VECS, &st, err, errlen) || stmt(s, Q_STALE_STAGES, &st, err, errlen) ||
	    stmt(s, Q_STALE_VEC_MODEL, &st, err, errlen)) {
		abandon_batch(s, lost);
		return -1;
	}
	double now = wall_time();
	const char *body = r->body;
	size_t body_len = r->body_len;

	/* a new record is inserted as it is (the common case of a first put,
	 * one statement); a stored one is read, merged and updated */
	sqlite3_int64 rid = 0;
	int stale = 0;
	st = ins;
	for (;;) {
		if (rid)
			sqlite3_bind_int64(st, 1, rid);
		else
			sqlite3_bind_text(st, 1, r->id, (int)r->id_len, SQLITE_STATIC);
		bind_span(st, 2, r->doc, r->doc_len);
		if (r->has_seq)
			sqlite3_bind_int64(st, 3, r->seq);
		sqlite3_bind_text(st, 4, body, (int)body_len, SQLITE_STATIC);
		if (r->vec)
			bind_span(st, 5, r->vec_model ? r->vec_model : "", r->vec_model_len);
		sqlite3_bind_double(st, 6, now);
		if ((rc = run(st)) != SQLITE_OK)
			goto fail;
		if (st == upd)
			break;
		if (sqlite3_changes(s->db) == 1) {
			rid = sqlite3_last_insert_rowid(s->db);
			break;
		}
		sqlite3_bind_text(find, 1, r->id, (int)r->id_len, SQLITE_STATIC);
		rc = sqlite3_step(find);
		if (rc == SQLITE_ROW) {
			rid = sqlite3_column_int64(find, 0);
			const char *old = sqlite3_column_blob(find, 1);
			size_t oldn = (size_t)sqlite3_column_bytes(find, 1);
			if (old && merge_bodies(s, old, oldn, r->body, r->body_len) == 0) {
				body = s->merged.p;
				body_len = s->merged.len;
				stale = text_changed(old, oldn, r->body, r->body_len);
				if (stale)
					drop_derived(s, r->body, r->body_len, &body, &body_len);
			}
			rc = SQLITE_OK;
		}
		sqlite3_reset(find);
		sqlite3_clear_bindings(find);
		if (rc != SQLITE_OK)
			goto fail;
		st = upd;
	}
	if (stale) {
		/* the outputs of the old text go; the record's own come next */
		sqlite3_bind_int64(s->q[Q_STALE_VECS], 1, rid);
		if ((rc = run(s->q[Q_STALE_VECS])) != SQLITE_OK)
			goto fail;
		for (size_t k = 0; k < STAGE_COUNT; k++) {
			if (!stage_table[k].derived)
				continue;
			st = s->q[Q_STALE_STAGES];
			sqlite3_bind_int64(st, 1, rid);
			sqlite3_bind_text(st, 2, stage_table[k].name, -1, SQLITE_STATIC);
			if ((rc = run(st)) != SQLITE_OK)
				goto fail;
		}
		/* unless the update named the new vector's model */
		if (!r->vec) {
			sqlite3_bind_int64(s->q[Q_STALE_VEC_MODEL], 1, rid);
			if ((rc = run(s->q[Q_STALE_VEC_MODEL])) != SQLITE_OK)
				goto fail;
		}
	}

	if (r->vec) {
		sqlite3_bind_int64(vec, 1, rid);
		bind_span(vec, 2, r->vec_model ? r->vec_model : "", r->vec_model_len);
		sqlite3_bind_int64(vec, 3, (sqlite3_int64)r->dim);
		sqlite3_bind_blob(vec, 4, vec_bytes(s, r->vec, r->dim), (int)(r->dim * 4),
				  SQLITE_STATIC);
		sqlite3_bind_double(vec, 5, now);
		if ((rc = run(vec)) != SQLITE_OK)
			goto fail;
	}

	for (size_t i = 0; i < r->nevents; i++) {
		const struct store_event *e = &r->events[i];
		st = e->ok ? ok : e->carried > 0 ? carried : bad;
		sqlite3_bind_int64(st, 1, rid);
		sqlite3_bind_text(st, 2, e->stage, (int)e->stage_len, SQLITE_STATIC);
		bind_span(st, 3, e->model, e->model_len);
		if (e->ok) {
			sqlite3_bind_double(st, 4, now);
		} else if (e->carried > 0) {
			bind_span(st, 4, e->code, e->code_len);
			bind_span(st, 5, e->message, e->message_len);
			bind_span(st, 6, e->error, e->error_len);
			sqlite3_bind_int64(st, 7, e->carried);
			sqlite3_bind_double(st, 8, now);
			sqlite3_bind_int64(st, 9, s->max_attempts);
		} else {
			bind_span(st, 4, e->code, e->code_len);
			bind_span(st, 5, e->message, e->message_len);
			bind_span(st, 6, e->error, e->error_len);
			sqlite3_bind_int64(st, 7, s->max_attempts);
			sqlite3_bind_double(st, 8, now);
		}
		if ((rc = run(st)) != SQLITE_OK)
			goto fail;
	}
	s->batch_n++;
	return 0;
fail:
	snprintf(err, errlen, "cannot write record: %s", sqlite3_errmsg(s->db));
	abandon_batch(s, lost);
	return -1;
}

int store_commit(struct store *s, long *lost, char *err, size_t errlen)
{
	if (lost)
		*lost = 0;
	if (!s->in_txn)
		return 0;
	if (exec_retry(s, "COMMIT") != SQLITE_OK) {
		db_error(s, err, errlen, "cannot commit");
		abandon_batch(s, lost);
		return -1;
	}
	s->in_txn = 0;
	s->batch_n = 0;
	if (s->ck && s->wal_frames >= s->restart_frames) {
		lock_take(s->ck_lock);
		while (s->ck_done < s->ck_asked && !s->ck_stop)
			lock_wait(s->ck_lock);
		lock_give(s->ck_lock);
	}
	/* when writers take turns, pause so a waiting one can get the lock
	 * before this one begins again */
	if (now_ms() - s->contended_at < 2000)
		sleep_ms(1 + jitter(s));
	return 0;
}

long store_batch_records(const struct store *s)
{
	return s->in_txn ? s->batch_n : 0;
}

double store_batch_age_ms(const struct store *s)
{
	return s->in_txn ? now_ms() - s->batch_t0 : 0;
}

/* Shortest text that reads back as the same float32. */
static void put_float(struct buf *b, float f)
{
	char t[32];
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(t, sizeof t, "%.*g", prec, (double)f);
		if (strtof(t, NULL) == f)
			break;
	}
	buf_puts(b, t);
}

static float le_float(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		     (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static int append_errors(struct store *s, sqlite3_int64 rid, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	buf_reset(&s->errs);
	if (stmt(s, Q_ERRORS, &st, err, errlen))
		return -1;
	sqlite3_bind_int64(st, 1, rid);
	int rc;
	while ((rc = step_retry(s, st)) == SQLITE_ROW) {
		const char *stage = (const char *)sqlite3_column_text(st, 0);
		const char *raw = sqlite3_column_blob(st, 1);
		size_t rawn = (size_t)sqlite3_column_bytes(st, 1);
		char failures[32];
		snprintf(failures, sizeof failures, "%lld", (long long)sqlite3_column_int64(st, 4));
		buf_putc(&s->errs, s->errs.len ? ',' : '{');
		buf_json_str(&s->errs, stage ? stage : "", stage ? strlen(stage) : 0);
		buf_putc(&s->errs, ':');
		/* the entry as the stage wrote it, with the store's count of
		 * failures: a record read from the store and put back carries
		 * it, and is not counted as a new failure */
		if (raw && rawn >= 2 && raw[0] == '{') {
			rec_set(&s->tmp, raw, rawn, "failures", failures, strlen(failures));
			buf_append(&s->errs, s->tmp.p, s->tmp.len);
		} else {
			const char *code = (const char *)sqlite3_column_text(st, 2);
			const char *msg = (const char *)sqlite3_column_text(st, 3);
			code = code ? code : "error";
			msg = msg ? msg : "";
			buf_puts(&s->errs, "{\"code\":");
			buf_json_str(&s->errs, code, strlen(code));
			buf_puts(&s->errs, ",\"message\":");
			buf_json_str(&s->errs, msg, strlen(msg));
			buf_printf(&s->errs, ",\"failures\":%s}", failures);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		db_error(s, err, errlen, "cannot read stages");
		return -1;
	}
	if (s->errs.len)
		buf_putc(&s->errs, '}');
	return 0;
}

/* Appends body + embedding + embedding_model + errors (s->errs) to out. */
static void assemble(struct store *s, struct buf *out, const char *body, size_t blen,
		     const char *model, const unsigned char *vec, size_t vbytes)
{
	size_t close = blen;
	while (close > 0 && body[close - 1] != '}')
		close--;
	if (close == 0) { /* not an object: cannot happen for stored bodies */
		buf_append(out, body, blen);
		return;
	}
	close--;
	size_t last = close;
	while (last > 0 && (body[last - 1] == ' ' || body[last - 1] == '\t' ||
			    body[last - 1] == '\n' || body[last - 1] == '\r'))
		last--;
	int empty = last > 0 && body[last - 1] == '{';
	buf_append(out, body, last);
	if (vec && model) {
		buf_puts(out, empty ? "\"embedding\":[" : ",\"embedding\":[");
		for (size_t i = 0; i + 4 <= vbytes; i += 4) {
			if (i)
				buf_putc(out, ',');
			put_float(out, le_float(vec + i));
		}
		buf_puts(out, "],\"embedding_model\":");
		buf_json_str(out, model, strlen(model));
		empty = 0;
	}
	if (s->errs.len) {
		buf_puts(out, empty ? "\"errors\":" : ",\"errors\":");
		buf_append(out, s->errs.p, s->errs.len);
	}
	buf_append(out, body + close, blen - close);
}

int store_get(struct store *s, const char *id, const char *model,
	      struct buf *out, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (stmt(s, Q_GET, &st, err, errlen))
		return -1;
	/* one snapshot for the record and its stages */
	int own = sqlite3_get_autocommit(s->db);
	if (own && exec_retry(s, "BEGIN") != SQLITE_OK) {
		db_error(s, err, errlen, "cannot read");
		return -1;
	}
	size_t id_len = strlen(id);
	sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
	if (model)
		sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	int found = 0;
	int rc = step_retry(s, st);
	if (rc == SQLITE_ROW) {
		found = 1;
		if (append_errors(s, sqlite3_column_int64(st, 0), err, errlen)) {
			found = -1;
		} else {
			const char *body = sqlite3_column_blob(st, 1);
			size_t blen = (size_t)sqlite3_column_bytes(st, 1);
			const char *vm = (const char *)sqlite3_column_text(st, 2);
			const unsigned char *vec = sqlite3_column_blob(st, 3);
			size_t vbytes = (size_t)sqlite3_column_bytes(st, 3);
			assemble(s, out, body ? body : "{}", body ? blen : 2, vm, vec, vbytes);
		}
	} else if (rc != SQLITE_DONE) {
		db_error(s, err, errlen, "cannot read");
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return found;
}

int store_scan(struct store *s, const struct store_query *q, store_row_fn fn,
	       void *ud, char *err, size_t errlen)
{
	struct buf sql = {0};
	buf_puts(&sql, "SELECT r.rid, r.body, v.model, v.vec FROM records r"
		       " LEFT JOIN vector_data v ON v.rid = r.rid"
		       " AND v.model = coalesce(?1, r.vec_model)");
	int by_stage = q->stage && (q->pending || q->status != STORE_ANY);
	if (by_stage)
		buf_puts(&sql, " LEFT JOIN stage_data s ON s.rid = r.rid AND s.stage = ?2");
	buf_puts(&sql, " WHERE 1");
	if (q->doc)
		buf_puts(&sql, " AND r.doc = ?3");
	if (by_stage && q->pending) {
		buf_puts(&sql, " AND (s.status IS NULL OR (s.status = 'error' AND s.failures < ?5)");
		const struct stage *sd = stage_find(q->stage, strlen(q->stage));
		if (q->model && sd && sd->vector)
			buf_puts(&sql, " OR (s.status = 'ok' AND NOT EXISTS (SELECT 1"
				       " FROM vector_data w WHERE w.rid = r.rid AND w.model = ?4))");
		else if (q->model)
			buf_puts(&sql, " OR (s.status = 'ok' AND s.model IS NOT ?4)");
		buf_putc(&sql, ')');
	} else if (by_stage) {
		switch (q->status) {
		case STORE_OK: buf_puts(&sql, " AND s.status = 'ok'"); break;
		case STORE_ERROR: buf_puts(&sql, " AND s.status = 'error'"); break;
		case STORE_GIVEN_UP: buf_puts(&sql, " AND s.status = 'given_up'"); break;
		default: buf_puts(&sql, " AND s.status IS NULL"); break;
		}
	}
	if (q->pending || q->order == STORE_BY_DOC)
		buf_puts(&sql, " ORDER BY r.doc, r.seq, r.id");
	else
		buf_puts(&sql, " ORDER BY r.id");

	sqlite3_stmt *st = NULL;
	int ret = 0, rc;
	int own = sqlite3_get_autocommit(s->db);
	if (own && exec_retry(s, "BEGIN") != SQLITE_OK) {
		db_error(s, err, errlen, "cannot read");
		buf_free(&sql);
		return -1;
	}
	if (prepare_retry(s, sql.p, &st) != SQLITE_OK) {
		db_error(s, err, errlen, "cannot read");
		ret = -1;
		goto out;
	}
	if (!q->pending && q->model)
		sqlite3_bind_text(st, 1, q->model, -1, SQLITE_STATIC);
	if (by_stage)
		sqlite3_bind_text(st, 2, q->stage, -1, SQLITE_STATIC);
	if (q->doc)
		sqlite3_bind_text(st, 3, q->doc, -1, SQLITE_STATIC);
	if (q->pending && q->model)
		sqlite3_bind_text(st, 4, q->model, -1, SQLITE_STATIC);
	if (q->pending)
		sqlite3_bind_int64(st, 5, s->max_attempts);
	struct buf line = {0};
	while ((rc = step_retry(s, st)) == SQLITE_ROW) {
		if (append_errors(s, sqlite3_column_int64(st, 0), err, errlen)) {
			ret = -1;
			break;
		}
		const char *body = sqlite3_column_blob(st, 1);
		size_t blen = (size_t)sqlite3_column_bytes(st, 1);
		const char *vm = (const char *)sqlite3_column_text(st, 2);
		const unsigned char *vec = sqlite3_column_blob(st, 3);
		size_t vbytes = (size_t)sqlite3_column_bytes(st, 3);
		buf_reset(&line);
		assemble(s, &line, body ? body : "{}", body ? blen : 2, vm, vec, vbytes);
		if (fn(line.p, line.len, ud)) {
			ret = 1;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		db_error(s, err, errlen, "cannot read");
		ret = -1;
	}
	buf_free(&line);
out:
	sqlite3_finalize(st);
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	buf_free(&sql);
	return ret;
}

static struct store_stage_count *stage_slot(struct store_stats *st, const char *name)
{
	for (size_t i = 0; i < st->nstages; i++)
		if (!strcmp(st->stages[i].stage, name))
			return &st->stages[i];
	st->stages = xrealloc(st->stages, (st->nstages + 1) * sizeof *st->stages);
	struct store_stage_count *c = &st->stages[st->nstages++];
	memset(c, 0, sizeof *c);
	c->stage = xstrdup(name);
	return c;
}

int store_stats(struct store *s, struct store_stats *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	st->schema = STORE_SCHEMA_VERSION;
	for (size_t k = 0; k < STAGE_COUNT; k++)
		stage_slot(st, stage_table[k].name);
	int own = sqlite3_get_autocommit(s->db);
	if (own && exec_retry(s, "BEGIN") != SQLITE_OK)
		goto fail;
	if (query_long(s, "SELECT count(*) FROM records", &st->records) != SQLITE_OK)
		goto fail;
	sqlite3_stmt *q = NULL;
	if (prepare_retry(s, "SELECT model, count(*), max(dim) FROM vector_data GROUP BY model"
			  " ORDER BY model", &q) != SQLITE_OK)
		goto fail;
	int rc;
	while ((rc = step_retry(s, q)) == SQLITE_ROW) {
		st->models = xrealloc(st->models, (st->nmodels + 1) * sizeof *st->models);
		struct store_model_count *m = &st->models[st->nmodels++];
		const char *name = (const char *)sqlite3_column_text(q, 0);
		m->model = xstrdup(name ? name : "");
		m->vectors = (long)sqlite3_column_int64(q, 1);
		m->dim = (long)sqlite3_column_int64(q, 2);
		st->vectors += m->vectors;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		goto fail;
	if (prepare_retry(s, "SELECT stage, status, count(*) FROM stage_data GROUP BY stage, status"
			  " ORDER BY stage", &q) != SQLITE_OK)
		goto fail;
	while ((rc = step_retry(s, q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		const char *status = (const char *)sqlite3_column_text(q, 1);
		long n = (long)sqlite3_column_int64(q, 2);
		struct store_stage_count *c = stage_slot(st, name ? name : "");
		switch (store_status_parse(status ? status : "")) {
		case STORE_OK: c->ok += n; break;
		case STORE_ERROR: c->error += n; break;
		case STORE_GIVEN_UP: c->given_up += n; st->given_up += n; break;
		default: break;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		goto fail;
	for (size_t i = 0; i < st->nstages; i++) {
		struct store_stage_count *c = &st->stages[i];
		c->missing = st->records - c->ok - c->error - c->given_up;
		if (c->missing < 0)
			c->missing = 0;
	}
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return 0;
fail:
	db_error(s, err, errlen, "cannot count");
	if (own && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	store_stats_free(st);
	return -1;
}

void store_stats_free(struct store_stats *st)
{
	for (size_t i = 0; i < st->nstages; i++)
		free(st->stages[i].stage);
	for (size_t i = 0; i < st->nmodels; i++)
		free(st->models[i].model);
	free(st->stages);
	free(st->models);
	memset(st, 0, sizeof *st);
}

/* Pages copied per backup step: small steps keep each one short. */
#define BACKUP_STEP_PAGES 256

int store_backup(struct store *s, const char *path, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp", path);
	sqlite3 *dst = NULL;
	sqlite3_backup *bk = NULL;
	int ret = -1, rc;
	int snap = 0;
	unlink(tmp);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		int sys = dst ? sqlite3_system_errno(dst) : 0;
		snprintf(err, errlen, "cannot create '%s': %s%s%s", tmp,
			 dst ? sqlite3_errmsg(dst) : "out of memory", sys ? ": " : "",
			 sys ? strerror(sys) : "");
		goto out;
	}
	/* a read transaction held across the steps: every step copies the same
	 * snapshot, and commits by other writers do not restart the copy (in
	 * WAL mode they go on meanwhile) */
	if (exec_retry(s, "BEGIN") != SQLITE_OK ||
	    exec_retry(s, "SELECT count(*) FROM sqlite_master") != SQLITE_OK) {
		db_error(s, err, errlen, "cannot read the database");
		goto out;
	}
	snap = 1;
	bk = sqlite3_backup_init(dst, "main", s->db, "main");
	if (!bk) {
		snprintf(err, errlen, "cannot start the backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	double t0 = now_ms();
	for (;;) {
		rc = sqlite3_backup_step(bk, BACKUP_STEP_PAGES);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_OK)
			continue;
		if (is_busy(rc) && now_ms() - t0 < (double)s->busy_timeout_ms) {
			sleep_ms(5 * jitter(s));
			continue;
		}
		snprintf(err, errlen, "backup failed: %s", sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_backup_finish(bk);
	bk = NULL;
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "backup failed: %s", sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	snap = 0;
	/* a self-contained single file, then checked before it replaces path */
	sqlite3_stmt *st = NULL;
	char *msg = NULL;
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot finish '%s': %s", tmp, msg ? msg : "?");
		sqlite3_free(msg);
		goto out;
	}
	if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		snprintf(err, errlen, "the copy '%s' fails its check: %s", tmp,
			 st && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
							  : sqlite3_errmsg(dst));
		sqlite3_finalize(st);
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_close(dst) != SQLITE_OK) {
		snprintf(err, errlen, "cannot close '%s': %s", tmp, sqlite3_errmsg(dst));
		goto out;
	}
	dst = NULL;
	if (rename(tmp, path)) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (snap)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (dst) {
		sqlite3_close(dst);
		unlink(tmp);
	}
	free(tmp);
	return ret;
}

enum store_status store_status_parse(const char *s)
{
	if (!strcmp(s, "ok"))
		return STORE_OK;
	if (!strcmp(s, "error"))
		return STORE_ERROR;
	if (!strcmp(s, "given_up"))
		return STORE_GIVEN_UP;
	if (!strcmp(s, "missing"))
		return STORE_MISSING;
	return STORE_ANY;
}

const char *store_status_name(enum store_status st)
{
	switch (st) {
	case STORE_OK: return "ok";
	case STORE_ERROR: return "error";
	case STORE_GIVEN_UP: return "given_up";
	case STORE_MISSING: return "missing";
	default: return "any";
	}
}
