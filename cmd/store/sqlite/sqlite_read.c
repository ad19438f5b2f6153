/* sqlite_read: the SQLite backend's read path: one record, a stream of
 * the records a query selects (the input of a resumed stage among them),
 * the stored documents, and the counts of stats, each read from one
 * snapshot. */
#include "sqlite_db.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sql_get =
	"SELECT r.rid, r.body, v.model, v.vec FROM records r LEFT JOIN vector_data v"
	" ON v.rid = r.rid AND v.model = coalesce(?2, r.vec_model) WHERE r.id = ?1";
static const char *const sql_errors =
	"SELECT stage, error, code, message, failures FROM stage_data"
	" WHERE rid = ?1 AND status <> 'ok' ORDER BY stage";

/* s->errs = the "errors" object of record rid, from its failed stages. */
static int read_errors(struct sqlite_db *s, sqlite3_int64 rid, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	buf_reset(&s->errs);
	if (sqlite_stmt(s, Q_ERRORS, sql_errors, &st, err, errlen))
		return -1;
	sqlite3_bind_int64(st, 1, rid);
	int rc;
	while ((rc = sqlite_step_retry(s, st)) == SQLITE_ROW) {
		const char *stage = (const char *)sqlite3_column_text(st, 0);
		store_body_error(&s->errs, stage ? stage : "", sqlite3_column_blob(st, 1),
				 (size_t)sqlite3_column_bytes(st, 1),
				 (const char *)sqlite3_column_text(st, 2),
				 (const char *)sqlite3_column_text(st, 3),
				 (long long)sqlite3_column_int64(st, 4));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		sqlite_db_error(s, err, errlen, "cannot read stages");
		return -1;
	}
	store_body_errors_end(&s->errs);
	return 0;
}

/* Appends the record of the row st stands on (rid, body, vector model,
 * vector) to out. */
static int row_line(struct sqlite_db *s, sqlite3_stmt *st, struct buf *out, char *err,
		    size_t errlen)
{
	if (read_errors(s, sqlite3_column_int64(st, 0), err, errlen))
		return -1;
	const char *body = sqlite3_column_blob(st, 1);
	size_t blen = (size_t)sqlite3_column_bytes(st, 1);
	store_body_line(out, body ? body : "{}", body ? blen : 2,
			(const char *)sqlite3_column_text(st, 2), sqlite3_column_blob(st, 3),
			(size_t)sqlite3_column_bytes(st, 3), &s->errs);
	return 0;
}

/* A read transaction, so that a record and its stages (or all the counts)
 * come from one snapshot; none when the caller's batch is open. Returns 1
 * when begun here, 0 when not needed, -1 on failure. */
static int snapshot(struct sqlite_db *s)
{
	if (!sqlite3_get_autocommit(s->db))
		return 0;
	return sqlite_exec_retry(s, "BEGIN") == SQLITE_OK ? 1 : -1;
}

static void snapshot_end(struct sqlite_db *s, int own)
{
	if (own > 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

int sqlite_get(void *c, const char *id, const char *model, struct buf *out, char *err,
	       size_t errlen)
{
	struct sqlite_db *s = c;
	sqlite3_stmt *st;
	if (sqlite_stmt(s, Q_GET, sql_get, &st, err, errlen))
		return -1;
	int own = snapshot(s);
	if (own < 0) {
		sqlite_db_error(s, err, errlen, "cannot read");
		return -1;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (model)
		sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	int found = 0;
	int rc = sqlite_step_retry(s, st);
	if (rc == SQLITE_ROW) {
		found = row_line(s, st, out, err, errlen) ? -1 : 1;
	} else if (rc != SQLITE_DONE) {
		sqlite_db_error(s, err, errlen, "cannot read");
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	snapshot_end(s, own);
	return found;
}

/* The first parameter of the --where conditions of a scan. */
#define WHERE_FIRST 8
/* Parameters past those of the conditions (STORE_WHERE_MAX of 3 each):
 * the keys of a claim's records, a JSON array; the time and the limit of a
 * claim. */
#define CLAIMED_PARAM "60"
#define CLAIMED_PARAM_N 60
#define CLAIM_NOW 61
#define CLAIM_LIMIT 62
/* The other spelling of ?4 (stage_model_alias: "m" is "m:latest"). */
#define MODEL_ALIAS "63"
#define MODEL_ALIAS_N 63

/* The SELECT of a scan; its parameters: ?1 the vector's model, ?2 the
 * stage, ?3 the doc, ?4 the model of pending, ?5 max_attempts, ?6 the
 * segment stage, ?7 the fingerprint of pending, ?8.. the conditions on
 * members, ?63 the other spelling of ?4. Returns
 * 1 when it joins the stage (?2 is used). */
static int scan_sql(struct buf *sql, const struct store_query *q)
{
	buf_puts(sql, "SELECT r.rid, r.body, v.model, v.vec FROM records r"
		      " LEFT JOIN vector_data v ON v.rid = r.rid"
		      " AND v.model = coalesce(?1, r.vec_model)");
	int by_stage = q->stage && (q->pending || q->status != STORE_ANY) && !q->claimed;
	if (by_stage)
		buf_puts(sql, " LEFT JOIN stage_data s ON s.rid = r.rid AND s.stage = ?2");
	buf_puts(sql, " WHERE 1");
	if (q->claimed)
		buf_puts(sql, " AND r.rid IN (SELECT value FROM json_each(?" CLAIMED_PARAM "))");
	if (q->doc)
		buf_puts(sql, " AND r.doc = ?3");
	if (by_stage && q->pending) {
		buf_puts(sql, " AND (s.status IS NULL OR (s.status = 'error' AND s.failures < ?5)");
		const struct stage *sd = stage_find(q->stage, strlen(q->stage));
		if (q->model && sd && sd->vector)
			buf_puts(sql, " OR (s.status = 'ok' AND NOT EXISTS (SELECT 1"
				      " FROM vector_data w WHERE w.rid = r.rid"
				      " AND w.model IN (?4, ?" MODEL_ALIAS ")))");
		else if (q->model)
			buf_puts(sql, " OR (s.status = 'ok' AND s.model IS NOT ?4"
				      " AND s.model IS NOT ?" MODEL_ALIAS ")");
		/* made with other settings; none recorded: not known to be */
		if (q->fingerprint)
			buf_puts(sql, " OR (s.status = 'ok' AND s.fingerprint IS NOT NULL"
				      " AND s.fingerprint <> ?7)");
		buf_putc(sql, ')');
		/* a document that could not be segmented has nothing for the
		 * later stages: its record waits for segment */
		if (strcmp(q->stage, stage_table[STAGE_SEGMENT].name))
			buf_puts(sql, " AND NOT EXISTS (SELECT 1 FROM stage_data g WHERE g.rid = r.rid"
				      " AND g.stage = ?6 AND g.status <> 'ok')");
	} else if (by_stage) {
		sqlite_status_sql(sql, q->status);
	}
	sqlite_where_sql(sql, q, WHERE_FIRST);
	if (q->pending || q->order == STORE_BY_DOC || q->claimed)
		buf_puts(sql, " ORDER BY r.doc, r.seq, r.id");
	else
		buf_puts(sql, " ORDER BY r.id");
	return by_stage;
}

/* Calls row for each row of st (prepared and bound), in a snapshot; row
 * returns 0 to go on, 1 to stop, -1 on an error it put in err. Finalizes
 * st. Returns 0, 1 when row stopped, -1 with err. */
static int each_row(struct sqlite_db *s, sqlite3_stmt *st, int own,
		    int (*row)(struct sqlite_db *, sqlite3_stmt *, void *, char *, size_t),
		    void *ud, char *err, size_t errlen)
{
	int ret = 0, rc;
	while ((rc = sqlite_step_retry(s, st)) == SQLITE_ROW)
		if ((ret = row(s, st, ud, err, errlen)) != 0)
			break;
	if (ret == 0 && rc != SQLITE_DONE) {
		sqlite_db_error(s, err, errlen, "cannot read");
		ret = -1;
	}
	sqlite3_finalize(st);
	snapshot_end(s, own);
	return ret;
}

/* Prepares sql in a snapshot (*own: as snapshot()). Returns NULL with err. */
static sqlite3_stmt *prepare_read(struct sqlite_db *s, const char *sql, int *own, char *err,
				  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	*own = snapshot(s);
	if (*own < 0 || sqlite_prepare_retry(s, sql, &st) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read");
		sqlite3_finalize(st);
		snapshot_end(s, *own);
		return NULL;
	}
	return st;
}

struct scan_ctx {
	store_row_fn fn;
	void *ud;
	struct buf line;
};

static int scan_row(struct sqlite_db *s, sqlite3_stmt *st, void *ud, char *err, size_t errlen)
{
	struct scan_ctx *x = ud;
	buf_reset(&x->line);
	if (row_line(s, st, &x->line, err, errlen))
		return -1;
	return x->fn(x->line.p, x->line.len, x->ud) ? 1 : 0;
}

static void scan_bind(struct sqlite_db *s, sqlite3_stmt *st, const struct store_query *q,
		      int by_stage)
{
	if (!q->pending && q->model)
		sqlite3_bind_text(st, 1, q->model, -1, SQLITE_STATIC);
	if (by_stage)
		sqlite3_bind_text(st, 2, q->stage, -1, SQLITE_STATIC);
	if (q->doc)
		sqlite3_bind_text(st, 3, q->doc, -1, SQLITE_STATIC);
	if (q->pending && q->model) {
		sqlite3_bind_text(st, 4, q->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, MODEL_ALIAS_N, q->model_alias ? q->model_alias : q->model,
				  -1, SQLITE_STATIC);
	}
	if (q->pending) {
		sqlite3_bind_int64(st, 5, s->max_attempts);
		sqlite3_bind_text(st, 6, stage_table[STAGE_SEGMENT].name, -1, SQLITE_STATIC);
		if (q->fingerprint)
			sqlite3_bind_text(st, 7, q->fingerprint, -1, SQLITE_STATIC);
	}
	sqlite_where_bind(st, q, WHERE_FIRST);
	if (q->claimed)
		sqlite3_bind_text(st, CLAIMED_PARAM_N, q->claimed, -1, SQLITE_STATIC);
}

int sqlite_scan(void *c, const struct store_query *q, store_row_fn fn, void *ud, char *err,
		size_t errlen)
{
	struct sqlite_db *s = c;
	struct buf sql = {0};
	int by_stage = scan_sql(&sql, q), own;
	sqlite3_stmt *st = prepare_read(s, sql.p, &own, err, errlen);
	buf_free(&sql);
	if (!st)
		return -1;
	scan_bind(s, st, q, by_stage);
	struct scan_ctx x = {fn, ud, {0}};
	int ret = each_row(s, st, own, scan_row, &x, err, errlen);
	buf_free(&x.line);
	return ret;
}

/* The claims of `store claim`: kept in a table created by the first claim
 * (no schema change: a lease is not data), written under BEGIN IMMEDIATE,
 * so that one claim at a time picks pending records no live lease holds.
 * Workers on one machine share a backlog this way; across machines a
 * SQLite file is not shared, PostgreSQL is. */
static const char *const sql_claims =
	"CREATE TABLE IF NOT EXISTS claims (rid INTEGER NOT NULL, stage TEXT NOT NULL,"
	" worker TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (rid, stage)) WITHOUT ROWID";

int sqlite_claim(void *c, const struct store_query *q, const struct store_claim *cl,
		 store_row_fn fn, void *ud, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	if (s->in_txn) {
		snprintf(err, errlen, "cannot claim inside a batch of writes");
		return -1;
	}
	if (sqlite_exec_retry(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot claim");
		return -1;
	}
	struct buf sql = {0}, keys = {0};
	sqlite3_stmt *st = NULL, *ins = NULL;
	int ret = -1, rc;
	if (sqlite3_exec(s->db, sql_claims, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	buf_puts(&sql, "SELECT x.rid FROM (");
	int by_stage = scan_sql(&sql, q);
	buf_printf(&sql, ") x WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.rid = x.rid"
		   " AND c.stage = ?2 AND c.until > ?%d) LIMIT ?%d", CLAIM_NOW, CLAIM_LIMIT);
	if (sqlite_prepare_retry(s, sql.p, &st) != SQLITE_OK ||
	    sqlite_prepare_retry(s, "INSERT OR REPLACE INTO claims(rid, stage, worker, until)"
				 " VALUES(?1, ?2, ?3, ?4)", &ins) != SQLITE_OK)
		goto fail;
	scan_bind(s, st, q, by_stage);
	if (!by_stage)
		sqlite3_bind_text(st, 2, q->stage, -1, SQLITE_STATIC);
	double now = wall_time();
	sqlite3_bind_double(st, CLAIM_NOW, now);
	sqlite3_bind_int64(st, CLAIM_LIMIT, cl->limit);
	sqlite3_bind_text(ins, 2, q->stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, cl->worker, -1, SQLITE_STATIC);
	sqlite3_bind_double(ins, 4, now + cl->lease_s);
	long n = 0;
	buf_putc(&keys, '[');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 rid = sqlite3_column_int64(st, 0);
		buf_printf(&keys, "%s%lld", n++ ? "," : "", (long long)rid);
		sqlite3_bind_int64(ins, 1, rid);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(ins);
	}
	buf_putc(&keys, ']');
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	st = ins = NULL;
	if (sqlite_exec_retry(s, "COMMIT") != SQLITE_OK)
		goto fail;
	ret = 0;
	if (n > 0) {
		struct store_query cq = *q;
		cq.pending = 0;
		cq.claimed = keys.p;
		ret = sqlite_scan(s, &cq, fn, ud, err, errlen);
	}
	buf_free(&sql);
	buf_free(&keys);
	return ret;
fail:
	sqlite_db_error(s, err, errlen, "cannot claim");
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	buf_free(&sql);
	buf_free(&keys);
	return -1;
}

int sqlite_claims_held(void *c, const char *stage, const char *worker, long *held, char *err,
		       size_t errlen)
{
	struct sqlite_db *s = c;
	long exists = 0;
	*held = 0;
	if (sqlite_query_long(s, "SELECT count(*) FROM sqlite_master WHERE name = 'claims'",
			      &exists) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read the claims");
		return -1;
	}
	if (!exists)
		return 0;
	sqlite3_stmt *st = NULL;
	if (sqlite_prepare_retry(s, "SELECT count(*) FROM claims WHERE stage = ?1 AND worker = ?2"
				 " AND until > ?3", &st) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read the claims");
		return -1;
	}
	sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, wall_time());
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*held = (long)sqlite3_column_int64(st, 0);
	else
		sqlite_db_error(s, err, errlen, "cannot read the claims");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

struct docs_ctx {
	store_doc_fn fn;
	void *ud;
};

static int doc_row(struct sqlite_db *s, sqlite3_stmt *st, void *ud, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	struct docs_ctx *x = ud;
	const char *doc = (const char *)sqlite3_column_text(st, 0);
	struct store_doc d = {doc ? doc : "", (long)sqlite3_column_int64(st, 1),
			      (long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3)};
	return x->fn(&d, x->ud) ? 1 : 0;
}

int sqlite_result_get(void *c, const char *stage, const char *fingerprint, const char *input,
		      struct buf *members, struct buf *vec, char *err, size_t errlen)
{
	static const char *const sql =
		"SELECT members, vec FROM results WHERE stage = ?1 AND fingerprint = ?2 AND input = ?3";
	struct sqlite_db *s = c;
	sqlite3_stmt *st;
	if (sqlite_stmt(s, Q_RESULT_GET, sql, &st, err, errlen))
		return -1;
	sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, input, -1, SQLITE_STATIC);
	int found = 0, rc = sqlite_step_retry(s, st);
	if (rc == SQLITE_ROW) {
		found = 1;
		buf_append(members, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		if (sqlite3_column_type(st, 1) == SQLITE_BLOB)
			buf_append(vec, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	} else if (rc != SQLITE_DONE) {
		sqlite_db_error(s, err, errlen, "cannot read the results kept");
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

int sqlite_docs(void *c, store_doc_fn fn, void *ud, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	int own;
	sqlite3_stmt *st = prepare_read(s, "SELECT r.doc, count(*), count(g.rid), max(r.updated)"
				       " FROM records r LEFT JOIN stage_data g ON g.rid = r.rid"
				       " AND g.stage = ?1 AND g.status <> 'ok'"
				       " WHERE r.doc IS NOT NULL GROUP BY r.doc ORDER BY r.doc",
				    &own, err, errlen);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, stage_table[STAGE_SEGMENT].name, -1, SQLITE_STATIC);
	struct docs_ctx x = {fn, ud};
	return each_row(s, st, own, doc_row, &x, err, errlen);
}

int sqlite_stats(void *c, struct store_stats *st, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	st->schema = SQLITE_SCHEMA_VERSION;
	sqlite3_stmt *q = NULL;
	int rc;
	int own = snapshot(s);
	if (own < 0 || sqlite_query_long(s, "SELECT count(*) FROM records", &st->records) != SQLITE_OK)
		goto fail;
	if (sqlite_prepare_retry(s, "SELECT model, count(*), max(dim) FROM vector_data"
				 " GROUP BY model ORDER BY model", &q) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite_step_retry(s, q)) == SQLITE_ROW) {
		st->models = xrealloc(st->models, (st->nmodels + 1) * sizeof *st->models);
		struct store_model_count *m = &st->models[st->nmodels++];
		const char *name = (const char *)sqlite3_column_text(q, 0);
		m->model = xstrdup(name ? name : "");
		m->vectors = (long)sqlite3_column_int64(q, 1);
		m->dim = (long)sqlite3_column_int64(q, 2);
		st->vectors += m->vectors;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	if (sqlite_prepare_retry(s, "SELECT stage, status, count(*) FROM stage_data"
				 " GROUP BY stage, status ORDER BY stage", &q) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite_step_retry(s, q)) == SQLITE_ROW) {
		store_stats_add(st, (const char *)sqlite3_column_text(q, 0),
				(const char *)sqlite3_column_text(q, 1),
				(long)sqlite3_column_int64(q, 2));
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	/* stale: ok, with another fingerprint than the stage's latest */
	if (sqlite_prepare_retry(s, "SELECT count(*) FROM stage_data WHERE stage = ?1"
				 " AND status = 'ok' AND fingerprint <> (SELECT fingerprint"
				 " FROM stage_data WHERE stage = ?1 AND fingerprint IS NOT NULL"
				 " ORDER BY updated DESC LIMIT 1)", &q) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < st->nstages; i++) {
		sqlite3_bind_text(q, 1, st->stages[i].stage, -1, SQLITE_STATIC);
		if ((rc = sqlite_step_retry(s, q)) != SQLITE_ROW)
			goto fail;
		st->stages[i].stale = (long)sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	q = NULL;
	/* what the logged requests cost, by stage */
	if (sqlite_prepare_retry(s, "SELECT stage, count(*), count(code),"
				 " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)"
				 " FROM llm_log WHERE kind = 'request'"
				 " GROUP BY stage ORDER BY stage", &q) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite_step_retry(s, q)) == SQLITE_ROW) {
		st->usage = xrealloc(st->usage, (st->nusage + 1) * sizeof *st->usage);
		struct store_usage *u = &st->usage[st->nusage++];
		const char *name = (const char *)sqlite3_column_text(q, 0);
		u->stage = xstrdup(name ? name : "");
		u->requests = (long)sqlite3_column_int64(q, 1);
		u->failed = (long)sqlite3_column_int64(q, 2);
		u->prompt_tokens = (long)sqlite3_column_int64(q, 3);
		u->completion_tokens = (long)sqlite3_column_int64(q, 4);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	snapshot_end(s, own);
	return 0;
fail:
	sqlite_db_error(s, err, errlen, "cannot count");
	sqlite3_finalize(q);
	if (own > 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct log_ctx {
	store_row_fn fn;
	void *ud;
};

static int log_row(struct sqlite_db *s, sqlite3_stmt *st, void *ud, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	struct log_ctx *x = ud;
	const char *line = (const char *)sqlite3_column_text(st, 0);
	return x->fn(line ? line : "{}", line ? (size_t)sqlite3_column_bytes(st, 0) : 2, x->ud)
		? 1 : 0;
}

int sqlite_log_scan(void *c, const struct store_log_query *q, store_row_fn fn, void *ud,
		    char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	struct buf sql = {0};
	buf_puts(&sql, "SELECT l.entry FROM llm_log l");
	if (q->id)
		buf_puts(&sql, " JOIN llm_log_ids i ON i.n = l.n AND i.id = ?1");
	buf_puts(&sql, " WHERE 1");
	if (q->errors)
		buf_puts(&sql, " AND l.code IS NOT NULL");
	if (q->stage)
		buf_puts(&sql, " AND l.stage = ?2");
	buf_puts(&sql, " ORDER BY l.n");
	int own;
	sqlite3_stmt *st = prepare_read(s, sql.p, &own, err, errlen);
	buf_free(&sql);
	if (!st)
		return -1;
	if (q->id)
		sqlite3_bind_text(st, 1, q->id, -1, SQLITE_STATIC);
	if (q->stage)
		sqlite3_bind_text(st, 2, q->stage, -1, SQLITE_STATIC);
	struct log_ctx x = {fn, ud};
	return each_row(s, st, own, log_row, &x, err, errlen);
}
