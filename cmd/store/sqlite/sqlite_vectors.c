/* sqlite_vectors: the SQLite backend's vector stream (the float32 blobs of
 * one model, as stored, for `store similar` and `store export`), a record
 * by its key (the rid), and the member conditions of a query (`--where`)
 * that the record stream shares, as json_extract on the body. */
#include "sqlite_db.h"

#include <stdlib.h>
#include <string.h>

void sqlite_status_sql(struct buf *sql, enum store_status status)
{
	switch (status) {
	case STORE_OK: buf_puts(sql, " AND s.status = 'ok'"); break;
	case STORE_ERROR: buf_puts(sql, " AND s.status = 'error'"); break;
	case STORE_GIVEN_UP: buf_puts(sql, " AND s.status = 'given_up'"); break;
	default: buf_puts(sql, " AND s.status IS NULL"); break;
	}
}

void sqlite_where_sql(struct buf *sql, const struct store_query *q, int first)
{
	for (size_t i = 0; i < q->nwhere; i++) {
		int p = first + 3 * (int)i, v = p + 1, n = p + 2;
		buf_printf(sql, " AND ((json_type(r.body, ?%d) = 'text' AND json_extract(r.body, ?%d) = ?%d)"
			   " OR (json_type(r.body, ?%d) IN ('integer', 'real') AND ?%d IS NOT NULL"
			   " AND json_extract(r.body, ?%d) = ?%d)"
			   " OR (?%d IN ('true', 'false', 'null') AND json_type(r.body, ?%d) = ?%d))",
			   p, p, v, p, n, p, n, v, p, v);
	}
}

void sqlite_where_bind(sqlite3_stmt *st, const struct store_query *q, int first)
{
	struct buf path = {0};
	for (size_t i = 0; i < q->nwhere; i++) {
		const struct store_where *w = &q->where[i];
		int p = first + 3 * (int)i;
		buf_reset(&path);
		buf_putc(&path, '$');
		for (size_t k = 0; k < w->npath; k++) {
			buf_puts(&path, ".\"");
			for (const char *c = w->path[k]; *c; c++) {
				if (*c == '"' || *c == '\\')
					buf_putc(&path, '\\');
				buf_putc(&path, *c);
			}
			buf_putc(&path, '"');
		}
		sqlite3_bind_text(st, p, path.p, (int)path.len, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, p + 1, w->value, -1, SQLITE_STATIC);
		double d;
		if (!parse_double(w->value, &d))
			sqlite3_bind_double(st, p + 2, d);
	}
	buf_free(&path);
}

/* The rowids of slice part of nparts of the vector table: [*lo, *hi). */
static int slice(struct sqlite_db *s, int part, int nparts, sqlite3_int64 *lo,
		 sqlite3_int64 *hi)
{
	sqlite3_stmt *st = NULL;
	if (sqlite_prepare_retry(s, "SELECT min(rowid), max(rowid) FROM vector_data", &st) !=
	    SQLITE_OK)
		return -1;
	int rc = sqlite_step_retry(s, st);
	sqlite3_int64 a = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1) + 1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	double span = (double)(b - a);
	*lo = part ? a + (sqlite3_int64)(span * part / nparts) : a;
	*hi = part + 1 < nparts ? a + (sqlite3_int64)(span * (part + 1) / nparts) : b;
	return 0;
}

int sqlite_vectors(void *c, const struct store_query *q, const char *model, int part,
		   int nparts, int ids, store_vec_fn fn, void *ud, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	struct buf sql = {0};
	int by_stage = q->stage && q->status != STORE_ANY;
	/* in the table's order, a slice of rowids each: the reads stay
	 * sequential, and slices read on several connections at once */
	int join = ids || q->doc || q->nwhere;
	buf_puts(&sql, join ? "SELECT v.rid, v.vec, v.dim, r.id FROM vector_data v"
			      " JOIN records r ON r.rid = v.rid"
			    : "SELECT v.rid, v.vec, v.dim, NULL FROM vector_data v");
	if (by_stage)
		buf_puts(&sql, " LEFT JOIN stage_data s ON s.rid = v.rid AND s.stage = ?2");
	buf_puts(&sql, " WHERE v.model = ?1 AND v.rowid >= ?4 AND v.rowid < ?5");
	if (q->doc)
		buf_puts(&sql, " AND r.doc = ?3");
	if (by_stage)
		sqlite_status_sql(&sql, q->status);
	sqlite_where_sql(&sql, q, 6);
	sqlite3_stmt *st = NULL;
	int ret = 0, rc = SQLITE_DONE;
	int own = sqlite3_get_autocommit(s->db) ? (sqlite_exec_retry(s, "BEGIN") == SQLITE_OK
						   ? 1 : -1) : 0;
	sqlite3_int64 lo, hi;
	if (own < 0 || slice(s, part, nparts, &lo, &hi) ||
	    sqlite_prepare_retry(s, sql.p, &st) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read vectors");
		ret = -1;
		goto out;
	}
	sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	if (by_stage)
		sqlite3_bind_text(st, 2, q->stage, -1, SQLITE_STATIC);
	if (q->doc)
		sqlite3_bind_text(st, 3, q->doc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, lo);
	sqlite3_bind_int64(st, 5, hi);
	sqlite_where_bind(st, q, 6);
	while ((rc = sqlite_step_retry(s, st)) == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 1);
		size_t bytes = (size_t)sqlite3_column_bytes(st, 1);
		size_t dim = (size_t)sqlite3_column_int64(st, 2);
		if (!blob || bytes != dim * sizeof(float))
			continue;
		const char *id = ids ? (const char *)sqlite3_column_text(st, 3) : NULL;
		if (fn((long long)sqlite3_column_int64(st, 0), ids && !id ? "" : id, blob, dim, ud)) {
			ret = 1;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		sqlite_db_error(s, err, errlen, "cannot read vectors");
		ret = -1;
	}
out:
	sqlite3_finalize(st);
	if (own > 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	buf_free(&sql);
	return ret;
}

int sqlite_models(void *c, struct store_model_count **models, size_t *n, char *err,
		  size_t errlen)
{
	struct sqlite_db *s = c;
	/* the models from the primary key's index, then per model its count
	 * (the same index) and the size of one of its vectors: no blob is
	 * read, where a GROUP BY over the table would read them all */
	sqlite3_stmt *st = NULL, *cnt = NULL, *dim = NULL;
	int rc = SQLITE_DONE, ret = 0;
	if (sqlite_prepare_retry(s, "SELECT DISTINCT model FROM vector_data ORDER BY model", &st) ||
	    sqlite_prepare_retry(s, "SELECT count(*) FROM vector_data WHERE model = ?1", &cnt) ||
	    sqlite_prepare_retry(s, "SELECT max(dim) FROM (SELECT dim FROM vector_data"
				 " WHERE model = ?1 LIMIT 1)", &dim)) {
		ret = -1;
		goto out;
	}
	while ((rc = sqlite_step_retry(s, st)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);
		*models = xrealloc(*models, (*n + 1) * sizeof **models);
		struct store_model_count *mc = &(*models)[(*n)++];
		mc->model = xstrdup(m ? m : "");
		sqlite3_bind_text(cnt, 1, mc->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(dim, 1, mc->model, -1, SQLITE_STATIC);
		if (sqlite_step_retry(s, cnt) != SQLITE_ROW || sqlite_step_retry(s, dim) != SQLITE_ROW) {
			ret = -1;
			break;
		}
		mc->vectors = (long)sqlite3_column_int64(cnt, 0);
		mc->dim = (long)sqlite3_column_int64(dim, 0);
		sqlite3_reset(cnt);
		sqlite3_reset(dim);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -1;
out:
	if (ret)
		sqlite_db_error(s, err, errlen, "cannot read the models of the vectors");
	sqlite3_finalize(st);
	sqlite3_finalize(cnt);
	sqlite3_finalize(dim);
	return ret;
}

int sqlite_get_key(void *c, long long key, const char *model, struct buf *out, char *err,
		   size_t errlen)
{
	struct sqlite_db *s = c;
	sqlite3_stmt *st = NULL;
	if (sqlite_prepare_retry(s, "SELECT id FROM records WHERE rid = ?1", &st) != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read");
		return -1;
	}
	sqlite3_bind_int64(st, 1, key);
	int rc = sqlite_step_retry(s, st), found = 0;
	char *id = NULL;
	if (rc == SQLITE_ROW)
		id = xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		found = -1;
	sqlite3_finalize(st);
	if (found < 0) {
		sqlite_db_error(s, err, errlen, "cannot read");
		return -1;
	}
	if (id)
		found = sqlite_get(c, id, model, out, err, errlen);
	free(id);
	return found;
}
