/* store_similar: `store similar`: the records nearest a query by cosine
 * similarity, best first. The query is a text embedded with the model the
 * store's vectors were made with (the offline hash embedder for hash-D,
 * else the LLM server through the shared embedding client), a stored
 * record's vector (--id), or a vector on stdin. The stored float32 vectors
 * of that model stream from the database in blocks to the search kernel
 * of common/vec.c on the worker threads (exact, memory bounded by the
 * blocks in flight); the k best are then read and written as NDJSON with
 * "similar": {rank, score, model}. */
#include "store_cmd.h"
#include "embedder.h"
#include "llmapp.h"
#include "log.h"
#include "ndjson.h"
#include "pool.h"
#include "record.h"
#include "vec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The numbers of a JSON array of numbers into v (dim of them). Returns
 * the count read, -1 when it is not such an array. */
static long numbers(const cJSON *arr, float *v, long dim)
{
	if (!cJSON_IsArray(arr))
		return -1;
	long k = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr) {
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
			return -1;
		if (k < dim)
			v[k] = (float)x->valuedouble;
		k++;
	}
	return k;
}

/* The vector of a stored record of this model. */
static int query_of_id(struct store *s, const char *id, const char *model, float *q, long dim)
{
	struct buf line = {0};
	char err[1024];
	int rc = store_get(s, id, model, &line, err, sizeof err);
	if (rc <= 0) {
		if (rc == 0)
			log_error("no record with id '%s'", id);
		else
			log_error("%s", err);
		buf_free(&line);
		return EXIT_FAILURES;
	}
	cJSON *j = cJSON_ParseWithLength(line.p, line.len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "embedding_model");
	long k = numbers(cJSON_GetObjectItemCaseSensitive(j, "embedding"), q, dim);
	int ok = cJSON_IsString(m) && !strcmp(m->valuestring, model) && k == dim;
	cJSON_Delete(j);
	buf_free(&line);
	if (!ok) {
		log_error("record '%s' has no vector of model '%s'", id, model);
		return EXIT_FAILURES;
	}
	return 0;
}

/* A vector on stdin: a JSON array of numbers, or an object with
 * "embedding" (and, when it says, "embedding_model" of this model). */
static int query_of_stdin(const char *model, float *q, long dim)
{
	struct buf in = {0};
	char chunk[65536];
	ssize_t got;
	while ((got = read(0, chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR))
		if (got > 0)
			buf_append(&in, chunk, (size_t)got);
	cJSON *j = in.len ? cJSON_ParseWithLength(in.p, in.len) : NULL;
	buf_free(&in);
	const cJSON *arr = j, *m = NULL;
	if (cJSON_IsObject(j)) {
		arr = cJSON_GetObjectItemCaseSensitive(j, "embedding");
		m = cJSON_GetObjectItemCaseSensitive(j, "embedding_model");
	}
	long k = numbers(arr, q, dim);
	int rc = 0;
	if (k < 0) {
		log_error("no query: give a text, --id ID, or a vector on stdin (a JSON array of "
			  "numbers, or a record with \"embedding\")");
		rc = EXIT_USAGE;
	} else if (m && (!cJSON_IsString(m) || strcmp(m->valuestring, model))) {
		log_error("the vector on stdin is of model '%s', the store's of '%s'",
			  cJSON_IsString(m) ? m->valuestring : "?", model);
		rc = EXIT_USAGE;
	} else if (k != dim) {
		log_error("the vector on stdin has %ld numbers, the store's vectors of '%s' have %ld",
			  k, model, dim);
		rc = EXIT_USAGE;
	}
	cJSON_Delete(j);
	return rc;
}

/* A text embedded with the model: hash-D offline, else the server. */
static int query_of_text(struct app *a, const char *text, const char *model, float *q,
			 long dim)
{
	int hash_dim = 0;
	long d;
	if (!strncmp(model, "hash-", 5) && !parse_long(model + 5, 8, 65536, &d))
		hash_dim = (int)d;
	struct embedder e = {.model = hash_dim ? "hash" : model, .name = model, .digest = "",
			     .hash_dim = hash_dim, .batch = 1};
	struct llmapp la = {0};
	if (!hash_dim) {
		llmapp_start(a, &la, LLM_USE_EMBED, model, "subcommand=similar");
		e.llm = la.llm;
		e.digest = la.digest;
	}
	struct embedder_result r = {0};
	embedder_run(&e, &text, NULL, 1, &r, NULL);
	int rc = 0;
	if (!r.vec) {
		log_error("cannot embed the query with %s: %s", model, r.err.message);
		rc = hash_dim ? EXIT_USAGE : EXIT_BACKEND;
	} else if (r.dim != dim) {
		log_error("%s answered %d numbers for the query, the store's vectors of it have %ld "
			  "(another version of the model?)", model, r.dim, dim);
		rc = EXIT_BACKEND;
	} else {
		memcpy(q, r.vec, (size_t)dim * sizeof *q);
	}
	free(r.vec);
	if (la.llm)
		llm_free(la.llm);
	return rc;
}

/* Rows read per block before they are scored. */
#define BLOCK 512

/* The search: slices of the vectors, each read and scored by one worker
 * on its own connection into its own top k. */
struct search {
	struct store_opts opts;
	const struct store_query *q;
	const char *model;
	const float *qv;          /* the query, unit length, zero padded */
	int dim, k, nparts;
	size_t ld;
	struct worker {
		struct store *s;
		float *rows;      /* BLOCK x ld */
		long ids[BLOCK];
		size_t n;
		struct vec_topk top;
		long rows_read, skipped;
		int failed;
		char err[512];
	} *w;
};

struct slice_job {
	int part;
};

static void flush(struct search *se, struct worker *w)
{
	vec_unit_rows(w->rows, w->n, se->dim);
	vec_search_rows(w->rows, w->n, se->dim, w->ids, 0, se->qv, 1, &w->top);
	w->n = 0;
}

struct feed {
	struct search *se;
	struct worker *w;
};

static int feed_row(long long key, const char *id, const void *v, size_t dim, void *ud)
{
	(void)id;
	struct feed *f = ud;
	struct worker *w = f->w;
	if (dim != (size_t)f->se->dim) {
		w->skipped++;
		return 0;
	}
	memcpy(w->rows + w->n * f->se->ld, v, dim * sizeof(float));
	w->ids[w->n++] = (long)key;
	w->rows_read++;
	if (w->n == BLOCK)
		flush(f->se, w);
	return app_stop != 0;
}

static void slice_work(void *job, int worker, void *ud)
{
	struct search *se = ud;
	struct slice_job *j = job;
	struct worker *w = &se->w[worker];
	if (w->failed || app_stop)
		return;
	if (!w->s && !(w->s = store_open(&se->opts, w->err, sizeof w->err))) {
		w->failed = 1;
		return;
	}
	struct feed f = {se, w};
	if (store_vectors(w->s, se->q, se->model, j->part, se->nparts, 0, feed_row, &f, w->err,
			  sizeof w->err) < 0)
		w->failed = 1;
	if (w->n)
		flush(se, w);
}

static void slice_done(void *job, void *ud)
{
	(void)job;
	(void)ud;
}

/* Searches every slice on workers threads; top gets the merged k best.
 * Returns 0, or -1 after saying why. */
static int search_all(struct app *a, struct search *se, int workers, struct vec_topk *top,
		      long *rows)
{
	se->w = xcalloc((size_t)workers, sizeof *se->w);
	for (int i = 0; i < workers; i++) {
		se->w[i].rows = xcalloc(BLOCK * se->ld + 1, sizeof *se->w[i].rows);
		vec_topk_init(&se->w[i].top, 1, se->k);
	}
	/* a few slices a worker, so that a slow one does not hold the end */
	se->nparts = workers == 1 ? 1 : 4 * workers;
	struct slice_job *jobs = xcalloc((size_t)se->nparts, sizeof *jobs);
	struct pool *p = pool_new(workers, (size_t)se->nparts, 0, slice_work, slice_done, NULL, se);
	for (int i = 0; i < se->nparts; i++) {
		jobs[i].part = i;
		pool_submit(p, &jobs[i]);
	}
	pool_finish(p);
	(void)a;
	int rc = 0;
	long skipped = 0;
	vec_topk_init(top, 1, se->k);
	*rows = 0;
	for (int i = 0; i < workers; i++) {
		struct worker *w = &se->w[i];
		if (w->failed && !rc) {
			log_error("%s", w->err);
			rc = -1;
		}
		vec_topk_merge(top, &w->top);
		*rows += w->rows_read;
		skipped += w->skipped;
		vec_topk_free(&w->top);
		free(w->rows);
		store_close(w->s);
	}
	if (skipped)
		log_warn("%ld vectors of %s have another size than the query's: left out", skipped,
			 se->model);
	free(jobs);
	free(se->w);
	return rc;
}

/* Writes the k hits: each record without its vector, with "similar". */
static int write_hits(struct store *s, const struct vec_topk *top, const char *model,
		      const char *skip_id, long k, double min_score)
{
	struct ndjson_writer *w = ndjson_writer_new(1);
	struct buf line = {0}, a = {0}, b = {0}, sim = {0};
	char err[1024];
	int code = EXIT_DONE;
	long rank = 0;
	for (int i = 0; i < top->fill[0] && rank < k; i++) {
		const struct vec_hit *h = &top->hit[i];
		if (h->score < min_score)
			break;
		buf_reset(&line);
		int rc = store_get_key(s, h->id, model, &line, err, sizeof err);
		if (rc < 0) {
			log_error("%s", err);
			code = EXIT_FAILURES;
			break;
		}
		if (rc == 0)
			continue; /* deleted since */
		if (skip_id) {
			cJSON *j = cJSON_ParseWithLength(line.p, line.len);
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
			int self = cJSON_IsString(id) && !strcmp(id->valuestring, skip_id);
			cJSON_Delete(j);
			if (self)
				continue;
		}
		record_del(&a, line.p, line.len, "embedding");
		record_del(&b, a.p, a.len, "embedding_model");
		buf_reset(&sim);
		buf_printf(&sim, "{\"rank\":%ld,\"score\":%.4f,\"model\":", ++rank, (double)h->score);
		buf_json_str(&sim, model, strlen(model));
		buf_putc(&sim, '}');
		record_set(&a, b.p, b.len, "similar", sim.p, sim.len);
		if (ndjson_write(w, a.p, a.len))
			break;
	}
	ndjson_flush(w);
	if (ndjson_writer_state(w) == -1) {
		log_error("write error on standard output: %s", strerror(ndjson_writer_errno(w)));
		code = EXIT_FAILURES;
	}
	ndjson_writer_free(w);
	buf_free(&line);
	buf_free(&a);
	buf_free(&b);
	buf_free(&sim);
	return code;
}

int store_cmd_similar(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs > 1 || (nargs == 1 && c->id)) {
		log_error("similar takes one query: a text, --id ID, or a vector on stdin (try "
			  "--help)");
		return EXIT_USAGE;
	}
	struct store_query q = {0};
	if (store_where_query(c, &q))
		return EXIT_USAGE;
	long k = c->k_set ? c->k : 10;
	double min_score = c->min_score_set ? c->min_score : -INFINITY;
	struct store *s = store_cli_open(a, 0);
	char *model = NULL;
	long dim = 0;
	int code = store_where_model(s, c->model, &model, &dim);
	float *qv = code ? NULL : xcalloc(vec_stride((int)dim) + 1, sizeof *qv);
	if (!code)
		code = c->id ? query_of_id(s, c->id, model, qv, dim)
		       : nargs ? query_of_text(a, args[0], model, qv, dim)
		       : query_of_stdin(model, qv, dim);
	if (!code) {
		app_size_pool(a, cpu_count());
		double t0 = now_ms();
		vec_normalize(qv, (int)dim);
		/* one more when the query is a record: itself is left out */
		struct search se = {
			.q = &q,
			.model = model,
			.qv = qv,
			.dim = (int)dim,
			.k = (int)k + (c->id != NULL),
			.ld = vec_stride((int)dim),
		};
		store_cli_opts(a, 0, &se.opts);
		struct vec_topk top;
		long rows = 0;
		int rc = search_all(a, &se, a->workers, &top, &rows);
		double secs = (now_ms() - t0) / 1000;
		if (rc < 0) {
			code = EXIT_FAILURES;
		} else {
			log_event("similar: %ld vectors of %s (%ld numbers) searched in %.3fs on %d "
				  "threads", rows, model, dim, secs, a->workers);
			code = write_hits(s, &top, model, c->id, k, min_score);
		}
		vec_topk_free(&top);
		if (app_stop > 0 && code == EXIT_DONE)
			code = app_stop == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
	}
	free(qv);
	free(model);
	store_where_free(&q);
	store_close(s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}
