/* pg_batch: what lets the PostgreSQL backend send a batch's records
 * without waiting for an answer per statement: the records held until
 * they are sent (each a copy in one allocation, since the caller's spans
 * are only valid during store_write), binary arrays (one parameter
 * carrying a column of many rows, for statements over unnest()), and
 * libpq's pipeline mode, where statements go out one after the other and
 * their answers are read back in order after one sync (one round trip
 * for any number of them). */
#include "pg_db.h"
#include "log.h"
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Copies n bytes of p (NULL stays NULL) to *at, moving *at past them. */
static const char *copy_span(char **at, const char *p, size_t n)
{
	if (!p)
		return NULL;
	char *d = *at;
	if (n)
		memcpy(d, p, n);
	*at += n;
	return d;
}

static size_t event_bytes(const struct store_event *e)
{
	return e->stage_len + e->model_len + e->error_len + e->code_len + e->message_len +
	       e->fingerprint_len + e->input_len + e->members_len;
}

static void copy_event(struct store_event *d, const struct store_event *e, char **at)
{
	*d = *e;
	d->stage = copy_span(at, e->stage, e->stage_len);
	d->model = copy_span(at, e->model, e->model_len);
	d->error = copy_span(at, e->error, e->error_len);
	d->code = copy_span(at, e->code, e->code_len);
	d->message = copy_span(at, e->message, e->message_len);
	d->fingerprint = copy_span(at, e->fingerprint, e->fingerprint_len);
	d->input = copy_span(at, e->input, e->input_len);
	d->members = copy_span(at, e->members, e->members_len);
}

/* r copied whole into one allocation: the held record, its events, its
 * vector, then the bytes of its spans. */
static struct pg_held *held_copy(const struct store_rec *r, size_t *bytes)
{
	size_t n = sizeof(struct pg_held) + r->nevents * sizeof(struct store_event) +
		   (r->vec ? r->dim * sizeof(float) : 0) + r->id_len + r->doc_len + r->body_len +
		   r->vec_model_len;
	for (size_t i = 0; i < r->nevents; i++)
		n += event_bytes(&r->events[i]);
	struct pg_held *h = xcalloc(1, n);
	struct store_event *ev = (struct store_event *)(h + 1);
	float *vec = (float *)(ev + r->nevents);
	char *at = (char *)(vec + (r->vec ? r->dim : 0));
	h->r = *r;
	h->r.id = copy_span(&at, r->id, r->id_len);
	h->r.doc = copy_span(&at, r->doc, r->doc_len);
	h->r.body = copy_span(&at, r->body, r->body_len);
	h->r.vec_model = copy_span(&at, r->vec_model, r->vec_model_len);
	if (r->vec) {
		memcpy(vec, r->vec, r->dim * sizeof(float));
		h->r.vec = vec;
	}
	for (size_t i = 0; i < r->nevents; i++)
		copy_event(&ev[i], &r->events[i], &at);
	h->r.events = r->nevents ? ev : NULL;
	*bytes = n;
	return h;
}

int pg_held_has(const struct pg_db *s, const char *id, size_t len)
{
	return s->held_ids && strmap_getn(s->held_ids, id, len) >= 0;
}

void pg_held_add(struct pg_db *s, const struct store_rec *r, double now)
{
	if (s->nheld == s->held_cap) {
		s->held_cap = s->held_cap ? 2 * s->held_cap : 64;
		s->held = xrealloc(s->held, s->held_cap * sizeof *s->held);
	}
	size_t bytes;
	struct pg_held *h = held_copy(r, &bytes);
	h->now = now;
	if (!s->held_ids)
		s->held_ids = strmap_new();
	strmap_putn(s->held_ids, h->r.id, h->r.id_len, (long)s->nheld);
	s->held[s->nheld++] = h;
	s->held_bytes += bytes;
}

void pg_held_clear(struct pg_db *s)
{
	for (size_t i = 0; i < s->nheld; i++) {
		buf_free(&s->held[i]->merged);
		free(s->held[i]);
	}
	s->nheld = 0;
	s->held_bytes = 0;
	strmap_free(s->held_ids);
	s->held_ids = NULL;
}

void pg_held_free(struct pg_db *s)
{
	pg_held_clear(s);
	free(s->held);
	s->held = NULL;
	s->held_cap = 0;
	free(s->tags);
	s->tags = NULL;
	s->tags_cap = 0;
}

static void put_be32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	buf_append(b, x, 4);
}

static void put_be64(struct buf *b, uint64_t v)
{
	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b, (uint32_t)v);
}

/* array_send's header: 1 dimension, the null flag, the element type,
 * the count and lower bound 1 (flag and count set by pg_q_arr). */
static void arr_header(struct pg_arr *a)
{
	buf_reset(&a->b);
	put_be32(&a->b, 1);
	put_be32(&a->b, 0);
	put_be32(&a->b, (uint32_t)a->oid);
	put_be32(&a->b, 0);
	put_be32(&a->b, 1);
}

static void set_be32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

void pg_arr_begin(struct pg_arr *a, int oid)
{
	a->n = 0;
	a->nulls = 0;
	a->oid = oid;
	arr_header(a);
}

void pg_arr_text(struct pg_arr *a, const char *p, size_t n)
{
	a->n++;
	if (!p) {
		a->nulls = 1;
		put_be32(&a->b, UINT32_MAX);
		return;
	}
	put_be32(&a->b, (uint32_t)n);
	buf_append(&a->b, p, n);
}

void pg_arr_int(struct pg_arr *a, long long v, int null)
{
	if (null) {
		pg_arr_text(a, NULL, 0);
		return;
	}
	a->n++;
	put_be32(&a->b, 8);
	put_be64(&a->b, (uint64_t)v);
}

void pg_arr_double(struct pg_arr *a, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	a->n++;
	put_be32(&a->b, 8);
	put_be64(&a->b, u);
}

int pg_q_arr(struct pg_q *q, struct pg_arr *a)
{
	set_be32(a->b.p + 4, (uint32_t)a->nulls);
	set_be32(a->b.p + 12, (uint32_t)a->n);
	return pg_q_bytes(q, a->b.p, a->b.len);
}

int pg_pipe_send(struct pg_db *s, int k, const struct pg_q *q, long tag, char *err,
		 size_t errlen)
{
	if (!s->prepared[k])
		log_internal("statement %d sent in a pipeline before it was prepared", k);
	if (PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(s->conn)) {
		pg_error(s, err, errlen, "cannot write record", NULL);
		return -1;
	}
	char name[16];
	snprintf(name, sizeof name, "lanes%d", k);
	if (!PQsendQueryPrepared(s->conn, name, q->n, q->val, q->len, q->fmt, 1)) {
		pg_error(s, err, errlen, "cannot write record", NULL);
		return -1;
	}
	if (s->ntags == s->tags_cap) {
		s->tags_cap = s->tags_cap ? 2 * s->tags_cap : 256;
		s->tags = xrealloc(s->tags, s->tags_cap * sizeof *s->tags);
	}
	s->tags[s->ntags++] = tag;
	return 0;
}

/* The answer of one statement sent: fn's for a good one, else the first
 * error kept in err (those after it were skipped by the server). */
static void pipe_answer(struct pg_db *s, PGresult *r, long tag, pg_pipe_fn fn, void *ud,
			int *rc, char *err, size_t errlen)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (!*rc && fn && fn(s, r, tag, ud, err, errlen))
			*rc = -1;
		return;
	}
	if (!*rc)
		pg_error(s, err, errlen, s->pipe_what ? s->pipe_what : "cannot write record", r);
	*rc = -1;
}

/* The next result must be what a statement's answers end with: NULL. */
static int pipe_end(struct pg_db *s)
{
	PGresult *r = PQgetResult(s->conn);
	if (!r)
		return 0;
	PQclear(r);
	return -1;
}

/* The sync's own answer, then back out of pipeline mode. */
static int pipe_close(struct pg_db *s)
{
	PGresult *r = PQgetResult(s->conn);
	int ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
	PQclear(r);
	return ok && PQexitPipelineMode(s->conn) ? 0 : -1;
}

int pg_pipe_sync(struct pg_db *s, pg_pipe_fn fn, void *ud, char *err, size_t errlen)
{
	size_t n = s->ntags;
	s->ntags = 0;
	if (PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF)
		return 0;
	int rc = 0, broken = !PQpipelineSync(s->conn);
	for (size_t i = 0; i < n && !broken; i++) {
		PGresult *r = PQgetResult(s->conn);
		if (!r) {
			broken = 1;
			break;
		}
		pipe_answer(s, r, s->tags[i], fn, ud, &rc, err, errlen);
		PQclear(r);
		broken = pipe_end(s);
	}
	if (!broken)
		broken = pipe_close(s);
	if (broken) {
		/* the connection went away mid-answer: what follows fails too */
		if (!rc)
			pg_error(s, err, errlen, "cannot write record", NULL);
		rc = -1;
	}
	return rc;
}
