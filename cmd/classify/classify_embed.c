/* classify_embed: the reuse of a record's own embedding and the cached
 * taxonomy vectors, embedded with the shared client (embedder.h). */
#include "classify_embed.h"
#include "app.h"
#include "classify_cache.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "vec.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int classify_embed_reuse(const struct embedder *e, const cJSON *rec, int dim, float *v)
{
	if (!embedder_has(e, rec, dim, v))
		return 0;
	vec_normalize(v, dim);
	return 1;
}

/* ---- taxonomy vectors ---- */

struct tv_job {
	size_t first, n;       /* positions in the "missing" list */
	float *vec;            /* n x dim, NULL when nothing was embedded */
	char *ok;              /* per position: its vector is in vec */
	int dim;
	struct embedder_err err; /* the first failure, code "" when none */
	long requests;
};

/* One text of the taxonomy to embed: an entry's own text, or one of its
 * examples. */
struct tv_row {
	const char *text;
	uint64_t hash;
	long entry;
	long example;           /* index in the entry's examples, -1: its own text */
};

struct tv_run {
	const struct embedder *e;
	const struct taxonomy *t;
	const struct tv_row *rows;
	const size_t *missing;  /* row indexes to embed */
	float **got;            /* per missing position: its vector (into a job's) */
	int *got_dim;
	atomic_int failed;
	struct embedder_err first_err; /* writer thread */
	int have_err;
	long requests;
	size_t done;
	size_t total;
	double t_log;
	struct tv_job **jobs;   /* kept until the end (their vectors) */
	size_t njobs;
};

/* Embeds the job's texts into j->vec (allocated at the first vector);
 * the first failure goes to j->err, naming the entry when the server
 * refused its text on its own. Returns 0, or -1 when a text has no
 * vector (the others are kept, so that they are cached even so). */
static int tv_part(struct tv_run *run, struct tv_job *j, const char **texts)
{
	struct embedder_result *res = xcalloc(j->n, sizeof *res);
	struct embedder_stats st = {0};
	embedder_run(run->e, texts, NULL, j->n, res, &st);
	j->requests += st.attempts;
	int rc = 0;
	for (size_t i = 0; i < j->n; i++) {
		struct embedder_result *r = &res[i];
		if (r->vec && !j->vec) {
			j->dim = r->dim;
			j->vec = xcalloc(j->n * (size_t)r->dim + 1, sizeof *j->vec);
		}
		if (r->vec && r->dim == j->dim) {
			vec_normalize(r->vec, r->dim);
			memcpy(j->vec + i * (size_t)r->dim, r->vec, (size_t)r->dim * sizeof *r->vec);
			j->ok[i] = 1;
		} else if (!rc && r->vec) {
			snprintf(j->err.code, sizeof j->err.code, "bad_dim");
			snprintf(j->err.message, sizeof j->err.message, "the server answered vectors "
				 "of %d and %d numbers for one model", j->dim, r->dim);
		} else if (!rc) {
			j->err = r->err;
			if (r->refused) {
				const struct tv_row *row = &run->rows[run->missing[j->first + i]];
				const struct taxonomy_entry *e = &run->t->e[row->entry];
				char ex[48] = "";
				if (row->example >= 0)
					snprintf(ex, sizeof ex, ", example %ld", row->example + 1);
				char *m = xasprintf("entry '%s' (line %ld)%s: %s", e->id, e->line, ex,
						    r->err.message);
				snprintf(j->err.message, sizeof j->err.message, "%s", m);
				free(m);
			}
		}
		if (!j->ok[i])
			rc = -1;
		free(r->vec);
	}
	free(res);
	return rc;
}

static void tv_work(void *jp, int worker, void *ud)
{
	(void)worker;
	struct tv_job *j = jp;
	struct tv_run *run = ud;
	/* after a failure or a stop signal the remaining batches are not sent */
	if (atomic_load(&run->failed) || app_stop)
		return;
	const char **texts = xmalloc(j->n * sizeof *texts);
	for (size_t i = 0; i < j->n; i++)
		texts[i] = run->rows[run->missing[j->first + i]].text;
	j->ok = xcalloc(j->n + 1, 1);
	if (tv_part(run, j, texts))
		atomic_store(&run->failed, 1);
	free(texts);
}

static void tv_emit(void *jp, void *ud)
{
	struct tv_job *j = jp;
	struct tv_run *run = ud;
	run->requests += j->requests;
	if (!run->have_err && j->err.message[0]) {
		run->first_err = j->err;
		run->have_err = 1;
	}
	for (size_t i = 0; j->vec && i < j->n; i++) {
		if (!j->ok[i])
			continue;
		run->got[j->first + i] = j->vec + i * (size_t)j->dim;
		run->got_dim[j->first + i] = j->dim;
		run->done++;
	}
	run->jobs[run->njobs++] = j;
	if (run->total > 1000 && now_ms() - run->t_log > 10000) {
		run->t_log = now_ms();
		log_event("taxonomy: %zu of %zu vectors embedded", run->done, run->total);
	}
}

/* Embeds the listed rows; got[i] points at the vector of missing[i] or
 * is NULL when its batch failed. Returns the run (free with tv_free). */
static struct tv_run *tv_embed(const struct taxonomy *t, const struct tv_row *rows,
			       const struct embedder *e, const size_t *missing, size_t nmiss,
			       int workers)
{
	struct tv_run *run = xcalloc(1, sizeof *run);
	run->e = e;
	run->t = t;
	run->rows = rows;
	run->missing = missing;
	run->total = nmiss;
	run->got = xcalloc(nmiss + 1, sizeof *run->got);
	run->got_dim = xcalloc(nmiss + 1, sizeof *run->got_dim);
	run->t_log = now_ms();
	atomic_init(&run->failed, 0);
	/* hash vectors are cheap: bigger jobs */
	size_t per = e->hash_dim > 0 ? 256 : (e->batch ? e->batch : 32);
	size_t njobs = (nmiss + per - 1) / per;
	run->jobs = xcalloc(njobs + 1, sizeof *run->jobs);
	if (workers < 1)
		workers = 1;
	if ((size_t)workers > njobs)
		workers = njobs ? (int)njobs : 1;
	struct pool *p = pool_new(workers, (size_t)workers * 2 + 2, 1, tv_work, tv_emit, NULL, run);
	for (size_t off = 0; off < nmiss; off += per) {
		struct tv_job *j = xcalloc(1, sizeof *j);
		j->first = off;
		j->n = nmiss - off < per ? nmiss - off : per;
		pool_submit(p, j);
	}
	pool_finish(p);
	return run;
}

static void tv_free(struct tv_run *run)
{
	for (size_t i = 0; i < run->njobs; i++) {
		free(run->jobs[i]->vec);
		free(run->jobs[i]->ok);
		free(run->jobs[i]);
	}
	free(run->jobs);
	free(run->got);
	free(run->got_dim);
	free(run);
}

void classify_embed_taxonomy_free(struct classify_tax_vectors *v)
{
	free(v->vec);
	free(v->entry);
	free(v->cache_path);
	memset(v, 0, sizeof *v);
}

/* The identity vectors are cached under: the name, plus the digest. */
static char *identity(const struct embedder *e)
{
	return e->digest[0] ? xasprintf("%s@%s", e->name, e->digest) : xstrdup(e->name);
}

static void save(const char *path, const char *ident, int dim, size_t n, const uint64_t *hash,
		 const float *vec)
{
	char err[512];
	if (classify_cache_write(path, ident, dim, n, hash, vec, err, sizeof err))
		log_warn("taxonomy vectors not cached: %s", err);
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/* The texts to embed: each entry's own, then (with examples) each of its
 * examples that is not blank and not a text the entry already has. */
static struct tv_row *tv_rows(const struct taxonomy *t, int examples, size_t *n)
{
	size_t cap = t->n + 1, k = 0;
	if (examples)
		for (size_t i = 0; i < t->n; i++)
			cap += t->e[i].nex;
	struct tv_row *rows = xmalloc(cap * sizeof *rows);
	for (size_t i = 0; i < t->n; i++) {
		const struct taxonomy_entry *e = &t->e[i];
		size_t own = k;
		rows[k++] = (struct tv_row){e->text, e->text_hash, (long)i, -1};
		for (size_t x = 0; examples && x < e->nex; x++) {
			if (blank(e->examples[x]))
				continue;
			uint64_t h = fnv64(FNV64_INIT, e->examples[x], strlen(e->examples[x]));
			size_t d = own;
			while (d < k && rows[d].hash != h)
				d++;
			if (d == k)
				rows[k++] = (struct tv_row){e->examples[x], h, (long)i, (long)x};
		}
	}
	*n = k;
	return rows;
}

int classify_embed_taxonomy(const struct taxonomy *t, const struct embedder *e, int examples,
		   const char *cache_dir, int workers, struct classify_tax_vectors *out, char *err,
		   size_t errlen)
{
	memset(out, 0, sizeof *out);
	size_t nrows;
	struct tv_row *trow = tv_rows(t, examples, &nrows);
	char *dir = classify_cache_dir(cache_dir);
	char *ident = identity(e);
	struct classify_cache *c = NULL;
	char cerr[512];
	if (dir) {
		out->cache_path = classify_cache_path(dir, t->path, e->name, e->hash_dim > 0 ? 0 : e->dim_hint);
		c = classify_cache_read(out->cache_path, ident, cerr, sizeof cerr);
		if (!c && cerr[0])
			log_warn("ignoring the vector cache: %s", cerr);
	} else {
		log_warn("no cache directory (set classify.cache_dir, XDG_CACHE_HOME or HOME): "
			 "taxonomy vectors are embedded on every run");
	}
	free(dir);
	int rc = 0;
	for (int round = 0; round < 2; round++) {
		size_t *missing = xmalloc((nrows + 1) * sizeof *missing);
		size_t nmiss = 0;
		for (size_t i = 0; i < nrows; i++)
			if (!classify_cache_get(c, trow[i].hash))
				missing[nmiss++] = i;
		if (nmiss)
			log_event("taxonomy: embedding %zu of %zu vectors with %s (%zu from the cache)",
				  nmiss, nrows, e->name, nrows - nmiss);
		struct tv_run *run = nmiss ? tv_embed(t, trow, e, missing, nmiss, workers) : NULL;
		if (run)
			out->requests += run->requests;
		int dim = c ? c->dim : 0;
		int mismatch = 0;
		for (size_t i = 0; run && i < nmiss; i++) {
			if (!run->got[i])
				continue;
			if (!dim)
				dim = run->got_dim[i];
			else if (run->got_dim[i] != dim)
				mismatch = 1;
		}
		if (mismatch && round == 0) {
			log_warn("the cached vectors have %d numbers, %s now answers %d: re-embedding "
				 "every entry", c->dim, e->name, run->got_dim[0]);
			classify_cache_free(c);
			c = NULL;
			tv_free(run);
			free(missing);
			continue;
		}
		/* every text that has a vector, in taxonomy order */
		size_t d = (size_t)dim;
		float *vec = xcalloc(nrows * d + 1, sizeof *vec);
		uint64_t *hash = xmalloc((nrows + 1) * sizeof *hash);
		char *have = xcalloc(nrows + 1, 1);
		size_t rows = 0, embedded = 0;
		float *packed = xmalloc((nrows * d + 1) * sizeof *packed);
		for (size_t i = 0; i < nrows; i++) {
			const float *v = classify_cache_get(c, trow[i].hash);
			if (v) {
				memcpy(vec + i * d, v, d * sizeof *v);
				have[i] = 1;
			}
		}
		for (size_t i = 0; run && i < nmiss; i++) {
			if (run->got[i] && run->got_dim[i] == dim) {
				memcpy(vec + missing[i] * d, run->got[i], d * sizeof *vec);
				have[missing[i]] = 1;
				embedded++;
			}
		}
		for (size_t i = 0; i < nrows; i++) {
			if (!have[i])
				continue;
			memcpy(packed + rows * d, vec + i * d, d * sizeof *vec);
			hash[rows++] = trow[i].hash;
		}
		int changed = embedded > 0 || !c || c->n != rows;
		if (out->cache_path && changed && rows)
			save(out->cache_path, ident, dim, rows, hash, packed);
		out->from_cache = nrows - nmiss;
		out->embedded = embedded;
		out->dim = dim;
		if (run && embedded < nmiss) {
			const struct embedder_err *r = &run->first_err;
			snprintf(err, errlen, "cannot embed the taxonomy with %s (%zu of the %zu "
				 "missing vectors embedded before the failure, cached for the next "
				 "run): %s", e->name, embedded, nmiss,
				 run->have_err ? r->message : app_stop ? "interrupted" : "server failure");
			free(vec);
			rc = -1;
		} else {
			out->vec = vec;
			out->n = nrows;
			out->entry = xmalloc((nrows + 1) * sizeof *out->entry);
			for (size_t i = 0; i < nrows; i++)
				out->entry[i] = trow[i].entry;
		}
		free(packed);
		free(hash);
		free(have);
		free(missing);
		if (run)
			tv_free(run);
		break;
	}
	free(trow);
	classify_cache_free(c);
	free(ident);
	return rc;
}
