/* pg_write: the PostgreSQL backend's write path: records put in batches,
 * one transaction each; a new record is inserted, a stored one is read
 * FOR UPDATE (a concurrent writer of the same id waits, so merges are
 * never lost between processes), merged on its text (store_body.c) and
 * updated only when it changed; vectors as bytea of little-endian
 * float32; the status of each stage; a put releases the claims of the
 * stages it reports on. The statements are prepared once per connection
 * and every value is a bound parameter. Records are held (pg_batch.c)
 * and sent together through libpq's pipeline, in three round trips
 * however many they are: one INSERT of them all, the reads of those
 * stored before, then the rest: the new records' vectors and good stages
 * in one statement each, then every other statement in the records'
 * order. Held records are sent before any other statement, and before a
 * second record of a held id (it merges over the first's row). */
#include "pg_db.h"
#include "stage.h"
#include "strmap.h"

#include <stdio.h>
#include <string.h>

/* Records held before they are sent at most, and their bytes: memory
 * stays bounded whatever the batch's size. */
#define PG_HELD_MAX 256
#define PG_HELD_BYTES (8u << 20)

/* the held records in one statement, a column per array, in their order
 * (rids in input order); the new ones come back */
static const char *const sql_insert =
	"INSERT INTO records(id, doc, seq, body, vec_model, updated)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],"
	" $6::float8[]) ON CONFLICT (id) DO NOTHING RETURNING rid, id";
static const char *const sql_find = "SELECT rid, body FROM records WHERE id = $1::text FOR UPDATE";
/* rows are only written when something changes: a rerun rewrites nothing */
static const char *const sql_update =
	"UPDATE records SET doc = coalesce($2::text, doc), seq = coalesce($3::int8, seq),"
	" body = $4::text, vec_model = coalesce($5::text, vec_model), updated = $6::float8"
	" WHERE rid = $1::int8 AND (body IS DISTINCT FROM $4::text"
	" OR doc IS DISTINCT FROM coalesce($2::text, doc)"
	" OR seq IS DISTINCT FROM coalesce($3::int8, seq)"
	" OR vec_model IS DISTINCT FROM coalesce($5::text, vec_model))";
static const char *const sql_vec =
	"INSERT INTO vector_data(rid, model, dim, vec, updated)"
	" VALUES($1::int8, $2::text, $3::int8, $4::bytea, $5::float8)"
	" ON CONFLICT (rid, model) DO UPDATE SET dim = excluded.dim, vec = excluded.vec,"
	" updated = excluded.updated WHERE vector_data.vec IS DISTINCT FROM excluded.vec";
/* the vectors of records this batch made, one statement for all */
static const char *const sql_vecs =
	"INSERT INTO vector_data(rid, model, dim, vec, updated)"
	" SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[], $4::bytea[], $5::float8[])"
	" ON CONFLICT (rid, model) DO UPDATE SET dim = excluded.dim, vec = excluded.vec,"
	" updated = excluded.updated WHERE vector_data.vec IS DISTINCT FROM excluded.vec";
static const char *const sql_stage_ok =
	"INSERT INTO stage_data(rid, stage, status, model, failures, updated, fingerprint)"
	" VALUES($1::int8, $2::text, 'ok', $3::text, 0, $4::float8, $5::text)"
	" ON CONFLICT (rid, stage) DO UPDATE SET status = 'ok', model = excluded.model,"
	" failures = 0, code = NULL, message = NULL, error = NULL, updated = excluded.updated,"
	" fingerprint = excluded.fingerprint WHERE stage_data.status <> 'ok'"
	" OR stage_data.model IS DISTINCT FROM excluded.model"
	" OR stage_data.fingerprint IS DISTINCT FROM excluded.fingerprint";
/* sql_stage_ok for many rows (never one row twice) */
static const char *const sql_stages_ok =
	"INSERT INTO stage_data(rid, stage, status, model, failures, updated, fingerprint)"
	" SELECT r, g, 'ok', m, 0, u, f FROM unnest($1::int8[], $2::text[], $3::text[],"
	" $4::float8[], $5::text[]) AS t(r, g, m, u, f)"
	" ON CONFLICT (rid, stage) DO UPDATE SET status = 'ok', model = excluded.model,"
	" failures = 0, code = NULL, message = NULL, error = NULL, updated = excluded.updated,"
	" fingerprint = excluded.fingerprint WHERE stage_data.status <> 'ok'"
	" OR stage_data.model IS DISTINCT FROM excluded.model"
	" OR stage_data.fingerprint IS DISTINCT FROM excluded.fingerprint";
static const char *const sql_result_put =
	"INSERT INTO results(stage, fingerprint, input, members, vec, updated)"
	" VALUES($1::text, $2::text, $3::text, $4::text, $5::bytea, $6::float8)"
	" ON CONFLICT (stage, fingerprint, input) DO UPDATE SET members = excluded.members,"
	" vec = excluded.vec, updated = excluded.updated"
	" WHERE results.members IS DISTINCT FROM excluded.members"
	" OR results.vec IS DISTINCT FROM excluded.vec";
static const char *const sql_stage_err =
	"INSERT INTO stage_data(rid, stage, status, model, failures, code, message, error, updated)"
	" VALUES($1::int8, $2::text, CASE WHEN $7::int8 <= 1 THEN 'given_up' ELSE 'error' END,"
	" $3::text, 1, $4::text, $5::text, $6::text, $8::float8)"
	" ON CONFLICT (rid, stage) DO UPDATE SET failures = stage_data.failures + 1,"
	" status = CASE WHEN stage_data.status = 'given_up'"
	" OR stage_data.failures + 1 >= $7::int8 THEN 'given_up' ELSE 'error' END,"
	" model = coalesce(excluded.model, stage_data.model), code = excluded.code,"
	" message = excluded.message, error = excluded.error, updated = excluded.updated";
/* an error the store itself wrote out, passing through again */
static const char *const sql_stage_carried =
	"INSERT INTO stage_data(rid, stage, status, model, failures, code, message, error, updated)"
	" VALUES($1::int8, $2::text, CASE WHEN $7::int8 >= $9::int8 THEN 'given_up' ELSE 'error' END,"
	" $3::text, $7::int8, $4::text, $5::text, $6::text, $8::float8)"
	" ON CONFLICT (rid, stage) DO NOTHING";
static const char *const sql_stale_vecs = "DELETE FROM vector_data WHERE rid = $1::int8";
static const char *const sql_stale_stages =
	"DELETE FROM stage_data WHERE rid = $1::int8 AND stage = $2::text";
static const char *const sql_stale_vec_model =
	"UPDATE records SET vec_model = NULL WHERE rid = $1::int8";
static const char *const sql_unclaim = "DELETE FROM claims WHERE rid = $1::int8 AND stage = $2::text";
/* an entry of the request log and a row per record id it names, at once */
static const char *const sql_log_add =
	"WITH l AS (INSERT INTO llm_log(ts, stage, model, code, prompt_tokens, completion_tokens,"
	" entry, kind) VALUES($1::text, $2::text, $3::text, $4::text, $5::int8, $6::int8, $7::text,"
	" $8::text) RETURNING n)"
	" INSERT INTO llm_log_ids(id, n) SELECT i, l.n FROM l, unnest($9::text[]) AS i"
	" ON CONFLICT DO NOTHING";

/* The statements a batch sends, by slot: prepared before the first send. */
static const char *const *const slot_sql[P_COUNT] = {
	[P_INSERT] = &sql_insert,
	[P_FIND] = &sql_find,
	[P_UPDATE] = &sql_update,
	[P_VEC] = &sql_vec,
	[P_VECS] = &sql_vecs,
	[P_STAGE_OK] = &sql_stage_ok,
	[P_STAGES_OK] = &sql_stages_ok,
	[P_STAGE_ERR] = &sql_stage_err,
	[P_STAGE_CARRIED] = &sql_stage_carried,
	[P_RESULT_PUT] = &sql_result_put,
	[P_STALE_VECS] = &sql_stale_vecs,
	[P_STALE_STAGES] = &sql_stale_stages,
	[P_STALE_VEC_MODEL] = &sql_stale_vec_model,
	[P_UNCLAIM] = &sql_unclaim,
};

static int begin(struct pg_db *s, char *err, size_t errlen)
{
	if (s->in_txn)
		return 0;
	if (pg_cmd(s, "BEGIN", err, errlen, "cannot begin a transaction"))
		return -1;
	s->in_txn = 1;
	s->batch_n = 0;
	s->batch_t0 = now_ms();
	/* claims held when the batch begins: the puts of claimed records */
	PGresult *r = PQexecParams(s->conn, "SELECT EXISTS (SELECT 1 FROM claims)", 0, NULL, NULL,
				   NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(s, err, errlen, "cannot read the claims", r);
		PQclear(r);
		PQclear(PQexec(s->conn, "ROLLBACK"));
		s->in_txn = 0;
		return -1;
	}
	s->claims = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return 0;
}

/* After a failed statement the transaction is aborted: the batch is
 * gone. Rolls it back so the records of the batch are never half
 * written. */
static void abandon_batch(struct pg_db *s, long *lost)
{
	if (lost)
		*lost = s->in_txn ? s->batch_n : 0;
	pg_held_clear(s);
	s->failed = 0;
	char ignored[64];
	pg_log_sync(s, ignored, sizeof ignored);
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	s->in_txn = 0;
	s->batch_n = 0;
}

/* A send made for a read failed the batch: the next write says so. */
static int batch_failed(struct pg_db *s, long *lost, char *err, size_t errlen)
{
	if (!s->failed)
		return 0;
	snprintf(err, errlen, "%s", s->failed_err);
	abandon_batch(s, lost);
	return -1;
}

/* Deletes the records `cond` selects ($1 the doc or id, $2 a seq), with
 * their vectors, stages and claims, in the batch; the count to *removed. */
static int delete_rows(struct pg_db *s, const char *cond, const char *key, size_t len,
		       const long long *seq, long *removed, long *lost, char *err, size_t errlen)
{
	if (lost)
		*lost = 0;
	*removed = 0;
	if (batch_failed(s, lost, err, errlen) || begin(s, err, errlen))
		return -1;
	struct pg_q *q = &s->q;
	/* cond names $1 and $2: the parameters, then the SQL */
	pg_q_reset(q);
	pg_q_text(q, key, len);
	if (seq)
		pg_q_int(q, *seq);
	buf_reset(&q->sql);
	buf_printf(&q->sql, "WITH d AS (DELETE FROM records WHERE %s RETURNING rid),"
		   " v AS (DELETE FROM vector_data WHERE rid IN (SELECT rid FROM d)),"
		   " g AS (DELETE FROM stage_data WHERE rid IN (SELECT rid FROM d)),"
		   " c AS (DELETE FROM claims WHERE rid IN (SELECT rid FROM d))"
		   " SELECT count(*) FROM d", cond);
	PGresult *r = pg_exec(s, q, err, errlen, "cannot delete records");
	if (!r) {
		abandon_batch(s, lost);
		return -1;
	}
	*removed = (long)pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_prune_doc(void *c, const char *doc, size_t doc_len, long long max_seq, long *removed,
		 long *lost, char *err, size_t errlen)
{
	/* the segments past the new last one, and the record of the document
	 * itself that a failed segment run left (id = doc, no seq) */
	return delete_rows(c, "doc = $1::text AND (seq > $2::int8 OR (seq IS NULL AND id = $1::text))",
			   doc, doc_len, &max_seq, removed, lost, err, errlen);
}

int pg_delete(void *c, const char *key, size_t len, int by_doc, long *removed, long *lost,
	      char *err, size_t errlen)
{
	return delete_rows(c, by_doc ? "doc = $1::text" : "id = $1::text", key, len, NULL, removed,
			   lost, err, errlen);
}

/* Sends slot k with s->pq's parameters in the pipeline; 0, or -1 with err. */
static int send(struct pg_db *s, int k, char *err, size_t errlen)
{
	return pg_pipe_send(s, k, &s->pq, 0, err, errlen);
}

static void q_rid(struct pg_q *q, long long rid)
{
	pg_q_reset(q);
	pg_q_int(q, rid);
}

/* Appends the row's parameters after the first ($1: the id to insert,
 * the rid to update): doc, seq, body, the vector's model, the time. */
static void q_row(struct pg_q *q, const struct pg_held *h, const char *body, size_t body_len)
{
	const struct store_rec *r = &h->r;
	pg_q_text(q, r->doc, r->doc_len);
	if (r->has_seq)
		pg_q_int(q, r->seq);
	else
		pg_q_text(q, NULL, 0);
	pg_q_text(q, body, body_len);
	if (r->vec)
		pg_q_text(q, r->vec_model ? r->vec_model : "", r->vec_model_len);
	else
		pg_q_text(q, NULL, 0);
	pg_q_double(q, h->now);
}

/* Empties the n columns of a statement over unnest(), of the types oids. */
static void cols_begin(struct pg_arr *col, const int *oids, size_t n)
{
	for (size_t c = 0; c < n; c++)
		pg_arr_begin(&col[c], oids[c]);
}

/* Sends slot k with the n columns as its parameters when they hold rows,
 * and frees them. Returns 0, or -1 with err. */
static int send_cols(struct pg_db *s, int k, struct pg_arr *col, size_t n, char *err,
		     size_t errlen)
{
	int rc = 0;
	pg_q_reset(&s->pq);
	for (size_t c = 0; c < n; c++)
		pg_q_arr(&s->pq, &col[c]);
	if (col[0].n)
		rc = send(s, k, err, errlen);
	for (size_t c = 0; c < n; c++)
		buf_free(&col[c].b);
	return rc;
}

/* The held records' INSERT answered: each row back is a new record. */
static int inserted(struct pg_db *s, const PGresult *res, long tag, void *ud, char *err,
		    size_t errlen)
{
	(void)tag, (void)ud;
	for (int i = 0; i < PQntuples(res); i++) {
		long k = strmap_getn(s->held_ids, PQgetvalue(res, i, 1),
				     (size_t)PQgetlength(res, i, 1));
		if (k < 0) {
			snprintf(err, errlen, "cannot write record: the server inserted an id not sent");
			return -1;
		}
		s->held[k]->rid = pg_int(res, i, 0);
		s->held[k]->fresh = 1;
	}
	return 0;
}

/* A stored record read FOR UPDATE: the put merged over its text. */
static int found(struct pg_db *s, const PGresult *res, long tag, void *ud, char *err,
		 size_t errlen)
{
	(void)ud;
	struct pg_held *h = s->held[tag];
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "cannot write record: its row went away meanwhile");
		return -1;
	}
	h->rid = pg_int(res, 0, 0);
	const char *body = h->r.body;
	size_t body_len = h->r.body_len;
	store_body_merge(&s->body, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1), h->r.body,
			 h->r.body_len, &body, &body_len, &h->stale);
	buf_reset(&h->merged);
	buf_append(&h->merged, body, body_len);
	return 0;
}

/* Ends a round trip: syncs and reads its answers whatever sending found
 * (sent: 0, or -1 with err already said), so pipeline mode is left. */
static int round_trip(struct pg_db *s, int sent, pg_pipe_fn fn, char *err, size_t errlen)
{
	char other[256];
	int rc = pg_pipe_sync(s, fn, NULL, sent ? other : err, sent ? sizeof other : errlen);
	return sent ? -1 : rc;
}

/* Round trip 1: the held records' INSERT ... ON CONFLICT DO NOTHING,
 * one statement for all (no id twice: pg_write sends before that). */
static int send_inserts(struct pg_db *s, char *err, size_t errlen)
{
	static const int oids[] = {PG_OID_TEXT, PG_OID_TEXT, PG_OID_INT8, PG_OID_TEXT,
				   PG_OID_TEXT, PG_OID_FLOAT8};
	struct pg_arr col[6] = {0};
	cols_begin(col, oids, 6);
	for (size_t i = 0; i < s->nheld; i++) {
		const struct store_rec *r = &s->held[i]->r;
		pg_arr_text(&col[0], r->id, r->id_len);
		pg_arr_text(&col[1], r->doc, r->doc_len);
		pg_arr_int(&col[2], r->seq, !r->has_seq);
		pg_arr_text(&col[3], r->body, r->body_len);
		pg_arr_text(&col[4], r->vec ? (r->vec_model ? r->vec_model : "") : NULL,
			    r->vec_model_len);
		pg_arr_double(&col[5], s->held[i]->now);
	}
	int rc = send_cols(s, P_INSERT, col, 6, err, errlen);
	return round_trip(s, rc, inserted, err, errlen);
}

/* Round trip 2: the records stored before, read FOR UPDATE and merged. */
static int send_finds(struct pg_db *s, char *err, size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < s->nheld; i++) {
		const struct pg_held *h = s->held[i];
		if (h->fresh)
			continue;
		pg_q_reset(&s->pq);
		pg_q_text(&s->pq, h->r.id, h->r.id_len);
		rc = pg_pipe_send(s, P_FIND, &s->pq, (long)i, err, errlen);
	}
	return round_trip(s, rc, found, err, errlen);
}

/* A record whose text changed: its vectors and the stages derived from
 * the text go; the record's own come next. */
static int drop_stale(struct pg_db *s, const struct pg_held *h, char *err, size_t errlen)
{
	q_rid(&s->pq, h->rid);
	if (send(s, P_STALE_VECS, err, errlen))
		return -1;
	for (size_t k = 0; k < STAGE_COUNT; k++) {
		if (!stage_table[k].derived)
			continue;
		q_rid(&s->pq, h->rid);
		pg_q_str(&s->pq, stage_table[k].name);
		if (send(s, P_STALE_STAGES, err, errlen))
			return -1;
	}
	if (h->r.vec)
		return 0;
	q_rid(&s->pq, h->rid);
	return send(s, P_STALE_VEC_MODEL, err, errlen);
}

/* The result a stage keeps by content (fingerprint and input hash). */
static int put_result(struct pg_db *s, const struct store_rec *r, const struct store_event *e,
		      double now, char *err, size_t errlen)
{
	struct pg_q *q = &s->pq;
	const struct stage *sd = stage_find(e->stage, e->stage_len);
	pg_q_reset(q);
	pg_q_text(q, e->stage, e->stage_len);
	pg_q_text(q, e->fingerprint, e->fingerprint_len);
	pg_q_text(q, e->input, e->input_len);
	pg_q_text(q, e->members, e->members_len);
	if (sd && sd->vector && r->vec)
		pg_q_bytes(q, store_body_vec_bytes(&s->body, r->vec, r->dim), r->dim * 4);
	else
		pg_q_bytes(q, NULL, 0);
	pg_q_double(q, now);
	return send(s, P_RESULT_PUT, err, errlen);
}

static int put_event(struct pg_db *s, const struct pg_held *h, const struct store_event *e,
		     char *err, size_t errlen)
{
	struct pg_q *q = &s->pq;
	q_rid(q, h->rid);
	pg_q_text(q, e->stage, e->stage_len);
	pg_q_text(q, e->model, e->model_len);
	if (e->ok) {
		pg_q_double(q, h->now);
		pg_q_text(q, e->fingerprint, e->fingerprint_len);
		if (!h->bulk && send(s, P_STAGE_OK, err, errlen))
			return -1;
		if (e->fingerprint && e->input && e->members &&
		    put_result(s, &h->r, e, h->now, err, errlen))
			return -1;
	} else {
		pg_q_text(q, e->code, e->code_len);
		pg_q_text(q, e->message, e->message_len);
		pg_q_text(q, e->error, e->error_len);
		pg_q_int(q, e->carried > 0 ? e->carried : s->max_attempts);
		pg_q_double(q, h->now);
		if (e->carried > 0)
			pg_q_int(q, s->max_attempts);
		if (send(s, e->carried > 0 ? P_STAGE_CARRIED : P_STAGE_ERR, err, errlen))
			return -1;
	}
	/* nobody holds a claim on a record this batch made */
	if (!s->claims || h->fresh)
		return 0;
	q_rid(q, h->rid);
	pg_q_text(q, e->stage, e->stage_len);
	return send(s, P_UNCLAIM, err, errlen);
}

/* Everything of one record but its INSERT: the update of a stored one
 * (the same parameters, the rid first, the merged body), what its new
 * text made stale, its vector, its stages (but those send_bulk sent). */
static int send_record(struct pg_db *s, const struct pg_held *h, char *err, size_t errlen)
{
	const struct store_rec *r = &h->r;
	if (!h->fresh) {
		q_rid(&s->pq, h->rid);
		q_row(&s->pq, h, h->merged.p, h->merged.len);
		if (send(s, P_UPDATE, err, errlen))
			return -1;
	}
	if (h->stale && drop_stale(s, h, err, errlen))
		return -1;
	if (r->vec && !h->bulk) {
		struct pg_q *q = &s->pq;
		q_rid(q, h->rid);
		pg_q_text(q, r->vec_model ? r->vec_model : "", r->vec_model_len);
		pg_q_int(q, (long long)r->dim);
		pg_q_bytes(q, store_body_vec_bytes(&s->body, r->vec, r->dim), r->dim * 4);
		pg_q_double(q, h->now);
		if (send(s, P_VEC, err, errlen))
			return -1;
	}
	for (size_t i = 0; i < r->nevents; i++)
		if (put_event(s, h, &r->events[i], err, errlen))
			return -1;
	return 0;
}

/* 1 when r's stages that went well are each named once: one statement
 * may write them all (it cannot change one row twice). */
static int ok_stages_once(const struct store_rec *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		for (size_t j = 0; j < i; j++)
			if (r->events[i].ok && r->events[j].ok &&
			    r->events[i].stage_len == r->events[j].stage_len &&
			    !memcmp(r->events[i].stage, r->events[j].stage, r->events[i].stage_len))
				return 0;
	return 1;
}

/* The vectors of the bulk records, in one statement. */
static int send_bulk_vecs(struct pg_db *s, char *err, size_t errlen)
{
	static const int oids[] = {PG_OID_INT8, PG_OID_TEXT, PG_OID_INT8, PG_OID_BYTEA,
				   PG_OID_FLOAT8};
	struct pg_arr col[5] = {0};
	cols_begin(col, oids, 5);
	for (size_t i = 0; i < s->nheld; i++) {
		const struct pg_held *h = s->held[i];
		const struct store_rec *r = &h->r;
		if (!h->bulk || !r->vec)
			continue;
		pg_arr_int(&col[0], h->rid, 0);
		pg_arr_text(&col[1], r->vec_model ? r->vec_model : "", r->vec_model_len);
		pg_arr_int(&col[2], (long long)r->dim, 0);
		pg_arr_text(&col[3], store_body_vec_bytes(&s->body, r->vec, r->dim), r->dim * 4);
		pg_arr_double(&col[4], h->now);
	}
	return send_cols(s, P_VECS, col, 5, err, errlen);
}

/* The stages that went well of the bulk records, in one statement. */
static int send_bulk_stages(struct pg_db *s, char *err, size_t errlen)
{
	static const int oids[] = {PG_OID_INT8, PG_OID_TEXT, PG_OID_TEXT, PG_OID_FLOAT8,
				   PG_OID_TEXT};
	struct pg_arr col[5] = {0};
	cols_begin(col, oids, 5);
	for (size_t i = 0; i < s->nheld; i++) {
		const struct pg_held *h = s->held[i];
		for (size_t j = 0; h->bulk && j < h->r.nevents; j++) {
			const struct store_event *e = &h->r.events[j];
			if (!e->ok)
				continue;
			pg_arr_int(&col[0], h->rid, 0);
			pg_arr_text(&col[1], e->stage, e->stage_len);
			pg_arr_text(&col[2], e->model, e->model_len);
			pg_arr_double(&col[3], h->now);
			pg_arr_text(&col[4], e->fingerprint, e->fingerprint_len);
		}
	}
	return send_cols(s, P_STAGES_OK, col, 5, err, errlen);
}

/* Round trip 3: the rest of every held record, in their order. The new
 * records' vectors and good stages go first, in two statements for all:
 * their rows are theirs alone, so sooner changes nothing. */
static int send_rest(struct pg_db *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nheld; i++)
		s->held[i]->bulk = s->held[i]->fresh && ok_stages_once(&s->held[i]->r);
	int rc = send_bulk_vecs(s, err, errlen);
	if (!rc)
		rc = send_bulk_stages(s, err, errlen);
	for (size_t i = 0; !rc && i < s->nheld; i++)
		rc = send_record(s, s->held[i], err, errlen);
	return round_trip(s, rc, NULL, err, errlen);
}

static int prepare_all(struct pg_db *s, char *err, size_t errlen)
{
	for (int k = 0; k < P_COUNT; k++)
		if (slot_sql[k] && pg_prepare(s, k, *slot_sql[k], err, errlen))
			return -1;
	return 0;
}

int pg_write_held(struct pg_db *s, char *err, size_t errlen)
{
	int rc = pg_log_sync(s, err, errlen);
	if (!rc && !s->nheld)
		return 0;
	if (!rc)
		rc = prepare_all(s, err, errlen);
	if (!rc)
		rc = send_inserts(s, err, errlen);
	if (!rc)
		rc = send_finds(s, err, errlen);
	if (!rc)
		rc = send_rest(s, err, errlen);
	pg_held_clear(s);
	if (rc) {
		s->failed = 1;
		snprintf(s->failed_err, sizeof s->failed_err, "%s", err);
	}
	return rc;
}

int pg_write(void *c, const struct store_rec *r, long *lost, char *err, size_t errlen)
{
	struct pg_db *s = c;
	if (lost)
		*lost = 0;
	if (batch_failed(s, lost, err, errlen))
		return -1;
	if (r->id_len > 0x3fffffff || r->body_len > 0x3fffffff || r->dim > 0xfffffff) {
		snprintf(err, errlen, "record too big for the database");
		return -1;
	}
	if (begin(s, err, errlen))
		return -1;
	/* a second record of an id merges over what the first one wrote */
	if (pg_held_has(s, r->id, r->id_len) && pg_write_held(s, err, errlen))
		goto fail;
	pg_held_add(s, r, wall_time());
	if ((s->nheld >= PG_HELD_MAX || s->held_bytes >= PG_HELD_BYTES) &&
	    pg_write_held(s, err, errlen))
		goto fail;
	s->batch_n++;
	return 0;
fail:
	abandon_batch(s, lost);
	return -1;
}

int pg_commit(void *c, long *lost, char *err, size_t errlen)
{
	struct pg_db *s = c;
	if (lost)
		*lost = 0;
	if (batch_failed(s, lost, err, errlen))
		return -1;
	/* COMMIT sends the records held first (pg_cmd) */
	if (!s->in_txn)
		return 0;
	if (pg_cmd(s, "COMMIT", err, errlen, "cannot commit")) {
		abandon_batch(s, lost);
		return -1;
	}
	s->in_txn = 0;
	s->batch_n = 0;
	return 0;
}

long pg_batch_records(const void *c)
{
	const struct pg_db *s = c;
	return s->in_txn ? s->batch_n : 0;
}

double pg_batch_age_ms(const void *c)
{
	const struct pg_db *s = c;
	return s->in_txn ? now_ms() - s->batch_t0 : 0;
}

/* Entries of the request log sent before their answers are read: one
 * round trip for this many (`store log --add` of a run's log took two
 * round trips per entry, about 0.9 s for 2,000 on a local server). */
#define PG_LOG_PIPE 256

/* One entry of the request log, in the batch, with one row per record id:
 * sent in the pipeline (slot P_LOG_ADD, already prepared), its answer read
 * by the next sync. */
static int log_send(struct pg_db *s, const struct store_log_entry *e, char *err, size_t errlen)
{
	struct pg_arr ids = {0};
	pg_arr_begin(&ids, PG_OID_TEXT);
	for (size_t i = 0; i < e->nids; i++)
		pg_arr_text(&ids, e->ids[i], strlen(e->ids[i]));
	struct pg_q *q = &s->pq;
	pg_q_reset(q);
	pg_q_str(q, e->ts);
	pg_q_str(q, e->stage);
	pg_q_str(q, e->model);
	pg_q_str(q, e->code);
	if (e->prompt_tokens >= 0)
		pg_q_int(q, e->prompt_tokens);
	else
		pg_q_text(q, NULL, 0);
	if (e->completion_tokens >= 0)
		pg_q_int(q, e->completion_tokens);
	else
		pg_q_text(q, NULL, 0);
	pg_q_text(q, e->line, e->len);
	pg_q_str(q, e->kind);
	pg_q_arr(q, &ids);
	int rc = pg_pipe_send(s, P_LOG_ADD, q, -1, err, errlen);
	buf_free(&ids.b);
	if (!rc)
		s->log_sent++;
	return rc;
}

int pg_log_sync(struct pg_db *s, char *err, size_t errlen)
{
	if (!s->log_sent)
		return 0;
	s->log_sent = 0;
	s->pipe_what = "cannot add to the request log";
	int rc = pg_pipe_sync(s, NULL, NULL, err, errlen);
	s->pipe_what = NULL;
	return rc;
}

int pg_log_add(void *c, const struct store_log_entry *e, long *lost, char *err, size_t errlen)
{
	struct pg_db *s = c;
	if (lost)
		*lost = 0;
	if (batch_failed(s, lost, err, errlen) || begin(s, err, errlen))
		return -1;
	/* prepared before the pipeline: libpq prepares only outside it */
	if ((!s->log_sent && pg_prepare(s, P_LOG_ADD, sql_log_add, err, errlen)) ||
	    log_send(s, e, err, errlen) ||
	    (s->log_sent >= PG_LOG_PIPE && pg_log_sync(s, err, errlen))) {
		abandon_batch(s, lost);
		return -1;
	}
	s->batch_n++;
	return 0;
}
