/* filter: reader -> pool -> ordered writer, with counting and rejects. */
#include "filter.h"
#include "log.h"
#include "ndjson.h"
#include "pool.h"
#include "record.h"
#include "reqlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct filter {
	struct app *a;
	struct pool *pool;
	struct ndjson_writer *w;
	size_t batch;
	filter_fn fn;
	filter_emitted_fn emitted;
	void (*on_idle)(void *ud);
	void *ud;
	const char *where; /* input name for messages */
	int eager;         /* send part-filled jobs when the input would block */
	int raw;           /* lines left unparsed: the tool checks them */
	long logged;       /* failures logged so far (writer thread) */
	size_t max_bytes;  /* cap on the bytes of input lines in flight (0: none) */
	size_t bytes;      /* ... in flight now, under blk */
	struct lock *blk;
};

/* The counter of an answered record's outcome; NULL for the others. */
static atomic_long *outcome_counter(struct app_stats *st, enum rec_outcome o)
{
	switch (o) {
	case REC_OK: return &st->ok;
	case REC_SKIPPED: return &st->skipped;
	case REC_FAILED: return &st->failed;
	default: return NULL;
	}
}

static void work(void *jp, int worker, void *ud)
{
	struct filter *f = ud;
	struct job *job = jp;
	char err[256];
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->reject || r->json || !r->line || f->raw)
			continue;
		r->json = ndjson_parse(r->line, r->len, err, sizeof err);
		if (!r->json) {
			r->reject = xstrdup(err);
			r->outcome = REC_REJECTED;
		}
	}
	f->fn(job, worker, f->ud);
	/* answered: the work of these records is done, whether or not the
	 * writer has reached them */
	struct app_stats *st = &f->a->st;
	long answered = 0;
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		atomic_long *c = outcome_counter(st, r->outcome);
		if (c) {
			atomic_fetch_add(c, 1);
			answered++;
		}
		atomic_fetch_add(&st->retried, r->retries);
		r->retries = 0;
	}
	atomic_fetch_add(&st->answered, answered);
}

/* Logs why record r failed, naming it by its id (a non-empty string, as the
 * input spells it): a line number means little three tools down a
 * pipeline. A record without one is named by where it was read. */
static void log_failure(const struct filter *f, const struct rec *r)
{
	size_t vs, ve;
	if (record_find(r->line, r->len, "id", NULL, NULL, &vs, &ve)) {
		cJSON *id = cJSON_ParseWithLength(r->line + vs, ve - vs);
		int named = cJSON_IsString(id) && *id->valuestring;
		cJSON_Delete(id);
		if (named) {
			log_error("id %.*s: %s", (int)(ve - vs), r->line + vs, r->log);
			return;
		}
	}
	log_error("%s:%ld: %s", f->where, r->lineno, r->log);
}

static void emit(void *jp, void *ud)
{
	struct filter *f = ud;
	struct job *job = jp;
	struct app *a = f->a;
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED) {
			app_reject(a, f->where, r->lineno, r->reject ? r->reject : "rejected",
				   r->line, r->len);
		} else {
			/* the hook may still change the outcome (a failed write):
			 * the record moves to its new counter */
			if (f->emitted) {
				enum rec_outcome was = r->outcome;
				f->emitted(r, f->ud);
				atomic_long *from = outcome_counter(&a->st, was);
				atomic_long *to = outcome_counter(&a->st, r->outcome);
				if (from && to && from != to) {
					atomic_fetch_add(to, 1);
					atomic_fetch_sub(from, 1);
				}
			}
			if (r->log) {
				if (f->logged < FILTER_LOG_MAX)
					log_failure(f, r);
				else if (f->logged == FILTER_LOG_MAX)
					log_error("more records failed; the rest are not logged one by one "
						  "(each carries \"errors\" in the output)");
				f->logged++;
			}
			/* retries the hook spent (the worker's are counted) */
			atomic_fetch_add(&a->st.retried, r->retries);
			if (r->out.len && !a->output_closed) {
				/* the buffer already holds whole lines with their '\n';
				 * the writer counts them as they go out */
				if (ndjson_write(f->w, r->out.p, r->out.len - 1) != 0 &&
				    ndjson_writer_state(f->w) == 1) {
					a->output_closed = 1;
					app_request_stop(APP_STOP_OUTPUT_CLOSED);
				}
			}
		}
		free(r->line);
		free(r->reject);
		free(r->log);
		cJSON_Delete(r->json);
		buf_free(&r->out);
	}
	if (f->blk && job->bytes) {
		lock_take(f->blk);
		f->bytes -= job->bytes;
		lock_signal(f->blk);
		lock_give(f->blk);
	}
	free(job->recs);
	free(job);
}

static void idle(void *ud)
{
	struct filter *f = ud;
	if (ndjson_flush(f->w) && ndjson_writer_state(f->w) == 1) {
		f->a->output_closed = 1;
		app_request_stop(APP_STOP_OUTPUT_CLOSED);
	}
	if (f->on_idle)
		f->on_idle(f->ud);
}

struct filter *filter_new(struct app *a, filter_fn fn,
			  filter_emitted_fn emitted, filter_idle_fn on_idle,
			  void *ud)
{
	struct filter *f = xcalloc(1, sizeof *f);
	f->a = a;
	f->batch = a->batch ? a->batch : 1;
	f->fn = fn;
	f->emitted = emitted;
	f->on_idle = on_idle;
	f->ud = ud;
	f->where = "<stdin>";
	f->w = ndjson_writer_new(1);
	ndjson_writer_count(f->w, &a->st.written);
	f->pool = pool_new(a->workers, app_inflight_jobs(a), !a->unordered, work, emit, idle, f);
	if (a->workers_need)
		pool_set_need(f->pool, a->workers_need, a->workers_need_ud);
	if (a->emit_in_workers)
		pool_set_inline_emit(f->pool);
	return f;
}

void filter_submit(struct filter *f, struct job *job)
{
	long read = 0;
	for (size_t i = 0; i < job->n; i++)
		read += job->recs[i].outcome != REC_NONE;
	atomic_fetch_add(&f->a->st.read, read);
	pool_submit(f->pool, job);
}

void filter_set_max_bytes(struct filter *f, size_t bytes)
{
	f->max_bytes = bytes;
	if (bytes && !f->blk)
		f->blk = lock_new();
}

/* Submits a job read from the input, after waiting for the bytes in flight
 * to leave room for it. */
static void submit_read(struct filter *f, struct job *job)
{
	if (f->blk) {
		lock_take(f->blk);
		while (f->bytes && f->bytes + job->bytes > f->max_bytes)
			lock_wait(f->blk);
		f->bytes += job->bytes;
		lock_give(f->blk);
	}
	pool_submit(f->pool, job);
}

static struct job *job_new(size_t cap)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->recs = xcalloc(cap, sizeof *j->recs);
	return j;
}

void filter_read_fd(struct filter *f, int fd, const char *name)
{
	f->where = name;
	struct ndjson_reader *r = ndjson_open(fd, name, f->a->max_line, &app_stop);
	struct job *job = NULL;
	for (;;) {
		char *text = NULL;
		size_t len = 0;
		long lineno = 0;
		/* eager: a part-filled job goes now rather than wait for input */
		if (f->eager && job && !ndjson_ready(r)) {
			submit_read(f, job);
			job = NULL;
		}
		enum ndjson_status st = ndjson_read(r, &text, &len, &lineno);
		if (st == NDJSON_EOF)
			break;
		if (st == NDJSON_ERROR) {
			log_error("%s: read error after line %ld: %s", name, lineno, strerror(errno));
			f->a->read_error = 1;
			break;
		}
		atomic_fetch_add(&f->a->st.read, 1);
		if (!job)
			job = job_new(f->batch);
		struct rec *rc = &job->recs[job->n++];
		rc->lineno = lineno;
		if (st == NDJSON_TOOLONG) {
			rc->outcome = REC_REJECTED;
			rc->reject = xasprintf("line of %zu bytes is over the cap of %zu (max_line)",
					       len, f->a->max_line);
		} else {
			rc->line = text;
			rc->len = len;
			job->bytes += len;
		}
		if (job->n == f->batch) {
			submit_read(f, job);
			job = NULL;
		}
	}
	if (job)
		submit_read(f, job);
	ndjson_close(r);
}

void filter_set_eager(struct filter *f, int eager)
{
	f->eager = eager;
}

void filter_set_raw(struct filter *f, int raw)
{
	f->raw = raw;
}

size_t filter_inflight(struct filter *f)
{
	return f->pool ? pool_inflight(f->pool) : 0;
}

void filter_finish(struct filter *f)
{
	pool_finish(f->pool);
	f->pool = NULL;
	if (f->blk)
		lock_free(f->blk);
	/* a last idle call, now that every record is emitted, so that a tool
	 * can commit its final batch */
	if (f->on_idle)
		f->on_idle(f->ud);
	ndjson_flush(f->w);
	struct app *a = f->a;
	int wstate = ndjson_writer_state(f->w);
	if (wstate == 1)
		a->output_closed = 1;
	else if (wstate == -1)
		a->write_errno = ndjson_writer_errno(f->w);
	ndjson_writer_free(f->w);
	free(f);
}

void rec_emit(struct rec *r, const char *line, size_t len)
{
	buf_append(&r->out, line, len);
	buf_putc(&r->out, '\n');
}

void rec_pass(struct rec *r)
{
	rec_emit(r, r->line, r->len);
}

static void set_error(struct buf *out, const char *line, size_t len, const char *stage,
		      const char *code, const char *message, int attempts, const char *answer)
{
	size_t vs, ve;
	cJSON *errs = NULL;
	if (record_find(line, len, "errors", NULL, NULL, &vs, &ve))
		errs = cJSON_ParseWithLength(line + vs, ve - vs);
	if (!cJSON_IsObject(errs)) {
		cJSON_Delete(errs);
		errs = cJSON_CreateObject();
	}
	cJSON_DeleteItemFromObjectCaseSensitive(errs, stage);
	if (code) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", message ? message : "");
		cJSON_AddNumberToObject(e, "attempts", attempts);
		if (answer) {
			int cut;
			char *t = reqlog_clean_text(answer, strlen(answer), REQLOG_TEXT_MAX, &cut);
			cJSON_AddStringToObject(e, "answer", t);
			if (cut)
				cJSON_AddTrueToObject(e, "answer_cut");
			free(t);
		}
		cJSON_AddItemToObject(errs, stage, e);
	}
	if (!errs->child) {
		record_del(out, line, len, "errors");
	} else {
		char *txt = cJSON_PrintUnformatted(errs);
		record_set(out, line, len, "errors", txt, strlen(txt));
		free(txt);
	}
	cJSON_Delete(errs);
}

void rec_set_error(struct buf *out, const char *line, size_t len,
		   const char *stage, const char *code, const char *message,
		   int attempts)
{
	set_error(out, line, len, stage, code, message, attempts, NULL);
}

void rec_fail_answer(struct rec *r, const char *stage, const char *code,
		     const char *message, int attempts, const char *answer)
{
	struct buf b = {0};
	set_error(&b, r->line, r->len, stage, code, message, attempts, answer);
	rec_emit(r, b.p, b.len);
	buf_free(&b);
	r->outcome = REC_FAILED;
	if (!r->log)
		r->log = xasprintf("%s: %s", stage, message ? message : code);
}

void rec_fail(struct rec *r, const char *stage, const char *code,
	      const char *message, int attempts)
{
	rec_fail_answer(r, stage, code, message, attempts, NULL);
}
