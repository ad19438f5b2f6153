/* check: a record alone against the same record in a run (--check N). */
#include "check.h"
#include "log.h"
#include "ndjson.h"
#include "util.h"
#include "vec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One input record and what the two passes made of it. */
struct item {
	char *line;         /* the input (owned) */
	size_t len;
	long lineno;
	char *id;           /* how the report names it (owned) */
	cJSON *result[2];   /* the stage's result alone, in the run; NULL: failed */
	char code[2][32];   /* why not: errors.<stage>.code, or "pending" */
};

struct pass {
	const struct check_spec *spec;
	struct item *it;
	size_t next;        /* the next record the writer hands back */
};

/* What the two passes' results say, record by record. */
struct tally {
	long compared, same, differ, noise, failed;
	double max_abs;     /* largest difference of a number, vectors */
	double min_cos;     /* lowest cosine, vectors */
	const struct item *worst;   /* lowest cosine, or first that differs */
	const struct item *failure; /* first not compared */
};

int check_flag(int id, const char *arg, long *n)
{
	if (id != CHECK_OPT)
		return 0;
	if (parse_long(arg, 1, CHECK_MAX, n)) {
		log_error("--check: '%s' is not a number of records from 1 to %d", arg, CHECK_MAX);
		return -1;
	}
	return 1;
}

/* The record's id as its string, else its line. */
static char *name_of(const cJSON *rec, long lineno)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
	if (cJSON_IsString(id) && *id->valuestring)
		return xasprintf("id \"%s\"", id->valuestring);
	return xasprintf("<stdin>:%ld", lineno);
}

/* Keeps the stage's result of an output record (or why there is none) in
 * slot k of m. */
static void keep(const struct check_spec *s, struct item *m, int k, const struct rec *r)
{
	snprintf(m->code[k], sizeof m->code[k], "pending");
	if (r->outcome != REC_OK && r->outcome != REC_FAILED)
		return;
	cJSON *out = r->out.len ? cJSON_ParseWithLength(r->out.p, r->out.len) : NULL;
	if (r->outcome == REC_OK)
		m->result[k] = cJSON_DetachItemFromObjectCaseSensitive(out, s->stage->result);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "errors"), s->stage->name);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	if (!m->result[k])
		snprintf(m->code[k], sizeof m->code[k], "%s",
			 cJSON_IsString(code) ? code->valuestring : "no_result");
	cJSON_Delete(out);
}

/* Reads up to spec->n records; lines that are not JSON objects are
 * rejected as a run rejects them. Returns the records read. */
static size_t read_records(struct app *a, const struct check_spec *s, struct item **out)
{
	struct ndjson_reader *r = ndjson_open(0, "<stdin>", a->max_line, &app_stop);
	struct item *it = xcalloc((size_t)s->n, sizeof *it);
	size_t n = 0;
	while (n < (size_t)s->n) {
		char *text = NULL, err[256];
		size_t len = 0;
		long lineno = 0;
		enum ndjson_status st = ndjson_read(r, &text, &len, &lineno);
		if (st == NDJSON_EOF)
			break;
		if (st == NDJSON_ERROR) {
			log_error("<stdin>: read error after line %ld: %s", lineno, strerror(errno));
			a->read_error = 1;
			break;
		}
		if (st == NDJSON_TOOLONG) {
			char msg[128];
			snprintf(msg, sizeof msg, "line of %zu bytes is over the cap of %zu (max_line)",
				 len, a->max_line);
			app_reject(a, "<stdin>", lineno, msg, NULL, 0);
			continue;
		}
		cJSON *j = ndjson_parse(text, len, err, sizeof err);
		if (!j) {
			app_reject(a, "<stdin>", lineno, err, text, len);
			free(text);
			continue;
		}
		it[n] = (struct item){.line = text, .len = len, .lineno = lineno,
				      .id = name_of(j, lineno)};
		cJSON_Delete(j);
		n++;
	}
	ndjson_close(r);
	*out = it;
	return n;
}

/* The first pass: each record alone, in this thread, one after another. */
static void run_alone(const struct check_spec *s, struct item *it, size_t n)
{
	for (size_t i = 0; i < n && !app_stopping(); i++) {
		char err[256];
		struct rec r = {.lineno = it[i].lineno, .line = xstrdup(it[i].line),
				.len = it[i].len};
		r.json = ndjson_parse(r.line, r.len, err, sizeof err);
		struct job job = {.n = 1, .recs = &r};
		s->fn(&job, 0, s->ud);
		keep(s, &it[i], 0, &r);
		if (r.log)
			log_error("%s alone: %s", it[i].id, r.log);
		free(r.line);
		free(r.log);
		cJSON_Delete(r.json);
		buf_free(&r.out);
	}
}

/* The writer's hook of the second pass: keeps the result, writes nothing. */
static void captured(struct rec *r, void *ud)
{
	struct pass *p = ud;
	keep(p->spec, &p->it[p->next++], 1, r);
	buf_free(&r->out);
}

/* The tool's work, handed its own data: filter_new's ud is the pass. */
static void work(struct job *job, int worker, void *ud)
{
	const struct pass *p = ud;
	p->spec->fn(job, worker, p->spec->ud);
}

/* The second pass: every record through the filter, jobs of a->batch
 * records, as a run reads them, results in input order. */
static void run_together(struct app *a, const struct check_spec *s, struct item *it, size_t n)
{
	struct pass p = {s, it, 0};
	a->unordered = 0;
	size_t batch = a->batch ? a->batch : 1;
	struct filter *f = filter_new(a, work, captured, NULL, &p);
	for (size_t off = 0; off < n && !app_stopping(); off += batch) {
		size_t k = n - off < batch ? n - off : batch;
		struct job *job = xcalloc(1, sizeof *job);
		job->recs = xcalloc(k, sizeof *job->recs);
		job->n = k;
		for (size_t i = 0; i < k; i++) {
			job->recs[i].lineno = it[off + i].lineno;
			job->recs[i].line = xstrdup(it[off + i].line);
			job->recs[i].len = it[off + i].len;
		}
		filter_submit(f, job);
	}
	filter_finish(f);
}

/* Compares the two vectors of m; returns 1 when they differ beyond float
 * noise. */
static int compare_vectors(const cJSON *x, const cJSON *y, struct tally *t, const struct item *m)
{
	int n = cJSON_GetArraySize(x);
	if (!cJSON_IsArray(x) || !cJSON_IsArray(y) || n != cJSON_GetArraySize(y) || n == 0) {
		t->min_cos = -INFINITY;
		t->worst = m;
		return 1;
	}
	float *a = xmalloc((size_t)n * sizeof *a), *b = xmalloc((size_t)n * sizeof *b);
	double max_abs = 0, biggest = 0;
	for (int i = 0; i < n; i++) {
		a[i] = (float)cJSON_GetArrayItem(x, i)->valuedouble;
		b[i] = (float)cJSON_GetArrayItem(y, i)->valuedouble;
		max_abs = fmax(max_abs, fabs((double)a[i] - b[i]));
		biggest = fmax(biggest, fabs((double)a[i]));
	}
	double cos = vec_cosine(a, b, n);
	free(a);
	free(b);
	t->max_abs = fmax(t->max_abs, max_abs);
	if (cos < t->min_cos) {
		t->min_cos = cos;
		t->worst = m;
	}
	if (max_abs > 0)
		t->noise++;
	return max_abs > CHECK_FLOAT_NOISE * biggest;
}

/* Whether m failed both times with one of the record's own codes. */
static int own_failure(const struct check_spec *s, const struct item *m)
{
	if (m->result[0] || m->result[1] || strcmp(m->code[0], m->code[1]))
		return 0;
	for (const char *const *c = s->own_codes; c && *c; c++)
		if (!strcmp(m->code[0], *c))
			return 1;
	return 0;
}

static void compare(const struct check_spec *s, const struct item *it, size_t n, struct tally *t)
{
	*t = (struct tally){.min_cos = 1};
	for (size_t i = 0; i < n; i++) {
		const struct item *m = &it[i];
		if (!m->result[0] || !m->result[1]) {
			if (!own_failure(s, m))
				t->failed++;
			if (!t->failure)
				t->failure = m;
			continue;
		}
		t->compared++;
		int differ = s->stage->vector
				     ? compare_vectors(m->result[0], m->result[1], t, m)
				     : !cJSON_Compare(m->result[0], m->result[1], 1);
		if (differ)
			t->differ++;
		if (differ && !s->stage->vector && !t->worst)
			t->worst = m;
		if (!differ && !s->stage->vector)
			t->same++;
	}
	/* vectors: noise counts every one not the same bit for bit */
	if (s->stage->vector)
		t->same = t->compared - t->noise;
}

/* A result as compact JSON, cut for a log line. */
static void put_cut(struct buf *b, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	size_t n = s ? strlen(s) : 0;
	if (n > 160)
		buf_printf(b, "%.160s...", s);
	else
		buf_puts(b, s ? s : "null");
	free(s);
}

static const char *verdict_of(const struct check_spec *s, const struct tally *t)
{
	if (!t->compared)
		return "none";
	if (t->differ)
		return "differ";
	return s->stage->vector && t->noise ? "float_noise" : "identical";
}

/* The report on stderr. */
static void report(const struct check_spec *s, size_t n,
		   const struct tally *t, const char *verdict, const struct llm_totals *p1,
		   const struct llm_totals *p2)
{
	const char *what = s->stage->vector ? "vectors" : "answers";
	if (s->llm)
		log_event("check: %zu records, model %s: each alone, one request at a time "
			  "(%ld request%s), then as a run sends them (%ld request%s, at most %d in "
			  "flight)", n, s->model, p1->requests, p1->requests == 1 ? "" : "s",
			  p2->requests - p1->requests, p2->requests - p1->requests == 1 ? "" : "s",
			  p2->peak_inflight);
	else
		log_event("check: %zu records, model %s (offline, no server): each alone, then "
			  "as a run makes them", n, s->model);
	if (t->failure) {
		const struct item *m = t->failure;
		log_event("check: %ld record%s not compared (%s: alone %s, in the run %s)",
			  (long)n - t->compared, n - (size_t)t->compared == 1 ? "" : "s", m->id,
			  m->result[0] ? "ok" : m->code[0], m->result[1] ? "ok" : m->code[1]);
	}
	if (s->stage->vector && t->compared)
		log_event("check: %s: %ld of %ld differ, %ld within float noise, %ld identical; "
			  "max abs difference %.3g, min cosine %.6f%s%s%s", what, t->differ,
			  t->compared, t->noise - t->differ, t->same, t->max_abs, t->min_cos,
			  t->worst ? " (" : "", t->worst ? t->worst->id : "", t->worst ? ")" : "");
	else if (t->compared) {
		log_event("check: %s: %ld of %ld differ, %ld identical", what, t->differ,
			  t->compared, t->same);
		if (t->worst) {
			struct buf b = {0};
			buf_printf(&b, "check: first that differs, %s: alone ", t->worst->id);
			put_cut(&b, t->worst->result[0]);
			buf_puts(&b, "; in the run ");
			put_cut(&b, t->worst->result[1]);
			log_event("%s", b.p);
			buf_free(&b);
		}
	}
	if (!strcmp(verdict, "identical"))
		log_event("check: IDENTICAL: each of the %ld %s is the same%s alone and in a run: "
			  "%s do not change what %s", t->compared, what,
			  s->stage->vector ? ", bit for bit," : "",
			  s->stage->vector ? "batching and requests in flight" : "requests in flight",
			  s->llm ? "this server answers" : "the offline embedder makes");
	else if (!strcmp(verdict, "float_noise"))
		log_event("check: SAME WITHIN FLOAT NOISE: no number differs by more than %g of "
			  "the largest of its vector (max abs difference %.3g): the server sums "
			  "in another order, the results are the same", CHECK_FLOAT_NOISE, t->max_abs);
	else if (!strcmp(verdict, "differ"))
		log_event("check: DIFFER: %ld of %ld %s differ when records are sent together: "
			  "%s", t->differ, t->compared, what, s->advice);
	else
		log_error("check: no record could be compared: %s", n ? "every one failed"
			  : "no records");
}

/* The report on stdout: one JSON object. */
static int print_json(struct app *a, const struct check_spec *s, size_t n,
		      const struct tally *t, const char *verdict, int code)
{
	long rejected = atomic_load(&a->st.rejected);
	struct buf b = {0};
	buf_printf(&b, "{\"check\":\"%s\",\"model\":", s->stage->name);
	buf_json_str(&b, s->model, strlen(s->model));
	buf_printf(&b, ",\"records\":%zu,\"rejected\":%ld,\"compared\":%ld,\"identical\":%ld,"
		   "\"differ\":%ld,\"failed\":%ld", n, rejected, t->compared, t->same, t->differ,
		   t->failed);
	if (s->stage->vector && t->compared)
		buf_printf(&b, ",\"within_noise\":%ld,\"max_abs_diff\":%.9g,\"min_cosine\":%.9g",
			   t->noise - t->differ, t->max_abs, isfinite(t->min_cos) ? t->min_cos : -1);
	if (t->worst) {
		const char *id = t->worst->id;
		buf_puts(&b, ",\"example\":");
		buf_json_str(&b, id, strlen(id));
	}
	buf_printf(&b, ",\"verdict\":\"%s\",\"exit\":%d}", verdict, code);
	int rc = app_print_line(a, b.p);
	buf_free(&b);
	return rc;
}

int check_run(struct app *a, const struct check_spec *s)
{
	struct item *it = NULL;
	size_t n = read_records(a, s, &it);
	int code = EXIT_DONE;
	if (!n && !a->read_error && !app_stopping()) {
		log_error("--check: no records on stdin to check (give it NDJSON records, e.g. "
			  "`head -n 20 records.ndjson | %s --check 20`)", a->tool);
		code = EXIT_USAGE;
	}
	struct llm_totals p1 = {0}, p2 = {0};
	if (code == EXIT_DONE && n) {
		run_alone(s, it, n);
		if (s->llm)
			llm_totals(s->llm, &p1);
		if (s->between)
			s->between(s->ud);
		if (!app_stopping())
			run_together(a, s, it, n);
		if (s->llm)
			llm_totals(s->llm, &p2);
		struct tally t;
		compare(s, it, n, &t);
		const char *verdict = verdict_of(s, &t);
		long rejected = atomic_load(&a->st.rejected);
		if (t.differ)
			code = EXIT_DIFFER;
		else if (!t.compared || a->read_error ||
			 (double)(t.failed + rejected) > a->max_failure_ratio * (double)(n + (size_t)rejected))
			code = EXIT_FAILURES;
		int sig = atomic_load(&app_stop);
		if (sig == SIGINT || sig == SIGTERM) {
			log_event("check: interrupted: nothing concluded");
			code = sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
		} else {
			report(s, n, &t, verdict, &p1, &p2);
			if (print_json(a, s, n, &t, verdict, code) != EXIT_DONE && code == EXIT_DONE)
				code = EXIT_FAILURES;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(it[i].line);
		free(it[i].id);
		cJSON_Delete(it[i].result[0]);
		cJSON_Delete(it[i].result[1]);
	}
	free(it);
	if (a->rejects && fclose(a->rejects)) {
		log_error("cannot write rejects file %s: %s", a->rejects_path, strerror(errno));
		if (code == EXIT_DONE)
			code = EXIT_FAILURES;
	}
	a->rejects = NULL;
	return code;
}
