/* store_put: `store put`, the filter that writes records. Workers parse
 * records and make them ready (store_record.c); the writer thread puts them
 * in input order into batches, commits a batch when it is full, old, or
 * the input has gone idle, and with --tee passes each record on once its
 * batch is committed. */
#include "store_cmd.h"
#include "filter.h"
#include "log.h"
#include "ndjson.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Tee output held for one batch at most this many bytes: past it the
 * batch is committed early, so memory stays bounded. */
#define TEE_HELD_MAX (8u << 20)
/* Records per job handed to the workers. filter_read_fd sends a job on as
 * soon as the input would block, so a slow input is not held back. */
#define PUT_JOB 64
/* Database errors logged one by one at most; the summary counts them all. */
#define DB_LOG_MAX 20

struct put_ctx {
	struct app *a;
	struct store *s;
	struct filter *f;
	long batch_records;
	double batch_ms;
	int tee;
	struct ndjson_writer *w;
	struct buf held;   /* --tee lines of the open batch, each with '\n' */
	long db_logged;
	struct store_scratch *scratch; /* one per worker */
	/* --prune-docs: the document being put and its highest seq so far */
	int prune;
	struct buf doc;
	int have_doc;
	long long doc_max;
	long pruned;
};

/* The items of a job are allocated together, and freed together when the
 * writer is done with the last one: one free per job, not per record, in
 * the writer thread that has the database to keep busy. */
struct put_item {
	struct store_item it;
	struct put_item *block;
	int last; /* the last item of its block that the writer sees */
};

static void work(struct job *job, int worker, void *ud)
{
	struct put_ctx *c = ud;
	struct store_scratch *sc = &c->scratch[worker];
	struct put_item *block = xmalloc(job->n * sizeof *block), *last = NULL;
	char why[256];
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED || !r->line)
			continue;
		struct put_item *pi = &block[i];
		int rc = store_item_parse(&pi->it, r->line, r->len, sc, why, sizeof why);
		if (rc < 0) {
			r->outcome = REC_REJECTED;
			r->reject = xstrdup(why);
			store_item_free(&pi->it);
			continue;
		}
		if (rc > 0) {
			r->outcome = REC_FAILED;
			r->log = xstrdup(pi->it.fail);
		} else {
			r->outcome = REC_OK;
		}
		pi->block = block;
		pi->last = 0;
		r->extra = pi;
		last = pi;
	}
	if (last)
		last->last = 1;
	else
		free(block);
}

static void output_line(struct put_ctx *c, const char *line, size_t len)
{
	struct app *a = c->a;
	if (a->output_closed)
		return;
	if (ndjson_write(c->w, line, len) != 0 && ndjson_writer_state(c->w) == 1) {
		/* the reader of stdout went away: a quiet end */
		a->output_closed = 1;
		app_request_stop(APP_STOP_OUTPUT_CLOSED);
	}
}

/* A record store could not keep goes on with errors.store (--tee). */
static void output_failed(struct put_ctx *c, const char *line, size_t len,
			  const char *code, const char *message)
{
	if (!c->tee)
		return;
	struct buf b = {0};
	rec_set_error(&b, line, len, "store", code, message, 1);
	output_line(c, b.p, b.len);
	buf_free(&b);
}

/* Logs a database error that cost the records of a batch. */
static void log_lost(struct put_ctx *c, const char *err, long lost)
{
	if (c->db_logged < DB_LOG_MAX)
		log_error("%s (%ld records of the batch not stored)", err, lost);
	else if (c->db_logged == DB_LOG_MAX)
		log_error("more database errors; the rest are not logged one by one");
	c->db_logged++;
}

/* Records of a lost batch were counted ok when they were put: they are
 * failures after all, and go on with errors.store. */
static void lose_batch(struct put_ctx *c, long lost, const char *why)
{
	if (lost <= 0)
		return;
	atomic_fetch_sub(&c->a->st.ok, lost);
	atomic_fetch_add(&c->a->st.failed, lost);
	const char *p = c->held.p, *end = c->held.p + c->held.len;
	while (c->tee && p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		output_failed(c, p, (size_t)(nl - p), "db_error", why);
		p = nl + 1;
	}
	buf_reset(&c->held);
}

/* Commits the batch; the summary counts its records as stored. Returns
 * 0, or -1 with err (the batch is lost: *lost records). */
static int commit_batch(struct put_ctx *c, long *lost, char *err, size_t errlen)
{
	long n = store_batch_records(c->s);
	if (store_commit(c->s, lost, err, errlen))
		return -1;
	atomic_fetch_add(&c->a->st.written, n);
	return 0;
}

static void commit(struct put_ctx *c)
{
	char err[1024];
	long lost = 0;
	if (commit_batch(c, &lost, err, sizeof err)) {
		log_lost(c, err, lost);
		lose_batch(c, lost, err);
		return;
	}
	const char *p = c->held.p, *end = c->held.p + c->held.len;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		output_line(c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	buf_reset(&c->held);
}

/* --prune-docs: the segments of the document just finished are all in;
 * stored ones past its last seq belong to an older, longer version. */
static void prune_doc(struct put_ctx *c)
{
	if (!c->have_doc)
		return;
	char err[1024];
	long removed = 0, lost = 0;
	if (store_prune_doc(c->s, c->doc.p, c->doc.len, c->doc_max, &removed, &lost, err,
			    sizeof err)) {
		log_error("%s", err);
		lose_batch(c, lost, err);
	}
	c->pruned += removed;
	c->have_doc = 0;
}

static void track_doc(struct put_ctx *c, const struct store_rec *rec)
{
	if (!rec->doc || !rec->has_seq)
		return;
	if (c->have_doc && (c->doc.len != rec->doc_len || memcmp(c->doc.p, rec->doc, rec->doc_len)))
		prune_doc(c);
	if (!c->have_doc) {
		buf_reset(&c->doc);
		buf_append(&c->doc, rec->doc, rec->doc_len);
		c->have_doc = 1;
		c->doc_max = rec->seq;
	} else if (rec->seq > c->doc_max) {
		c->doc_max = rec->seq;
	}
}

static void emitted(struct rec *r, void *ud)
{
	struct put_ctx *c = ud;
	struct put_item *pi = r->extra;
	if (!pi)
		return;
	struct store_item *it = &pi->it;
	if (it->fail) {
		output_failed(c, r->line, r->len, it->fail_code, it->fail);
	} else {
		char err[1024];
		long lost = 0;
		if (store_write(c->s, &it->rec, &lost, err, sizeof err)) {
			r->outcome = REC_FAILED;
			free(r->log);
			r->log = xstrdup(err);
			if (lost)
				log_lost(c, err, lost);
			lose_batch(c, lost, err);
			output_failed(c, r->line, r->len, "db_error", err);
		} else {
			if (c->prune)
				track_doc(c, &it->rec);
			if (c->tee) {
				buf_append(&c->held, r->line, r->len);
				buf_putc(&c->held, '\n');
			}
		}
		if (store_batch_records(c->s) >= c->batch_records ||
		    store_batch_age_ms(c->s) >= c->batch_ms || c->held.len >= TEE_HELD_MAX)
			commit(c);
	}
	store_item_free(it);
	if (pi->last)
		free(pi->block);
	r->extra = NULL;
}

/* The writer has nothing to write: commit at once when the input has gone
 * idle (nothing in flight), else when the batch is old. */
static void idle(void *ud)
{
	struct put_ctx *c = ud;
	if (store_batch_records(c->s) > 0 &&
	    (filter_inflight(c->f) == 0 || store_batch_age_ms(c->s) >= c->batch_ms))
		commit(c);
	if (ndjson_flush(c->w) && ndjson_writer_state(c->w) == 1) {
		c->a->output_closed = 1;
		app_request_stop(APP_STOP_OUTPUT_CLOSED);
	}
}

int store_cmd_put(struct app *a, struct store_cli *cli, char **args, int nargs)
{
	(void)args;
	if (nargs > 0) {
		log_error("put reads records on stdin and takes no arguments ('%s'; try --help)",
			  args[0]);
		return EXIT_USAGE;
	}
	struct put_ctx c = {0};
	c.a = a;
	/* the summary counts the records stored (committed), not lines */
	a->written_as = "stored";
	c.tee = cli->tee;
	c.prune = cli->prune;
	c.batch_records = tun_int(a->tun, "store.batch_records");
	c.batch_ms = (double)tun_int(a->tun, "store.batch_ms");
	c.s = store_cli_open(a, 1);
	c.w = ndjson_writer_new(1);
	/* parsing is light next to the writes, and the writer and the
	 * checkpointer want a CPU each: a few workers are enough */
	int cpus = cpu_count();
	/* jobs of PUT_JOB records: the threads meet once per job, not per
	 * record */
	a->batch = PUT_JOB;
	app_size_pool(a, cpus > 5 ? 4 : cpus > 2 ? cpus - 1 : 1);
	/* records are written in input order, so the last of an id wins */
	a->unordered = 0;
	app_log_start(a, "db=%s synchronous=%s batch=%ld records/%.0f ms%s",
		      store_cli_db_shown(a), tun_str(a->tun, "store.synchronous"),
		      c.batch_records, c.batch_ms, c.tee ? " tee" : "");
	app_start_reporting(a);
	c.scratch = xcalloc((size_t)a->workers, sizeof *c.scratch);
	c.f = filter_new(a, work, emitted, idle, &c);
	filter_set_eager(c.f, 1);
	/* lines are checked by common/json.c, which reads what store needs
	 * without building a tree */
	filter_set_raw(c.f, 1);
	filter_read_fd(c.f, 0, "<stdin>");
	filter_finish(c.f);
	/* the last document ended with the input, unless a stop cut it short */
	if (c.prune && c.have_doc && !app_stop) {
		char err[1024];
		long lost = 0;
		prune_doc(&c);
		if (commit_batch(&c, &lost, err, sizeof err)) {
			log_error("%s", err);
			a->run_errors++;
		}
	}
	if (c.prune && c.pruned)
		log_event("pruned: %ld stored segments past the end of their document's new version",
			  c.pruned);
	buf_free(&c.doc);
	ndjson_flush(c.w);
	int wstate = ndjson_writer_state(c.w);
	if (wstate == 1)
		a->output_closed = 1;
	else if (wstate == -1 && !a->write_errno)
		a->write_errno = ndjson_writer_errno(c.w);
	ndjson_writer_free(c.w);
	buf_free(&c.held);
	for (int i = 0; i < a->workers; i++)
		store_scratch_free(&c.scratch[i]);
	free(c.scratch);
	store_close(c.s);
	return app_finish(a);
}
