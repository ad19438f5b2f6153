/* sqlite_write: the SQLite backend's write path: records put in batches,
 * one BEGIN IMMEDIATE transaction each (retried while another writer
 * holds the lock), prepared statements reused for every record, a stored
 * record merged on its text (store_body.c), vectors as float32 BLOBs, the
 * status of each stage; the pruning of a document's stale segments and
 * the deletion of records. */
#include "sqlite_db.h"
#include "stage.h"

#include <stdio.h>
#include <string.h>

static const char *const sql_find = "SELECT rid, body FROM records WHERE id = ?1";
static const char *const sql_insert =
	"INSERT INTO records(id, doc, seq, body, vec_model, updated)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING";
/* rows are only written when something changes: a rerun rewrites nothing,
 * and updated says when a row last changed */
static const char *const sql_update =
	"UPDATE records SET doc = coalesce(?2, doc), seq = coalesce(?3, seq),"
	" body = ?4, vec_model = coalesce(?5, vec_model), updated = ?6"
	" WHERE rid = ?1 AND (body IS NOT ?4 OR doc IS NOT coalesce(?2, doc)"
	" OR seq IS NOT coalesce(?3, seq) OR vec_model IS NOT coalesce(?5, vec_model))";
static const char *const sql_vec =
	"INSERT INTO vector_data(rid, model, dim, vec, updated)"
	" VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(rid, model) DO UPDATE SET"
	" dim = excluded.dim, vec = excluded.vec, updated = excluded.updated"
	" WHERE vec IS NOT excluded.vec";
static const char *const sql_stage_ok =
	"INSERT INTO stage_data(rid, stage, status, model, failures, updated, fingerprint)"
	" VALUES(?1, ?2, 'ok', ?3, 0, ?4, ?5) ON CONFLICT(rid, stage) DO UPDATE SET"
	" status = 'ok', model = excluded.model, failures = 0, code = NULL,"
	" message = NULL, error = NULL, updated = excluded.updated,"
	" fingerprint = excluded.fingerprint"
	" WHERE status IS NOT 'ok' OR model IS NOT excluded.model"
	" OR fingerprint IS NOT excluded.fingerprint";
/* a result kept by content (stage, fingerprint, input hash) */
static const char *const sql_result_put =
	"INSERT INTO results(stage, fingerprint, input, members, vec, updated)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(stage, fingerprint, input) DO UPDATE SET"
	" members = excluded.members, vec = excluded.vec, updated = excluded.updated"
	" WHERE members IS NOT excluded.members OR vec IS NOT excluded.vec";
static const char *const sql_stage_err =
	"INSERT INTO stage_data(rid, stage, status, model, failures, code,"
	" message, error, updated) VALUES(?1, ?2,"
	" CASE WHEN ?7 <= 1 THEN 'given_up' ELSE 'error' END,"
	" ?3, 1, ?4, ?5, ?6, ?8) ON CONFLICT(rid, stage) DO UPDATE SET"
	" failures = stage_data.failures + 1,"
	" status = CASE WHEN stage_data.status = 'given_up'"
	" OR stage_data.failures + 1 >= ?7 THEN 'given_up' ELSE 'error' END,"
	" model = coalesce(excluded.model, stage_data.model), code = excluded.code,"
	" message = excluded.message, error = excluded.error,"
	" updated = excluded.updated";
/* an error the store itself wrote out, passing through again: kept as
 * stored, or (in another database) stored with its count */
static const char *const sql_stage_carried =
	"INSERT INTO stage_data(rid, stage, status, model, failures, code,"
	" message, error, updated) VALUES(?1, ?2,"
	" CASE WHEN ?7 >= ?9 THEN 'given_up' ELSE 'error' END,"
	" ?3, ?7, ?4, ?5, ?6, ?8) ON CONFLICT(rid, stage) DO NOTHING";
/* a record whose text changed: what was derived from the old text */
static const char *const sql_stale_vecs = "DELETE FROM vector_data WHERE rid = ?1";
static const char *const sql_stale_stages =
	"DELETE FROM stage_data WHERE rid = ?1 AND stage = ?2";
static const char *const sql_stale_vec_model =
	"UPDATE records SET vec_model = NULL WHERE rid = ?1";
/* the segments of a document past its new last one, and the record of
 * the document itself that a failed segment run left (id = doc, no seq):
 * the document has segments now */
static const char *const sql_prune[3] = {
	"DELETE FROM vector_data WHERE rid IN (SELECT rid FROM records WHERE doc = ?1"
	" AND (seq > ?2 OR (seq IS NULL AND id = ?1)))",
	"DELETE FROM stage_data WHERE rid IN (SELECT rid FROM records WHERE doc = ?1"
	" AND (seq > ?2 OR (seq IS NULL AND id = ?1)))",
	"DELETE FROM records WHERE doc = ?1 AND (seq > ?2 OR (seq IS NULL AND id = ?1))",
};
/* the records of one id, or of one document, with their vectors and
 * stages */
static const char *const sql_delete[2][3] = {
	{"DELETE FROM vector_data WHERE rid IN (SELECT rid FROM records WHERE id = ?1)",
	 "DELETE FROM stage_data WHERE rid IN (SELECT rid FROM records WHERE id = ?1)",
	 "DELETE FROM records WHERE id = ?1"},
	{"DELETE FROM vector_data WHERE rid IN (SELECT rid FROM records WHERE doc = ?1)",
	 "DELETE FROM stage_data WHERE rid IN (SELECT rid FROM records WHERE doc = ?1)",
	 "DELETE FROM records WHERE doc = ?1"},
};

static int begin(struct sqlite_db *s, char *err, size_t errlen)
{
	if (s->in_txn)
		return 0;
	sqlite_ckpt_start(s);
	if (sqlite_exec_retry(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot begin a transaction");
		return -1;
	}
	s->in_txn = 1;
	s->batch_n = 0;
	s->batch_t0 = now_ms();
	/* claims held (store claim) when the batch begins: puts release them */
	long held = 0;
	if (sqlite_query_long(s, "SELECT count(*) FROM sqlite_master WHERE name = 'claims'",
			      &held) == SQLITE_OK && held &&
	    sqlite_query_long(s, "SELECT EXISTS (SELECT 1 FROM claims)", &held) != SQLITE_OK)
		held = 0;
	s->claims = held > 0;
	return 0;
}

/* After a failed statement: SQLite may have rolled the whole transaction
 * back (full disk, I/O error); then the batch is gone. Rolls back what is
 * left so the records of the batch are never half written. */
static void abandon_batch(struct sqlite_db *s, long *lost)
{
	if (lost)
		*lost = s->in_txn ? s->batch_n : 0;
	if (s->in_txn && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = 0;
	s->batch_n = 0;
}

/* Runs the three deletes sql[] (vectors, stages, records) in the batch
 * with key as ?1 and, when seq is not NULL, *seq as ?2; the records
 * deleted go to *removed. */
static int delete_rows(struct sqlite_db *s, const int slot[3], const char *const sql[3],
		       const char *key, size_t len, const long long *seq, long *removed,
		       long *lost, char *err, size_t errlen)
{
	if (lost)
		*lost = 0;
	*removed = 0;
	if (begin(s, err, errlen))
		return -1;
	for (size_t k = 0; k < 3; k++) {
		sqlite3_stmt *st;
		if (sqlite_stmt(s, slot[k], sql[k], &st, err, errlen)) {
			abandon_batch(s, lost);
			return -1;
		}
		sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
		if (seq)
			sqlite3_bind_int64(st, 2, *seq);
		if (sqlite_run(st) != SQLITE_OK) {
			sqlite_db_error(s, err, errlen, "cannot delete records");
			abandon_batch(s, lost);
			return -1;
		}
		if (k == 2)
			*removed = sqlite3_changes(s->db);
	}
	return 0;
}

int sqlite_prune_doc(void *c, const char *doc, size_t doc_len, long long max_seq,
		     long *removed, long *lost, char *err, size_t errlen)
{
	static const int slot[3] = {Q_PRUNE_VECS, Q_PRUNE_STAGES, Q_PRUNE_RECORDS};
	return delete_rows(c, slot, sql_prune, doc, doc_len, &max_seq, removed, lost, err,
			   errlen);
}

int sqlite_delete(void *c, const char *key, size_t len, int by_doc, long *removed, long *lost,
		  char *err, size_t errlen)
{
	static const int slot[2][3] = {
		{Q_DELETE_ID_VECS, Q_DELETE_ID_STAGES, Q_DELETE_ID},
		{Q_DELETE_DOC_VECS, Q_DELETE_DOC_STAGES, Q_DELETE_DOC},
	};
	by_doc = by_doc != 0;
	return delete_rows(c, slot[by_doc], sql_delete[by_doc], key, len, NULL, removed, lost,
			   err, errlen);
}

/* The record's row: a new record is inserted as it is (the common case of
 * a first put, one statement); a stored one is read, merged and updated.
 * Sets *rid and *stale (the text changed). Returns an SQLite code. */
static int put_row(struct sqlite_db *s, const struct store_rec *r, double now,
		   sqlite3_int64 *rid, int *stale)
{
	const char *body = r->body;
	size_t body_len = r->body_len;
	sqlite3_stmt *st = s->q[Q_INSERT], *find = s->q[Q_FIND];
	int rc;
	*rid = 0;
	*stale = 0;
	for (;;) {
		if (*rid)
			sqlite3_bind_int64(st, 1, *rid);
		else
			sqlite3_bind_text(st, 1, r->id, (int)r->id_len, SQLITE_STATIC);
		sqlite_bind_span(st, 2, r->doc, r->doc_len);
		if (r->has_seq)
			sqlite3_bind_int64(st, 3, r->seq);
		sqlite3_bind_text(st, 4, body, (int)body_len, SQLITE_STATIC);
		if (r->vec)
			sqlite_bind_span(st, 5, r->vec_model ? r->vec_model : "", r->vec_model_len);
		sqlite3_bind_double(st, 6, now);
		if ((rc = sqlite_run(st)) != SQLITE_OK || st == s->q[Q_UPDATE])
			return rc;
		if (sqlite3_changes(s->db) == 1) {
			*rid = sqlite3_last_insert_rowid(s->db);
			return SQLITE_OK;
		}
		sqlite3_bind_text(find, 1, r->id, (int)r->id_len, SQLITE_STATIC);
		rc = sqlite3_step(find);
		if (rc == SQLITE_ROW) {
			*rid = sqlite3_column_int64(find, 0);
			const char *old = sqlite3_column_blob(find, 1);
			size_t oldn = (size_t)sqlite3_column_bytes(find, 1);
			if (old)
				store_body_merge(&s->body, old, oldn, r->body, r->body_len, &body,
						 &body_len, stale);
			rc = SQLITE_OK;
		}
		sqlite3_reset(find);
		sqlite3_clear_bindings(find);
		if (rc != SQLITE_OK)
			return rc;
		st = s->q[Q_UPDATE];
	}
}

/* A record whose text changed: its vectors and the stages derived from
 * the text go; the record's own come next. */
static int drop_stale(struct sqlite_db *s, const struct store_rec *r, sqlite3_int64 rid)
{
	int rc;
	sqlite3_bind_int64(s->q[Q_STALE_VECS], 1, rid);
	if ((rc = sqlite_run(s->q[Q_STALE_VECS])) != SQLITE_OK)
		return rc;
	for (size_t k = 0; k < STAGE_COUNT; k++) {
		if (!stage_table[k].derived)
			continue;
		sqlite3_stmt *st = s->q[Q_STALE_STAGES];
		sqlite3_bind_int64(st, 1, rid);
		sqlite3_bind_text(st, 2, stage_table[k].name, -1, SQLITE_STATIC);
		if ((rc = sqlite_run(st)) != SQLITE_OK)
			return rc;
	}
	/* unless the update named the new vector's model */
	if (r->vec)
		return SQLITE_OK;
	sqlite3_bind_int64(s->q[Q_STALE_VEC_MODEL], 1, rid);
	return sqlite_run(s->q[Q_STALE_VEC_MODEL]);
}

/* An ok result with a fingerprint and an input hash, kept by content. */
static int put_result(struct sqlite_db *s, const struct store_rec *r, const struct store_event *e,
		      double now)
{
	const struct stage *sd = stage_find(e->stage, e->stage_len);
	sqlite3_stmt *st = s->q[Q_RESULT_PUT];
	sqlite3_bind_text(st, 1, e->stage, (int)e->stage_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->fingerprint, (int)e->fingerprint_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->input, (int)e->input_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->members, (int)e->members_len, SQLITE_STATIC);
	if (sd && sd->vector && r->vec)
		sqlite3_bind_blob(st, 5, store_body_vec_bytes(&s->body, r->vec, r->dim),
				  (int)(r->dim * 4), SQLITE_STATIC);
	sqlite3_bind_double(st, 6, now);
	return sqlite_run(st);
}

static int put_event(struct sqlite_db *s, const struct store_rec *r, const struct store_event *e,
		     sqlite3_int64 rid, double now)
{
	sqlite3_stmt *st = s->q[e->ok ? Q_STAGE_OK : e->carried > 0 ? Q_STAGE_CARRIED : Q_STAGE_ERR];
	sqlite3_bind_int64(st, 1, rid);
	sqlite3_bind_text(st, 2, e->stage, (int)e->stage_len, SQLITE_STATIC);
	sqlite_bind_span(st, 3, e->model, e->model_len);
	if (e->ok) {
		sqlite3_bind_double(st, 4, now);
		sqlite_bind_span(st, 5, e->fingerprint, e->fingerprint_len);
		int rc = sqlite_run(st);
		if (rc == SQLITE_OK && e->fingerprint && e->input && e->members)
			rc = put_result(s, r, e, now);
		return rc;
	}
	sqlite_bind_span(st, 4, e->code, e->code_len);
	sqlite_bind_span(st, 5, e->message, e->message_len);
	sqlite_bind_span(st, 6, e->error, e->error_len);
	if (e->carried > 0) {
		sqlite3_bind_int64(st, 7, e->carried);
		sqlite3_bind_double(st, 8, now);
		sqlite3_bind_int64(st, 9, s->max_attempts);
	} else {
		sqlite3_bind_int64(st, 7, s->max_attempts);
		sqlite3_bind_double(st, 8, now);
	}
	return sqlite_run(st);
}

/* A put of a stage's result releases the record's claim of that stage. */
static int unclaim(struct sqlite_db *s, const struct store_event *e, sqlite3_int64 rid)
{
	sqlite3_stmt *st;
	char err[256];
	if (!s->claims)
		return SQLITE_OK;
	if (sqlite_stmt(s, Q_UNCLAIM, "DELETE FROM claims WHERE rid = ?1 AND stage = ?2", &st, err,
			sizeof err))
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, rid);
	sqlite3_bind_text(st, 2, e->stage, (int)e->stage_len, SQLITE_STATIC);
	return sqlite_run(st);
}

int sqlite_write(void *c, const struct store_rec *r, long *lost, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	static const struct {
		int slot;
		const char *const *sql;
	} used[] = {
		{Q_FIND, &sql_find}, {Q_INSERT, &sql_insert}, {Q_UPDATE, &sql_update},
		{Q_VEC, &sql_vec}, {Q_STAGE_OK, &sql_stage_ok}, {Q_STAGE_ERR, &sql_stage_err},
		{Q_STAGE_CARRIED, &sql_stage_carried}, {Q_RESULT_PUT, &sql_result_put},
		{Q_STALE_VECS, &sql_stale_vecs},
		{Q_STALE_STAGES, &sql_stale_stages}, {Q_STALE_VEC_MODEL, &sql_stale_vec_model},
	};
	if (lost)
		*lost = 0;
	if (r->id_len > 0x7fffffff || r->body_len > 0x7fffffff || r->dim > 0x1fffffff) {
		snprintf(err, errlen, "record too big for the database");
		return -1;
	}
	if (begin(s, err, errlen))
		return -1;
	for (size_t k = 0; k < sizeof used / sizeof used[0]; k++) {
		sqlite3_stmt *st;
		if (sqlite_stmt(s, used[k].slot, *used[k].sql, &st, err, errlen)) {
			abandon_batch(s, lost);
			return -1;
		}
	}
	double now = wall_time();
	sqlite3_int64 rid;
	int stale, rc = put_row(s, r, now, &rid, &stale);
	if (rc == SQLITE_OK && stale)
		rc = drop_stale(s, r, rid);
	if (rc == SQLITE_OK && r->vec) {
		sqlite3_stmt *vec = s->q[Q_VEC];
		sqlite3_bind_int64(vec, 1, rid);
		sqlite_bind_span(vec, 2, r->vec_model ? r->vec_model : "", r->vec_model_len);
		sqlite3_bind_int64(vec, 3, (sqlite3_int64)r->dim);
		sqlite3_bind_blob(vec, 4, store_body_vec_bytes(&s->body, r->vec, r->dim),
				  (int)(r->dim * 4), SQLITE_STATIC);
		sqlite3_bind_double(vec, 5, now);
		rc = sqlite_run(vec);
	}
	for (size_t i = 0; rc == SQLITE_OK && i < r->nevents; i++) {
		rc = put_event(s, r, &r->events[i], rid, now);
		if (rc == SQLITE_OK)
			rc = unclaim(s, &r->events[i], rid);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot write record: %s", sqlite3_errmsg(s->db));
		abandon_batch(s, lost);
		return -1;
	}
	s->batch_n++;
	return 0;
}

int sqlite_commit(void *c, long *lost, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	if (lost)
		*lost = 0;
	if (!s->in_txn)
		return 0;
	if (sqlite_exec_retry(s, "COMMIT") != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot commit");
		abandon_batch(s, lost);
		return -1;
	}
	s->in_txn = 0;
	s->batch_n = 0;
	sqlite_ckpt_after_commit(s);
	/* when writers take turns, pause so a waiting one can get the lock
	 * before this one begins again */
	if (now_ms() - s->contended_at < 2000)
		sleep_ms(1 + sqlite_jitter(s));
	return 0;
}

long sqlite_batch_records(const void *c)
{
	const struct sqlite_db *s = c;
	return s->in_txn ? s->batch_n : 0;
}

double sqlite_batch_age_ms(const void *c)
{
	const struct sqlite_db *s = c;
	return s->in_txn ? now_ms() - s->batch_t0 : 0;
}

static const char *const sql_log_add =
	"INSERT INTO llm_log(ts, stage, model, code, prompt_tokens, completion_tokens, entry, kind)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char *const sql_log_id =
	"INSERT OR IGNORE INTO llm_log_ids(id, n) VALUES(?1, ?2)";

int sqlite_log_add(void *c, const struct store_log_entry *e, long *lost, char *err,
		   size_t errlen)
{
	struct sqlite_db *s = c;
	if (lost)
		*lost = 0;
	sqlite3_stmt *add, *idq;
	if (begin(s, err, errlen))
		return -1;
	if (sqlite_stmt(s, Q_LOG_ADD, sql_log_add, &add, err, errlen) ||
	    sqlite_stmt(s, Q_LOG_ID, sql_log_id, &idq, err, errlen)) {
		abandon_batch(s, lost);
		return -1;
	}
	sqlite3_bind_text(add, 1, e->ts, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 2, e->stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 3, e->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 4, e->code, -1, SQLITE_STATIC);
	if (e->prompt_tokens >= 0)
		sqlite3_bind_int64(add, 5, e->prompt_tokens);
	if (e->completion_tokens >= 0)
		sqlite3_bind_int64(add, 6, e->completion_tokens);
	sqlite3_bind_text(add, 7, e->line, (int)e->len, SQLITE_STATIC);
	sqlite3_bind_text(add, 8, e->kind, -1, SQLITE_STATIC);
	int rc = sqlite_run(add);
	sqlite3_int64 n = sqlite3_last_insert_rowid(s->db);
	for (size_t i = 0; rc == SQLITE_OK && i < e->nids; i++) {
		sqlite3_bind_text(idq, 1, e->ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(idq, 2, n);
		rc = sqlite_run(idq);
	}
	if (rc != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot add to the request log");
		abandon_batch(s, lost);
		return -1;
	}
	s->batch_n++;
	return 0;
}
