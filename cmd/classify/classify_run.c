/* classify_run: one job of records from input to output (see the header). */
#include "classify_run.h"
#include "fingerprint.h"
#include "reqlog.h"
#include "log.h"
#include "record.h"
#include "stage.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct stage *const cls_stage = &stage_table[STAGE_CLASSIFY];

/* Gold of an eval item: an entry index, or one of these. */
enum { GOLD_NONE = -1, GOLD_UNKNOWN = -2, GOLD_ABSENT = -3 };

/* What the writer needs to know about a record (r->extra). */
struct rec_info {
	int status;  /* enum classify_status, -1 when skipped */
	long entry;  /* labelled entry or -1 */
	long gold;   /* eval mode */
	char *gold_id;
};

/* Per-record state within a job. */
struct item {
	struct rec *r;
	const char *text;
	int todo;    /* needs a shortlist */
	int embed;   /* needs its vector computed */
	long row;    /* row in the job's vector matrix, -1 when none */
	struct classify_decision d;
	int failed_embed;
};

static int blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static const char *str_member(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int classify_run_class_done(const cJSON *rec, const struct classify_run *run)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, cls_stage->result);
	if (!cJSON_IsObject(c))
		return 0;
	const char *tax = str_member(c, "taxonomy");
	const char *status = str_member(c, cls_stage->status);
	const char *emb = str_member(c, "embed_model");
	const char *mode = str_member(c, "mode");
	const char *model = str_member(c, cls_stage->model);
	if (!tax || strcmp(tax, run->tax_hex) || !status || !strcmp(status, "error"))
		return 0;
	if (!emb || !stage_same_model(emb, run->emb->name))
		return 0;
	if (!mode || strcmp(mode, classify_mode_name[run->dec.mode]))
		return 0;
	/* other settings (threshold, prompt...): stale; none recorded: not
	 * known to be */
	const char *fp = str_member(c, cls_stage->fingerprint);
	if (fp && run->fingerprint && strcmp(fp, run->fingerprint))
		return 0;
	if (run->dec.mode == CLASSIFY_EMBED)
		return 1;
	return model && stage_same_model(model, run->dec.model);
}

static void put_str(struct buf *b, const char *s)
{
	if (s)
		buf_json_str(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

static void put_score(struct buf *b, float s)
{
	if (isfinite(s))
		buf_printf(b, "%.4f", (double)s);
	else
		buf_puts(b, "null");
}

/* ,"key":"val" */
static void put_member(struct buf *out, const char *key, const char *val)
{
	buf_putc(out, ',');
	put_str(out, key);
	buf_putc(out, ':');
	put_str(out, val);
}

void classify_run_class_json(struct buf *out, const struct classify_run *run, const struct classify_decision *d,
		   const struct vec_hit *hits, int nhits, const char *input)
{
	const struct taxonomy *t = run->tax;
	buf_reset(out);
	const struct taxonomy_entry *e = d->entry >= 0 ? &t->e[d->entry] : NULL;
	buf_puts(out, "{\"label\":");
	put_str(out, e ? e->label : NULL);
	buf_puts(out, ",\"id\":");
	put_str(out, e ? e->id : NULL);
	buf_puts(out, ",\"score\":");
	put_score(out, d->score);
	buf_printf(out, ",\"status\":\"%s\",\"candidates\":[", classify_status_name[d->status]);
	for (int i = 0; i < nhits; i++) {
		const struct taxonomy_entry *c = &t->e[hits[i].id];
		buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		put_str(out, c->id);
		buf_puts(out, ",\"label\":");
		put_str(out, c->label);
		buf_puts(out, ",\"score\":");
		put_score(out, hits[i].score);
		buf_putc(out, '}');
	}
	buf_puts(out, "],");
	put_str(out, cls_stage->model);
	buf_putc(out, ':');
	put_str(out, run->dec.mode == CLASSIFY_EMBED ? NULL : run->dec.model);
	if (run->dec.mode != CLASSIFY_EMBED && run->model_digest[0]) {
		buf_putc(out, ',');
		put_str(out, cls_stage->digest);
		buf_putc(out, ':');
		put_str(out, run->model_digest);
	}
	buf_puts(out, ",\"embed_model\":");
	put_str(out, run->emb->name);
	if (run->emb->digest[0]) {
		buf_puts(out, ",\"embed_digest\":");
		put_str(out, run->emb->digest);
	}
	buf_printf(out, ",\"taxonomy\":\"%s\",\"mode\":\"%s\"", run->tax_hex,
		   classify_mode_name[run->dec.mode]);
	if (run->fingerprint)
		put_member(out, cls_stage->fingerprint, run->fingerprint);
	if (input)
		put_member(out, cls_stage->input, input);
	buf_putc(out, '}');
}

static struct rec_info *info_of(struct rec *r)
{
	if (!r->extra) {
		struct rec_info *in = xcalloc(1, sizeof *in);
		in->status = -1;
		in->entry = -1;
		in->gold = GOLD_ABSENT;
		r->extra = in;
	}
	return r->extra;
}

static void read_gold(struct classify_run *run, struct rec *r)
{
	struct rec_info *in = info_of(r);
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(r->json, "gold");
	if (!g) {
		in->gold = GOLD_ABSENT;
	} else if (cJSON_IsNull(g) || (cJSON_IsString(g) && !*g->valuestring)) {
		in->gold = GOLD_NONE;
	} else if (cJSON_IsString(g)) {
		in->gold = classify_taxonomy_find(run->tax, g->valuestring);
		if (in->gold < 0) {
			in->gold = GOLD_UNKNOWN;
			in->gold_id = cJSON_PrintUnformatted(g);
		}
	} else {
		in->gold = GOLD_UNKNOWN;
		in->gold_id = cJSON_PrintUnformatted(g);
	}
}

/* Writes the record with its class (and errors.classify set or cleared). */
static void finish(struct classify_run *run, struct item *it, const struct vec_hit *hits, int nhits)
{
	struct rec *r = it->r;
	struct classify_decision *d = &it->d;
	if (d->status == CLASSIFY_ERROR && !strcmp(d->code, "abandoned")) {
		/* a stop request: passed on unchanged, left pending */
		rec_pass(r);
		r->outcome = REC_SKIPPED;
		info_of(r);
		return;
	}
	struct buf cls = {0}, with = {0}, out = {0};
	char input[FINGERPRINT_LEN];
	const char *fields[] = {run->field};
	fingerprint_input(r->line, r->len, fields, 1, input);
	classify_run_class_json(&cls, run, d, hits, nhits, input);
	record_set(&with, r->line, r->len, cls_stage->result, cls.p, cls.len);
	int failed = d->status == CLASSIFY_ERROR;
	int attempts = d->answers > d->requests ? d->answers : d->requests;
	rec_set_error(&out, with.p, with.len, cls_stage->name, failed ? d->code : NULL, d->message,
		      attempts > 0 ? attempts : 1);
	rec_emit(r, out.p, out.len);
	if (failed) {
		r->outcome = REC_FAILED;
		free(r->log);
		r->log = xasprintf("classify: %s", d->message);
	} else {
		r->outcome = REC_OK;
	}
	if (d->requests > 1)
		r->retries += d->requests - 1;
	struct rec_info *in = info_of(r);
	in->status = d->status;
	in->entry = d->entry;
	buf_free(&cls);
	buf_free(&with);
	buf_free(&out);
}

static void fail_item(struct item *it, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_item(struct item *it, const char *code, const char *fmt, ...)
{
	it->d.status = CLASSIFY_ERROR;
	it->d.entry = -1;
	it->d.score = NAN;
	snprintf(it->d.code, sizeof it->d.code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->d.message, sizeof it->d.message, fmt, ap);
	va_end(ap);
	it->todo = 0;
}

/* Embeds the n texts (of items[which[i]]) into their rows of q, made unit
 * length; items left without a vector fail. Adds the retries to
 * *retries. */
static void embed_items(struct classify_run *run, struct item *items, const size_t *which,
			const char **texts, size_t n, float *q, long *retries)
{
	const int dim = run->ix->dim;
	const size_t d = (size_t)dim;
	struct embedder_result *res = xcalloc(n, sizeof *res);
	struct embedder_stats st = {0};
	const char **ids = xcalloc(n ? n : 1, sizeof *ids);
	for (size_t k = 0; k < n; k++)
		ids[k] = reqlog_id(items[which[k]].r->json);
	embedder_run(run->emb, texts, ids, n, res, &st);
	free(ids);
	*retries += st.attempts - st.calls;
	long ok = 0;
	for (size_t k = 0; k < n; k++) {
		struct item *it = &items[which[k]];
		struct embedder_result *r = &res[k];
		if (r->vec && r->dim != dim) {
			fail_item(it, "bad_dim", "cannot embed the item: %s answered vectors of %d "
				  "numbers, the taxonomy vectors have %d (a changed model? remove the "
				  "cached vectors)", run->emb->name, r->dim, dim);
			it->d.answers = 1;
		} else if (r->vec) {
			vec_normalize(r->vec, dim);
			memcpy(q + (size_t)it->row * d, r->vec, d * sizeof *q);
			ok++;
		} else {
			fail_item(it, r->err.code[0] ? r->err.code : "embed", "cannot embed the item: %s",
				  r->err.message);
			/* the job's retries are counted once, on its first record;
			 * the attempts go to errors.classify */
			it->d.answers = r->err.attempts;
		}
		free(r->vec);
	}
	atomic_fetch_add(&run->embedded, ok);
	free(res);
}

void classify_run_job(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct classify_run *run = ud;
	const int dim = run->ix->dim;
	const size_t d = (size_t)dim;
	struct item *items = xcalloc(job->n + 1, sizeof *items);
	/* zeroed: the rows of items whose embedding failed are searched too */
	float *q = xcalloc(job->n * d + 1, sizeof *q);
	const char **texts = xmalloc((job->n + 1) * sizeof *texts);
	size_t *text_item = xmalloc((job->n + 1) * sizeof *text_item);
	size_t rows = 0, ntexts = 0;

	for (size_t i = 0; i < job->n; i++) {
		struct item *it = &items[i];
		struct rec *r = &job->recs[i];
		it->r = r;
		it->row = -1;
		if (r->outcome == REC_REJECTED || !r->json)
			continue;
		if (run->ev)
			read_gold(run, r);
		if (!run->force && classify_run_class_done(r->json, run)) {
			stage_pass_done(cls_stage, r);
			info_of(r);
			continue;
		}
		it->todo = 1;
		it->text = str_member(r->json, run->field);
		if (!it->text) {
			fail_item(it, "no_text", "record has no \"%s\" string", run->field);
			continue;
		}
		if (blank(it->text)) {
			/* nothing to compare: no match, no request */
			it->todo = 0;
			it->d.status = CLASSIFY_NO_MATCH;
			it->d.entry = -1;
			it->d.score = NAN;
			continue;
		}
		it->row = (long)rows++;
		if (classify_embed_reuse(run->emb, r->json, dim, q + (size_t)it->row * d)) {
			atomic_fetch_add(&run->reused, 1);
		} else {
			it->embed = 1;
			text_item[ntexts] = i;
			texts[ntexts++] = it->text;
		}
	}

	if (ntexts) {
		long retries = 0;
		embed_items(run, items, text_item, texts, ntexts, q, &retries);
		job->recs[text_item[0]].retries += (int)retries;
	}

	struct vec_topk top;
	vec_topk_init(&top, rows, run->top_k);
	if (rows)
		vec_index_search(run->ix, q, rows, &top);
	for (size_t i = 0; i < job->n; i++) {
		struct item *it = &items[i];
		if (it->r->outcome == REC_REJECTED || !it->r->json || it->r->outcome == REC_SKIPPED)
			continue;
		const struct vec_hit *h = NULL;
		int nh = 0;
		if (it->todo && it->row >= 0) {
			h = top.hit + (size_t)it->row * (size_t)top.k;
			nh = top.fill[it->row];
			classify_decide(&run->dec, it->text, h, nh, &it->d);
		}
		finish(run, it, h, nh);
	}
	vec_topk_free(&top);
	free(items);
	free(q);
	free(texts);
	free(text_item);
}

void classify_run_emitted(struct rec *r, void *ud)
{
	struct classify_run *run = ud;
	struct rec_info *in = r->extra;
	if (!in)
		return;
	r->extra = NULL;
	if (in->status >= 0)
		run->status[in->status]++;
	if (run->ev) {
		if (in->gold >= GOLD_NONE && in->status >= 0) {
			classify_eval_add(run->ev, in->gold, in->entry, (enum classify_status)in->status);
		} else {
			classify_eval_skip(run->ev);
			if (run->eval_warned++ < 10) {
				if (in->gold == GOLD_UNKNOWN)
					log_warn("%s:%ld: gold id %s is not in the taxonomy; item left "
						 "out", run->where, r->lineno, in->gold_id);
				else if (in->gold == GOLD_ABSENT)
					log_warn("%s:%ld: no \"gold\" member; item left out", run->where,
						 r->lineno);
			}
		}
		buf_reset(&r->out);
	}
	free(in->gold_id);
	free(in);
}
