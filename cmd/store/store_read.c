/* store_read: the subcommands that read the database: get, dump, pending,
 * docs (NDJSON on stdout, a closed stdout is a quiet end) and stats. */
#include "store_cmd.h"
#include "log.h"
#include "ndjson.h"
#include "fingerprint.h"
#include "store_reuse.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int store_read_finish(struct app *a, struct store *s, struct ndjson_writer *w, int code)
{
	if (w) {
		ndjson_flush(w);
		if (ndjson_writer_state(w) == -1) {
			log_error("write error on standard output: %s",
				  strerror(ndjson_writer_errno(w)));
			if (code == EXIT_DONE)
				code = EXIT_FAILURES;
		}
		ndjson_writer_free(w);
	}
	store_close(s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}

static int write_row(const char *line, size_t len, void *ud)
{
	struct ndjson_writer *w = ud;
	return ndjson_write(w, line, len) != 0;
}

static int check_stage(const char *stage)
{
	if (!stage || !*stage) {
		log_error("--stage needs a stage name (segment, mine, embed, classify)");
		return -1;
	}
	return 0;
}

int store_cmd_get(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs == 0) {
		log_error("get needs at least one ID (try --help)");
		return EXIT_USAGE;
	}
	struct store *s = store_cli_open(a, 0);
	struct ndjson_writer *w = ndjson_writer_new(1);
	struct buf line = {0};
	char err[1024];
	int code = EXIT_DONE;
	for (int i = 0; i < nargs && ndjson_writer_state(w) == 0; i++) {
		buf_reset(&line);
		int rc = store_get(s, args[i], c->model, &line, err, sizeof err);
		if (rc == 1) {
			ndjson_write(w, line.p, line.len);
		} else if (rc == 0) {
			log_error("no record with id '%s'", args[i]);
			code = EXIT_FAILURES;
		} else {
			log_error("%s", err);
			code = EXIT_FAILURES;
		}
	}
	buf_free(&line);
	return store_read_finish(a, s, w, code);
}

/* store claim's lease, or NULL: pending and claim share their code */
static const struct store_claim *claiming;
/* claim --follow: claims again as the records are put */
static int following;
/* claim --follow: the output, flushed after each claim */
static struct ndjson_writer *follow_w;

/* How long claim --follow waits between two looks at its claims, in ms;
 * between two looks at a backlog that others hold, from FOLLOW_POLL_MS
 * while it moves (their puts: this worker ends within a poll of the
 * last), doubling to FOLLOW_IDLE_MS while it does not (a dead worker's
 * lease running out). Those pending are counted up to FOLLOW_COUNT_MAX. */
#define FOLLOW_POLL_MS 50
#define FOLLOW_IDLE_MS 1000
#define FOLLOW_COUNT_MAX 100000

struct follow_ctx {
	store_row_fn fn;
	void *ud;
	long rows;
};

static int follow_row(const char *line, size_t len, void *ud)
{
	struct follow_ctx *f = ud;
	f->rows++;
	return f->fn(line, len, f->ud);
}

static int count_row(const char *line, size_t len, void *ud)
{
	(void)line;
	(void)len;
	return ++*(long *)ud >= FOLLOW_COUNT_MAX;
}

/* Sleeps ms, in steps, until a stop is requested. */
static void follow_sleep(int ms)
{
	for (int t = 0; t < ms && !app_stopping(); t += 20)
		usleep(20 * 1000);
}

/* claim --follow: holds up to claiming->limit records (claimed and not
 * put yet): once the puts of this worker's records have released a
 * quarter of them, claims as many again and writes them out at once, so
 * the tool downstream never runs dry between two claims. Each claim goes
 * on from the highest key leased before (a backend that keeps keys in
 * order: PostgreSQL), so it reads no record it read before; one that
 * finds nothing there starts again from the first key (retries, leases
 * that ran out). Ends when it holds none and nothing is pending for the
 * stage (records other workers hold are waited for: put by them, or
 * taken over when their lease runs out), or on a stop (a signal, a
 * closed output). */
static int claim_follow(struct store *s, const struct store_query *q, store_row_fn fn, void *ud,
			char *err, size_t errlen)
{
	struct store_claim cl = *claiming;
	long long cursor = 0, last = 0;
	long room = claiming->limit / 4 > 1 ? claiming->limit / 4 : 1;
	long others = -1; /* pending at the last look, held by others */
	int idle_ms = FOLLOW_POLL_MS;
	/* a claim from the first key reads the whole backlog: once it found
	 * nothing, the next one waits FOLLOW_IDLE_MS (what comes back behind
	 * the cursor: a retry, a lease run out, does not hurry) */
	double whole_after = 0;
	cl.last = &last;
	while (!app_stopping()) {
		long held = 0;
		if (store_claims_held(s, q->stage, claiming->worker, &held, err, errlen))
			return -1;
		struct follow_ctx f = {fn, ud, 0};
		int whole = now_ms() >= whole_after;
		if (held <= claiming->limit - room && (cursor > 0 || whole)) {
			cl.limit = claiming->limit - held;
			cl.after = cursor;
			last = 0;
			int rc = store_claim(s, q, &cl, follow_row, &f, err, errlen);
			if (!rc && f.rows == 0 && cursor > 0 && whole) {
				cursor = cl.after = 0;
				rc = store_claim(s, q, &cl, follow_row, &f, err, errlen);
			}
			if (rc)
				return rc;
			if (f.rows == 0 && cl.after == 0)
				whole_after = now_ms() + FOLLOW_IDLE_MS;
			if (last > cursor)
				cursor = last;
			if (f.rows && follow_w && ndjson_flush(follow_w))
				return 1;
		}
		if (f.rows == 0 && held == 0) {
			long n = 0;
			if (store_scan(s, q, count_row, &n, err, errlen) < 0)
				return -1;
			if (!n)
				return 0;
			if (n != others)
				idle_ms = FOLLOW_POLL_MS;
			else if ((idle_ms *= 2) > FOLLOW_IDLE_MS)
				idle_ms = FOLLOW_IDLE_MS;
			others = n;
			follow_sleep(idle_ms);
			continue;
		}
		others = -1;
		follow_sleep(FOLLOW_POLL_MS);
	}
	return 0;
}

/* The records of q: scanned, or (store claim) leased first. */
static int read_rows(struct store *s, const struct store_query *q, store_row_fn fn, void *ud,
		     char *err, size_t errlen)
{
	if (claiming && following)
		return claim_follow(s, q, fn, ud, err, errlen);
	if (claiming)
		return store_claim(s, q, claiming, fn, ud, err, errlen);
	return store_scan(s, q, fn, ud, err, errlen);
}

static int scan(struct app *a, const struct store_query *q)
{
	struct store *s = store_cli_open(a, 0);
	struct ndjson_writer *w = ndjson_writer_new(1);
	char err[1024];
	int code = EXIT_DONE;
	follow_w = w;
	if (read_rows(s, q, write_row, w, err, sizeof err) < 0) {
		log_error("%s", err);
		code = EXIT_FAILURES;
	}
	return store_read_finish(a, s, w, code);
}

int store_cmd_dump(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs > 0) {
		log_error("dump takes no arguments ('%s'; try --help)", args[0]);
		return EXIT_USAGE;
	}
	struct store_query q = {0};
	q.order = STORE_BY_ID;
	if (c->order && !strcmp(c->order, "doc")) {
		q.order = STORE_BY_DOC;
	} else if (c->order && strcmp(c->order, "id")) {
		log_error("--order '%s' is not id or doc", c->order);
		return EXIT_USAGE;
	}
	if (store_where_query(c, &q))
		return EXIT_USAGE;
	q.model = c->model;
	int code = scan(a, &q);
	store_where_free(&q);
	return code;
}

struct pending_ctx {
	struct ndjson_writer *w;
	struct store_reuse reuse;
	struct buf line;
	long rows;
	int failed;
	char err[1024];
};

static int write_pending(const char *line, size_t len, void *ud)
{
	struct pending_ctx *x = ud;
	x->rows++;
	if (x->reuse.nfields) {
		int rc = store_reuse_fill(&x->reuse, line, len, &x->line, x->err, sizeof x->err);
		if (rc < 0) {
			x->failed = 1;
			return 1;
		}
		if (rc > 0)
			return ndjson_write(x->w, x->line.p, x->line.len) != 0;
	}
	return ndjson_write(x->w, line, len) != 0;
}

/* pending --fingerprint FP[:FIELDS]: results made with another
 * fingerprint are pending too; with the fields the stage reads, a pending
 * record whose input was processed under FP before comes out with that
 * result (store_reuse.c). */
static int pending_fingerprint(struct app *a, struct store_cli *c, struct store_query *q)
{
	char fp[FINGERPRINT_LEN];
	char **fields;
	size_t nfields;
	const struct stage *st = stage_find(c->stage, strlen(c->stage));
	if (!st || !st->fingerprint) {
		log_error("--fingerprint applies to the mine, embed and classify stages");
		return EXIT_USAGE;
	}
	if (fingerprint_spec_parse(c->fingerprint, fp, &fields, &nfields)) {
		log_error("--fingerprint '%s' is not 16 hex digits, optionally followed by "
			  "':' and the fields the stage reads (print it with `%s --fingerprint`)",
			  c->fingerprint, st->name);
		return EXIT_USAGE;
	}
	q->fingerprint = fp;
	struct store *s = store_cli_open(a, 0);
	struct pending_ctx x = {0};
	x.w = ndjson_writer_new(1);
	follow_w = x.w;
	x.reuse = (struct store_reuse){.s = s, .stage = st, .fingerprint = fp,
				       .fields = (const char *const *)fields, .nfields = nfields};
	int code = EXIT_DONE;
	if (read_rows(s, q, write_pending, &x, x.err, sizeof x.err) < 0 || x.failed) {
		log_error("%s", x.err);
		code = EXIT_FAILURES;
	} else if (nfields) {
		log_event("%s %s: %ld records, %ld of them reused from results kept for the "
			  "same input and settings (fingerprint %s)", claiming ? "claim" : "pending",
			  st->name, x.rows,
			  x.reuse.reused, fp);
	}
	store_reuse_free(&x.reuse);
	buf_free(&x.line);
	fingerprint_fields_free(fields, nfields);
	return store_read_finish(a, s, x.w, code);
}

int store_cmd_pending(struct app *a, struct store_cli *c, char **args, int nargs)
{
	const char *name = claiming ? "claim" : "pending";
	if (nargs > 0) {
		log_error("%s takes no arguments ('%s'; try --help)", name, args[0]);
		return EXIT_USAGE;
	}
	if (!c->stage) {
		log_error("%s needs --stage S (segment, mine, embed or classify)", name);
		return EXIT_USAGE;
	}
	if (check_stage(c->stage))
		return EXIT_USAGE;
	if (c->model && !strcmp(c->stage, "segment")) {
		log_error("--model applies to the embed, mine and classify stages");
		return EXIT_USAGE;
	}
	struct store_query q = {0};
	q.order = STORE_BY_DOC;
	q.pending = 1;
	q.stage = c->stage;
	q.model = c->model;
	q.doc = c->doc;
	if (!c->fingerprint)
		return scan(a, &q);
	return pending_fingerprint(a, c, &q);
}

/* "30", "30s", "500ms", "5m", "1h": seconds in *out. */
static int parse_lease(const char *text, double *out)
{
	char *end;
	double v = strtod(text, &end);
	double unit = !*end || !strcmp(end, "s") ? 1 : !strcmp(end, "ms") ? 0.001
		    : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : -1;
	if (end == text || unit < 0 || !(v > 0) || v * unit > 7 * 86400.0)
		return -1;
	*out = v * unit;
	return 0;
}

int store_cmd_claim(struct app *a, struct store_cli *c, char **args, int nargs)
{
	struct store_claim cl = {.limit = c->limit_set ? c->limit : 100, .lease_s = 600};
	if (c->lease && parse_lease(c->lease, &cl.lease_s)) {
		log_error("--lease '%s' is not a duration from 1ms to 7 days (30s, 5m, 1h)", c->lease);
		return EXIT_USAGE;
	}
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	char *worker = c->worker ? xstrdup(c->worker) : xasprintf("%s:%ld", host, (long)getpid());
	cl.worker = worker;
	claiming = &cl;
	following = c->follow;
	int code = store_cmd_pending(a, c, args, nargs);
	claiming = NULL;
	following = 0;
	follow_w = NULL;
	if (c->follow && code == EXIT_DONE && app_stop > 0)
		code = app_stop == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
	free(worker);
	return code;
}

static int write_doc(const struct store_doc *d, void *ud)
{
	struct ndjson_writer *w = ud;
	struct buf b = {0};
	buf_puts(&b, "{\"doc\":");
	buf_json_str(&b, d->doc, strlen(d->doc));
	buf_printf(&b, ",\"records\":%ld,\"failed\":%ld,\"updated\":%.3f}", d->records, d->failed,
		   d->updated);
	int rc = ndjson_write(w, b.p, b.len) != 0;
	buf_free(&b);
	return rc;
}

int store_cmd_docs(struct app *a, struct store_cli *c, char **args, int nargs)
{
	(void)c;
	if (nargs > 0) {
		log_error("docs takes no arguments ('%s'; try --help)", args[0]);
		return EXIT_USAGE;
	}
	struct store *s = store_cli_open(a, 0);
	struct ndjson_writer *w = ndjson_writer_new(1);
	char err[1024];
	int code = EXIT_DONE;
	if (store_docs(s, write_doc, w, err, sizeof err) < 0) {
		log_error("%s", err);
		code = EXIT_FAILURES;
	}
	return store_read_finish(a, s, w, code);
}

static void stats_json(struct buf *b, const char *db, const struct store_stats *st)
{
	buf_puts(b, "{\"db\":");
	buf_json_str(b, db, strlen(db));
	buf_printf(b, ",\"schema\":%ld,\"records\":%ld,\"vectors\":%ld,\"given_up\":%ld",
		   st->schema, st->records, st->vectors, st->given_up);
	buf_puts(b, ",\"models\":{");
	for (size_t i = 0; i < st->nmodels; i++) {
		const struct store_model_count *m = &st->models[i];
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, m->model, strlen(m->model));
		buf_printf(b, ":{\"vectors\":%ld,\"dim\":%ld}", m->vectors, m->dim);
	}
	buf_puts(b, "},\"stages\":{");
	for (size_t i = 0; i < st->nstages; i++) {
		const struct store_stage_count *c = &st->stages[i];
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, c->stage, strlen(c->stage));
		buf_printf(b, ":{\"ok\":%ld,\"error\":%ld,\"given_up\":%ld,\"missing\":%ld,"
			   "\"stale\":%ld}", c->ok, c->error, c->given_up, c->missing, c->stale);
	}
	buf_puts(b, "},\"requests\":{");
	for (size_t i = 0; i < st->nusage; i++) {
		const struct store_usage *u = &st->usage[i];
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, u->stage, strlen(u->stage));
		buf_printf(b, ":{\"requests\":%ld,\"failed\":%ld,\"prompt_tokens\":%ld,"
			   "\"completion_tokens\":%ld}", u->requests, u->failed, u->prompt_tokens,
			   u->completion_tokens);
	}
	buf_puts(b, "}}\n");
}

static void stats_text(struct buf *b, const char *db, const struct store_stats *st)
{
	buf_printf(b, "database  %s (schema %ld)\n", db, st->schema);
	buf_printf(b, "records   %ld\n", st->records);
	buf_printf(b, "vectors   %ld\n", st->vectors);
	for (size_t i = 0; i < st->nmodels; i++)
		buf_printf(b, "  %-24s %ld (dim %ld)\n", *st->models[i].model ?
			   st->models[i].model : "(no model)", st->models[i].vectors,
			   st->models[i].dim);
	buf_printf(b, "given_up  %ld\n", st->given_up);
	buf_printf(b, "%-12s %10s %10s %10s %10s\n", "stage", "ok", "error", "given_up",
		   "missing");
	for (size_t i = 0; i < st->nstages; i++) {
		const struct store_stage_count *c = &st->stages[i];
		buf_printf(b, "%-12s %10ld %10ld %10ld %10ld\n", c->stage, c->ok, c->error,
			   c->given_up, c->missing);
	}
	/* ok results made with other settings than the stage's latest ones:
	 * pending again for a run with the latest settings */
	struct buf stale = {0};
	for (size_t i = 0; i < st->nstages; i++)
		if (st->stages[i].stale)
			buf_printf(&stale, "%s%s %ld", stale.len ? ", " : "", st->stages[i].stage,
				   st->stages[i].stale);
	if (stale.len)
		buf_printf(b, "stale     %s (ok, made with other settings than the stage's latest)\n",
			   stale.p);
	buf_free(&stale);
	/* from the request log: only the requests logged (llm.log) */
	if (st->nusage)
		buf_printf(b, "%-12s %10s %10s %14s %14s\n", "requests", "sent", "failed",
			   "prompt_tok", "completion_tok");
	for (size_t i = 0; i < st->nusage; i++) {
		const struct store_usage *u = &st->usage[i];
		buf_printf(b, "%-12s %10ld %10ld %14ld %14ld\n", u->stage, u->requests, u->failed,
			   u->prompt_tokens, u->completion_tokens);
	}
}

int store_cmd_stats(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs > 0) {
		log_error("stats takes no arguments ('%s'; try --help)", args[0]);
		return EXIT_USAGE;
	}
	struct store *s = store_cli_open(a, 0);
	struct store_stats st;
	char err[1024];
	if (store_stats(s, &st, err, sizeof err)) {
		log_error("%s", err);
		return store_read_finish(a, s, NULL, EXIT_FAILURES);
	}
	struct buf b = {0};
	const char *db = store_cli_db_shown(a);
	if (c->json)
		stats_json(&b, db, &st);
	else
		stats_text(&b, db, &st);
	store_stats_free(&st);
	struct ndjson_writer *w = ndjson_writer_new(1);
	/* the text is whole lines: written as one, without the final '\n' */
	ndjson_write(w, b.p, b.len - 1);
	buf_free(&b);
	return store_read_finish(a, s, w, EXIT_DONE);
}
