/* pg_read: the PostgreSQL backend's read path: one record, a stream of
 * the records a query selects (through a cursor, so memory stays bounded,
 * in one REPEATABLE READ snapshot), the vectors of a model, the stored
 * documents, the counts of stats, and the claims of `store claim`: pending
 * records taken FOR UPDATE SKIP LOCKED and leased, so that many workers
 * on many machines share one backlog and none takes a record another
 * holds. Every value is a bound parameter. */
#include "pg_db.h"
#include "stage.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows fetched from a cursor at a time. */
#define PG_FETCH_ROWS 1000
/* Tries of a claim that found every candidate taken meanwhile. */
#define PG_CLAIM_TRIES 20

/* The columns of a record line: rid, body, vector model, vector, and the
 * failed stages as a JSON array of [stage, error, code, message,
 * failures]. */
static const char *const record_cols =
	"SELECT r.rid, r.body, v.model, v.vec, (SELECT json_agg(json_build_array(g.stage,"
	" g.error, g.code, g.message, g.failures) ORDER BY g.stage)::text FROM stage_data g"
	" WHERE g.rid = r.rid AND g.status <> 'ok')"
	" FROM records r LEFT JOIN vector_data v ON v.rid = r.rid AND v.model = ";

/* Appends the record of row i of r (record_cols) to out. */
static void row_line(struct pg_db *s, const PGresult *r, int i, struct buf *out)
{
	buf_reset(&s->errs);
	const char *ej = pg_text(r, i, 4);
	cJSON *arr = ej ? cJSON_Parse(ej) : NULL;
	const cJSON *e;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *st = cJSON_GetArrayItem(e, 0), *raw = cJSON_GetArrayItem(e, 1),
			    *code = cJSON_GetArrayItem(e, 2), *msg = cJSON_GetArrayItem(e, 3),
			    *n = cJSON_GetArrayItem(e, 4);
		const char *rs = cJSON_IsString(raw) ? raw->valuestring : NULL;
		store_body_error(&s->errs, cJSON_IsString(st) ? st->valuestring : "", rs,
				 rs ? strlen(rs) : 0, cJSON_IsString(code) ? code->valuestring : NULL,
				 cJSON_IsString(msg) ? msg->valuestring : NULL,
				 cJSON_IsNumber(n) ? (long long)n->valuedouble : 0);
	}
	cJSON_Delete(arr);
	store_body_errors_end(&s->errs);
	const char *body = pg_text(r, i, 1);
	store_body_line(out, body ? body : "{}", body ? (size_t)PQgetlength(r, i, 1) : 2,
			pg_text(r, i, 2), (const unsigned char *)pg_text(r, i, 3),
			pg_text(r, i, 3) ? (size_t)PQgetlength(r, i, 3) : 0, &s->errs);
}

/* A snapshot for a read of several statements: one REPEATABLE READ
 * transaction, or the batch's when one is open. Returns 1 when begun
 * here, 0 when not needed, -1 with err. */
static int snapshot(struct pg_db *s, char *err, size_t errlen)
{
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		return 0;
	return pg_cmd(s, "BEGIN ISOLATION LEVEL REPEATABLE READ", err, errlen, "cannot read") ? -1 : 1;
}

static void snapshot_end(struct pg_db *s, int own)
{
	if (own > 0)
		PQclear(PQexec(s->conn, PQtransactionStatus(s->conn) == PQTRANS_INTRANS ? "COMMIT"
										: "ROLLBACK"));
}

typedef int (*rows_fn)(struct pg_db *s, const PGresult *r, int i, void *ud);

/* Runs q through a cursor in a snapshot and calls row for each row; row
 * returns 0 to go on, nonzero to stop. Returns 0, 1 when row stopped, -1
 * with err. */
static int each_row(struct pg_db *s, const struct pg_q *q, rows_fn row, void *ud, char *err,
		    size_t errlen, const char *what)
{
	int own = snapshot(s, err, errlen);
	if (own < 0)
		return -1;
	char name[32], fetch[64], close[48];
	snprintf(name, sizeof name, "lanes_c%ld", ++s->cursors);
	snprintf(fetch, sizeof fetch, "FETCH %d FROM %s", PG_FETCH_ROWS, name);
	snprintf(close, sizeof close, "CLOSE %s", name);
	struct pg_q decl = *q;
	decl.sql = (struct buf){0};
	buf_printf(&decl.sql, "DECLARE %s NO SCROLL CURSOR FOR %s", name, q->sql.p);
	PGresult *r = pg_exec(s, &decl, err, errlen, what);
	buf_free(&decl.sql);
	int ret = 0;
	if (!r) {
		ret = -1;
		goto out;
	}
	PQclear(r);
	struct pg_q f = {0};
	pg_q_sql(&f, fetch);
	for (;;) {
		if (!(r = pg_exec(s, &f, err, errlen, what))) {
			ret = -1;
			break;
		}
		int n = PQntuples(r);
		for (int i = 0; i < n && !ret; i++)
			ret = row(s, r, i, ud) ? 1 : 0;
		PQclear(r);
		if (ret || n < PG_FETCH_ROWS)
			break;
	}
	pg_q_free(&f);
	if (ret >= 0)
		PQclear(PQexec(s->conn, close));
out:
	snapshot_end(s, own);
	return ret;
}

/* The record of r.id = id or of r.rid = key (id NULL), with the vector of
 * model (NULL: the latest) appended to out. Returns 1, 0 when none, -1. */
static int get_one(struct pg_db *s, const char *id, long long key, const char *model,
		   struct buf *out, char *err, size_t errlen)
{
	struct pg_q q = {0};
	pg_q_sql(&q, record_cols);
	pg_q_sql(&q, "coalesce(");
	pg_q_str(&q, model);
	if (id) {
		pg_q_sql(&q, ", r.vec_model) WHERE r.id = ");
		pg_q_str(&q, id);
	} else {
		pg_q_sql(&q, ", r.vec_model) WHERE r.rid = ");
		pg_q_int(&q, key);
	}
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read");
	pg_q_free(&q);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found)
		row_line(s, r, 0, out);
	PQclear(r);
	return found;
}

int pg_get(void *c, const char *id, const char *model, struct buf *out, char *err,
	   size_t errlen)
{
	return get_one(c, id, 0, model, out, err, errlen);
}

/* Appends the condition that stage_data s has status (missing: no row). */
static void status_sql(struct buf *sql, enum store_status status)
{
	switch (status) {
	case STORE_OK: buf_puts(sql, " AND s.status = 'ok'"); break;
	case STORE_ERROR: buf_puts(sql, " AND s.status = 'error'"); break;
	case STORE_GIVEN_UP: buf_puts(sql, " AND s.status = 'given_up'"); break;
	default: buf_puts(sql, " AND s.status IS NULL"); break;
	}
}

/* The --where conditions on the body of records r: the value at the path
 * is the JSON string value, a number equal to it, or true, false, null
 * spelt so (as the SQLite backend's json_type). */
static void where_sql(struct pg_q *q, const struct store_query *sq)
{
	for (size_t i = 0; i < sq->nwhere; i++) {
		const struct store_where *w = &sq->where[i];
		pg_q_sql(q, " AND EXISTS (SELECT 1 FROM (SELECT r.body::jsonb #> ARRAY[");
		for (size_t k = 0; k < w->npath; k++) {
			if (k)
				pg_q_sql(q, ", ");
			pg_q_str(q, w->path[k]);
		}
		pg_q_sql(q, "]::text[] AS j) x WHERE CASE jsonb_typeof(x.j) WHEN 'string' THEN x.j #>> '{}' = ");
		int v = pg_q_str(q, w->value);
		double d;
		pg_q_sql(q, " WHEN 'number' THEN (x.j #>> '{}')::numeric = ");
		pg_q_str(q, parse_double(w->value, &d) ? NULL : w->value);
		buf_printf(&q->sql, "::numeric WHEN 'boolean' THEN x.j #>> '{}' = $%d"
			   " WHEN 'null' THEN $%d = 'null' ELSE false END)", v, v);
	}
}

/* The conditions that make a record pending for sq->stage (joined as s). */
/* What keeps a record with a row of the stage (s) pending: an error with
 * retries left, another model's or another fingerprint's output. */
static void pending_row_sql(struct pg_db *s, struct pg_q *q, const struct store_query *sq)
{
	pg_q_sql(q, "(s.status = 'error' AND s.failures < ");
	pg_q_int(q, s->max_attempts);
	pg_q_sql(q, ")");
	const struct stage *sd = stage_find(sq->stage, strlen(sq->stage));
	/* "m" is "m:latest" (stage_same_model): either spelling is the model */
	const char *other = sq->model_alias ? sq->model_alias : sq->model;
	if (sq->model && sd && sd->vector) {
		pg_q_sql(q, " OR (s.status = 'ok' AND NOT EXISTS (SELECT 1 FROM vector_data w"
			    " WHERE w.rid = r.rid AND w.model IN (");
		pg_q_str(q, sq->model);
		pg_q_sql(q, ", ");
		pg_q_str(q, other);
		pg_q_sql(q, ")))");
	} else if (sq->model) {
		pg_q_sql(q, " OR (s.status = 'ok' AND s.model IS DISTINCT FROM ");
		pg_q_str(q, sq->model);
		pg_q_sql(q, " AND s.model IS DISTINCT FROM ");
		pg_q_str(q, other);
		pg_q_sql(q, ")");
	}
	if (sq->fingerprint) {
		pg_q_sql(q, " OR (s.status = 'ok' AND s.fingerprint IS NOT NULL AND s.fingerprint <> ");
		pg_q_str(q, sq->fingerprint);
		pg_q_sql(q, ")");
	}
}

/* A document that could not be segmented waits for segment. per_row:
 * as pending_anti_sql's. */
static void segmented_sql(struct pg_q *q, const struct store_query *sq, int per_row)
{
	if (!strcmp(sq->stage, stage_table[STAGE_SEGMENT].name))
		return;
	pg_q_sql(q, " AND NOT EXISTS (SELECT 1 FROM stage_data g WHERE g.rid = r.rid"
		    " AND g.stage = ");
	pg_q_str(q, stage_table[STAGE_SEGMENT].name);
	pg_q_sql(q, per_row ? " AND g.status <> 'ok' OFFSET 0)" : " AND g.status <> 'ok')");
}

/* The pending condition on r LEFT JOIN stage_data s (the stage's row). */
static void pending_sql(struct pg_db *s, struct pg_q *q, const struct store_query *sq)
{
	pg_q_sql(q, " AND (s.status IS NULL OR ");
	pending_row_sql(s, q, sq);
	pg_q_sql(q, ")");
	segmented_sql(q, sq, 0);
}

/* The same on r alone, as a test per record (its stage rows looked up by
 * the primary key), so that a claim in key order stops at its limit: the
 * LEFT JOIN's IS NULL is estimated at one row and sorts every record.
 * OFFSET 0 keeps PostgreSQL from making an anti-join of it: planned from
 * the statistics of a store that was small when last analyzed (a run
 * fills stage_data in seconds; autovacuum looks once a minute), that was
 * a nested loop over the whole stage_data for each record: 0.5 s per
 * claim of a done backlog of 4,000 records. */
static void pending_anti_sql(struct pg_db *s, struct pg_q *q, const struct store_query *sq)
{
	pg_q_sql(q, " AND NOT EXISTS (SELECT 1 FROM stage_data s WHERE s.rid = r.rid AND s.stage = ");
	pg_q_str(q, sq->stage);
	pg_q_sql(q, " AND NOT coalesce(");
	pending_row_sql(s, q, sq);
	pg_q_sql(q, ", false) OFFSET 0)");
	segmented_sql(q, sq, 1);
}

/* The SELECT of a scan into q; rids: only those records (a claim's). */
static void scan_sql(struct pg_db *s, struct pg_q *q, const struct store_query *sq,
		     const char *rids)
{
	pg_q_sql(q, record_cols);
	pg_q_sql(q, "coalesce(");
	pg_q_str(q, !sq->pending ? sq->model : NULL);
	pg_q_sql(q, ", r.vec_model)");
	int by_stage = sq->stage && (sq->pending || sq->status != STORE_ANY) && !rids;
	if (by_stage) {
		pg_q_sql(q, " LEFT JOIN stage_data s ON s.rid = r.rid AND s.stage = ");
		pg_q_str(q, sq->stage);
	}
	pg_q_sql(q, " WHERE true");
	if (rids) {
		pg_q_sql(q, " AND r.rid = ANY(");
		pg_q_str(q, rids);
		pg_q_sql(q, "::int8[])");
	}
	if (sq->doc) {
		pg_q_sql(q, " AND r.doc = ");
		pg_q_str(q, sq->doc);
	}
	if (by_stage && sq->pending)
		pending_sql(s, q, sq);
	else if (by_stage)
		status_sql(&q->sql, sq->status);
	where_sql(q, sq);
	if (sq->pending || sq->order == STORE_BY_DOC)
		pg_q_sql(q, " ORDER BY r.doc NULLS FIRST, r.seq NULLS FIRST, r.id");
	else
		pg_q_sql(q, " ORDER BY r.id");
}

struct scan_ctx {
	store_row_fn fn;
	void *ud;
	struct buf line;
};

static int scan_row(struct pg_db *s, const PGresult *r, int i, void *ud)
{
	struct scan_ctx *x = ud;
	buf_reset(&x->line);
	row_line(s, r, i, &x->line);
	return x->fn(x->line.p, x->line.len, x->ud);
}

static int scan_rids(struct pg_db *s, const struct store_query *sq, const char *rids,
		     store_row_fn fn, void *ud, char *err, size_t errlen)
{
	struct pg_q q = {0};
	scan_sql(s, &q, sq, rids);
	struct scan_ctx x = {fn, ud, {0}};
	int ret = each_row(s, &q, scan_row, &x, err, errlen, "cannot read");
	buf_free(&x.line);
	pg_q_free(&q);
	return ret;
}

int pg_scan(void *c, const struct store_query *q, store_row_fn fn, void *ud, char *err,
	    size_t errlen)
{
	return scan_rids(c, q, NULL, fn, ud, err, errlen);
}

/* One claim: up to limit pending records no live claim holds, locked
 * FOR UPDATE SKIP LOCKED (another worker's claim in progress skips them),
 * then leased in claims: an expired lease is taken over, a live one never
 * (ON CONFLICT rechecks the newest row, so two workers that both saw a
 * record free cannot both lease it). The rids leased go to rids ("{..}").
 * Returns the candidates seen (>= the count leased), or -1 with err. */
static long claim_once(struct pg_db *s, const struct store_query *sq,
		       const struct store_claim *cl, struct buf *rids, long *leased, char *err,
		       size_t errlen)
{
	*leased = 0;
	if (pg_cmd(s, "BEGIN", err, errlen, "cannot claim"))
		return -1;
	struct pg_q q = {0};
	/* claim --follow (cl->last set): from a key on, in key order */
	int by_key = cl->last != NULL;
	if (by_key) {
		pg_q_sql(&q, "SELECT r.rid FROM records r WHERE r.rid > ");
		pg_q_int(&q, cl->after);
	} else {
		pg_q_sql(&q, "SELECT r.rid FROM records r LEFT JOIN stage_data s ON s.rid = r.rid"
			     " AND s.stage = ");
		pg_q_str(&q, sq->stage);
		pg_q_sql(&q, " WHERE true");
	}
	if (sq->doc) {
		pg_q_sql(&q, " AND r.doc = ");
		pg_q_str(&q, sq->doc);
	}
	if (by_key)
		pending_anti_sql(s, &q, sq);
	else
		pending_sql(s, &q, sq);
	pg_q_sql(&q, " AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.rid = r.rid AND c.stage = ");
	pg_q_str(&q, sq->stage);
	pg_q_sql(&q, " AND c.until > extract(epoch FROM clock_timestamp()))");
	pg_q_sql(&q, by_key ? " ORDER BY r.rid LIMIT "
			    : " ORDER BY r.doc NULLS FIRST, r.seq NULLS FIRST, r.id LIMIT ");
	pg_q_int(&q, cl->limit);
	pg_q_sql(&q, " FOR UPDATE OF r SKIP LOCKED");
	long seen = -1;
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot claim");
	if (!r)
		goto out;
	seen = PQntuples(r);
	buf_reset(rids);
	buf_putc(rids, '{');
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(rids, "%s%lld", i ? "," : "", pg_int(r, i, 0));
	buf_putc(rids, '}');
	PQclear(r);
	/* leased only if still pending in a snapshot taken now: a put that
	 * committed while the SELECT waited for a row lock is seen here (the
	 * SELECT rechecks a row updated meanwhile, not its stage_data) */
	pg_q_reset(&q);
	pg_q_sql(&q, "INSERT INTO claims(rid, stage, worker, until) SELECT r.rid, ");
	pg_q_str(&q, sq->stage);
	pg_q_sql(&q, ", ");
	pg_q_str(&q, cl->worker);
	pg_q_sql(&q, ", extract(epoch FROM clock_timestamp()) + ");
	pg_q_double(&q, cl->lease_s);
	pg_q_sql(&q, " FROM records r LEFT JOIN stage_data s ON s.rid = r.rid AND s.stage = ");
	pg_q_str(&q, sq->stage);
	pg_q_sql(&q, " WHERE r.rid = ANY(");
	pg_q_str(&q, rids->p);
	pg_q_sql(&q, "::int8[])");
	pending_sql(s, &q, sq);
	pg_q_sql(&q, " ON CONFLICT (rid, stage) DO UPDATE SET worker = excluded.worker,"
		     " until = excluded.until"
		     " WHERE claims.until <= extract(epoch FROM clock_timestamp()) RETURNING rid");
	if (!(r = pg_exec(s, &q, err, errlen, "cannot claim"))) {
		seen = -1;
		goto out;
	}
	buf_reset(rids);
	buf_putc(rids, '{');
	for (int i = 0; i < PQntuples(r); i++) {
		long long rid = pg_int(r, i, 0);
		buf_printf(rids, "%s%lld", i ? "," : "", rid);
		if (cl->last && rid > *cl->last)
			*cl->last = rid;
	}
	buf_putc(rids, '}');
	*leased = PQntuples(r);
	PQclear(r);
	if (pg_cmd(s, "COMMIT", err, errlen, "cannot commit the claim"))
		seen = -1;
out:
	if (seen < 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	pg_q_free(&q);
	return seen;
}

int pg_claim(void *c, const struct store_query *q, const struct store_claim *cl,
	     store_row_fn fn, void *ud, char *err, size_t errlen)
{
	struct pg_db *s = c;
	if (s->in_txn) {
		snprintf(err, errlen, "cannot claim inside a batch of writes");
		return -1;
	}
	struct buf rids = {0};
	long leased = 0;
	for (int i = 0; i < PG_CLAIM_TRIES; i++) {
		long seen = claim_once(s, q, cl, &rids, &leased, err, errlen);
		if (seen < 0) {
			buf_free(&rids);
			return -1;
		}
		/* every candidate was leased by another worker between the two
		 * statements: others are left, look again */
		if (leased > 0 || seen == 0)
			break;
	}
	int ret = 0;
	if (leased > 0) {
		struct store_query sq = *q;
		sq.pending = 0;
		sq.order = STORE_BY_DOC;
		ret = scan_rids(s, &sq, rids.p, fn, ud, err, errlen);
	}
	buf_free(&rids);
	return ret;
}

int pg_claims_held(void *c, const char *stage, const char *worker, long *held, char *err,
		   size_t errlen)
{
	struct pg_db *s = c;
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT count(*) FROM claims WHERE stage = ");
	pg_q_str(&q, stage);
	pg_q_sql(&q, " AND worker = ");
	pg_q_str(&q, worker);
	pg_q_sql(&q, " AND until > extract(epoch FROM clock_timestamp())");
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read the claims");
	pg_q_free(&q);
	if (!r)
		return -1;
	*held = (long)pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_result_get(void *c, const char *stage, const char *fingerprint, const char *input,
		  struct buf *members, struct buf *vec, char *err, size_t errlen)
{
	struct pg_db *s = c;
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT members, vec FROM results WHERE stage = ");
	pg_q_str(&q, stage);
	pg_q_sql(&q, " AND fingerprint = ");
	pg_q_str(&q, fingerprint);
	pg_q_sql(&q, " AND input = ");
	pg_q_str(&q, input);
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read the results kept");
	pg_q_free(&q);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found) {
		buf_append(members, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
		if (!PQgetisnull(r, 0, 1))
			buf_append(vec, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
	}
	PQclear(r);
	return found;
}

int pg_docs(void *c, store_doc_fn fn, void *ud, char *err, size_t errlen)
{
	struct pg_db *s = c;
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT r.doc, count(*), count(g.rid), max(r.updated) FROM records r"
		     " LEFT JOIN stage_data g ON g.rid = r.rid AND g.stage = ");
	pg_q_str(&q, stage_table[STAGE_SEGMENT].name);
	pg_q_sql(&q, " AND g.status <> 'ok' WHERE r.doc IS NOT NULL GROUP BY r.doc ORDER BY r.doc");
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read");
	pg_q_free(&q);
	if (!r)
		return -1;
	int ret = 0;
	for (int i = 0; i < PQntuples(r) && !ret; i++) {
		struct store_doc d = {pg_text(r, i, 0), (long)pg_int(r, i, 1), (long)pg_int(r, i, 2),
				      pg_double(r, i, 3)};
		ret = fn(&d, ud) ? 1 : 0;
	}
	PQclear(r);
	return ret;
}

int pg_stats(void *c, struct store_stats *st, char *err, size_t errlen)
{
	struct pg_db *s = c;
	st->schema = PG_SCHEMA_VERSION;
	int own = snapshot(s, err, errlen);
	if (own < 0)
		return -1;
	struct pg_q q = {0};
	int ret = -1;
	pg_q_sql(&q, "SELECT count(*) FROM records");
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot count");
	if (!r)
		goto out;
	st->records = (long)pg_int(r, 0, 0);
	PQclear(r);
	pg_q_reset(&q);
	pg_q_sql(&q, "SELECT model, count(*), max(dim) FROM vector_data GROUP BY model ORDER BY model");
	if (!(r = pg_exec(s, &q, err, errlen, "cannot count")))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		st->models = xrealloc(st->models, (st->nmodels + 1) * sizeof *st->models);
		struct store_model_count *m = &st->models[st->nmodels++];
		m->model = xstrdup(pg_text(r, i, 0) ? pg_text(r, i, 0) : "");
		m->vectors = (long)pg_int(r, i, 1);
		m->dim = (long)pg_int(r, i, 2);
		st->vectors += m->vectors;
	}
	PQclear(r);
	pg_q_reset(&q);
	pg_q_sql(&q, "SELECT stage, status, count(*) FROM stage_data GROUP BY stage, status"
		     " ORDER BY stage");
	if (!(r = pg_exec(s, &q, err, errlen, "cannot count")))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		store_stats_add(st, pg_text(r, i, 0), pg_text(r, i, 1), (long)pg_int(r, i, 2));
	}
	PQclear(r);
	/* stale: ok, with another fingerprint than the stage's latest */
	for (size_t i = 0; i < st->nstages; i++) {
		pg_q_reset(&q);
		pg_q_sql(&q, "SELECT count(*) FROM stage_data WHERE stage = ");
		int p = pg_q_str(&q, st->stages[i].stage);
		buf_printf(&q.sql, " AND status = 'ok' AND fingerprint <> (SELECT fingerprint"
			   " FROM stage_data WHERE stage = $%d AND fingerprint IS NOT NULL"
			   " ORDER BY updated DESC LIMIT 1)", p);
		if (!(r = pg_exec(s, &q, err, errlen, "cannot count")))
			goto out;
		st->stages[i].stale = (long)pg_int(r, 0, 0);
		PQclear(r);
	}
	/* what the logged requests cost, by stage */
	pg_q_reset(&q);
	pg_q_sql(&q, "SELECT stage, count(*), count(code), coalesce(sum(prompt_tokens), 0)::int8,"
		     " coalesce(sum(completion_tokens), 0)::int8 FROM llm_log WHERE kind = 'request'"
		     " GROUP BY stage ORDER BY stage");
	if (!(r = pg_exec(s, &q, err, errlen, "cannot count")))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		st->usage = xrealloc(st->usage, (st->nusage + 1) * sizeof *st->usage);
		struct store_usage *u = &st->usage[st->nusage++];
		u->stage = xstrdup(pg_text(r, i, 0) ? pg_text(r, i, 0) : "");
		u->requests = (long)pg_int(r, i, 1);
		u->failed = (long)pg_int(r, i, 2);
		u->prompt_tokens = (long)pg_int(r, i, 3);
		u->completion_tokens = (long)pg_int(r, i, 4);
	}
	PQclear(r);
	ret = 0;
out:
	pg_q_free(&q);
	snapshot_end(s, own);
	return ret;
}

struct log_ctx {
	store_row_fn fn;
	void *ud;
};

static int log_row(struct pg_db *s, const PGresult *r, int i, void *ud)
{
	(void)s;
	struct log_ctx *x = ud;
	const char *line = pg_text(r, i, 0);
	return x->fn(line ? line : "{}", line ? (size_t)PQgetlength(r, i, 0) : 2, x->ud);
}

int pg_log_scan(void *c, const struct store_log_query *lq, store_row_fn fn, void *ud, char *err,
		size_t errlen)
{
	struct pg_db *s = c;
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT l.entry FROM llm_log l");
	if (lq->id) {
		pg_q_sql(&q, " JOIN llm_log_ids i ON i.n = l.n AND i.id = ");
		pg_q_str(&q, lq->id);
	}
	pg_q_sql(&q, " WHERE true");
	if (lq->errors)
		pg_q_sql(&q, " AND l.code IS NOT NULL");
	if (lq->stage) {
		pg_q_sql(&q, " AND l.stage = ");
		pg_q_str(&q, lq->stage);
	}
	pg_q_sql(&q, " ORDER BY l.n");
	struct log_ctx x = {fn, ud};
	int ret = each_row(s, &q, log_row, &x, err, errlen, "cannot read the request log");
	pg_q_free(&q);
	return ret;
}

struct vec_ctx {
	store_vec_fn fn;
	void *ud;
	int ids;
};

static int vec_row(struct pg_db *s, const PGresult *r, int i, void *ud)
{
	(void)s;
	struct vec_ctx *x = ud;
	size_t dim = (size_t)pg_int(r, i, 2);
	if (PQgetisnull(r, i, 1) || (size_t)PQgetlength(r, i, 1) != dim * sizeof(float))
		return 0;
	const char *id = x->ids ? pg_text(r, i, 3) : NULL;
	return x->fn(pg_int(r, i, 0), x->ids && !id ? "" : id, PQgetvalue(r, i, 1), dim, x->ud);
}

int pg_vectors(void *c, const struct store_query *sq, const char *model, int part, int nparts,
	       int ids, store_vec_fn fn, void *ud, char *err, size_t errlen)
{
	struct pg_db *s = c;
	int own = snapshot(s, err, errlen);
	if (own < 0)
		return -1;
	/* slices of rids: nparts connections read them at once */
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT min(rid), max(rid) FROM vector_data WHERE model = ");
	pg_q_str(&q, model);
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read vectors");
	int ret = -1;
	if (!r)
		goto out;
	long long a = pg_int(r, 0, 0), b = pg_int(r, 0, 1) + 1;
	PQclear(r);
	double span = (double)(b - a);
	long long lo = part ? a + (long long)(span * part / nparts) : a;
	long long hi = part + 1 < nparts ? a + (long long)(span * (part + 1) / nparts) : b;
	int by_stage = sq->stage && sq->status != STORE_ANY;
	int join = ids || sq->doc || sq->nwhere;
	pg_q_reset(&q);
	pg_q_sql(&q, join ? "SELECT v.rid, v.vec, v.dim, r.id FROM vector_data v"
			    " JOIN records r ON r.rid = v.rid"
			  : "SELECT v.rid, v.vec, v.dim, NULL FROM vector_data v");
	if (by_stage) {
		pg_q_sql(&q, " LEFT JOIN stage_data s ON s.rid = v.rid AND s.stage = ");
		pg_q_str(&q, sq->stage);
	}
	pg_q_sql(&q, " WHERE v.model = ");
	pg_q_str(&q, model);
	pg_q_sql(&q, " AND v.rid >= ");
	pg_q_int(&q, lo);
	pg_q_sql(&q, " AND v.rid < ");
	pg_q_int(&q, hi);
	if (sq->doc) {
		pg_q_sql(&q, " AND r.doc = ");
		pg_q_str(&q, sq->doc);
	}
	if (by_stage)
		status_sql(&q.sql, sq->status);
	where_sql(&q, sq);
	pg_q_sql(&q, " ORDER BY v.rid");
	struct vec_ctx x = {fn, ud, ids};
	ret = each_row(s, &q, vec_row, &x, err, errlen, "cannot read vectors");
out:
	pg_q_free(&q);
	snapshot_end(s, own);
	return ret;
}

int pg_models(void *c, struct store_model_count **models, size_t *n, char *err, size_t errlen)
{
	struct pg_db *s = c;
	struct pg_q q = {0};
	pg_q_sql(&q, "SELECT model, count(*), max(dim) FROM vector_data GROUP BY model ORDER BY model");
	PGresult *r = pg_exec(s, &q, err, errlen, "cannot read the models of the vectors");
	pg_q_free(&q);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		*models = xrealloc(*models, (*n + 1) * sizeof **models);
		struct store_model_count *mc = &(*models)[(*n)++];
		mc->model = xstrdup(pg_text(r, i, 0) ? pg_text(r, i, 0) : "");
		mc->vectors = (long)pg_int(r, i, 1);
		mc->dim = (long)pg_int(r, i, 2);
	}
	PQclear(r);
	return 0;
}

int pg_get_key(void *c, long long key, const char *model, struct buf *out, char *err,
	       size_t errlen)
{
	return get_one(c, NULL, key, model, out, err, errlen);
}
