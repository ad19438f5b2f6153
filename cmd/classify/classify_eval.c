/* classify_eval: the gold-set tally and its report. */
#include "classify_eval.h"
#include "strmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct pair {
	long gold, pred; /* entry indexes, -1 = none */
	long count;
};

struct classify_eval {
	const struct taxonomy *t;
	long items, correct, labelled, labelled_correct, skipped;
	long status[CLASSIFY_NSTATUS];
	struct pair *pairs; /* in the order first seen */
	size_t cap, npairs;
	struct strmap *index; /* the bytes of (gold, pred) -> its pair */
};

struct classify_eval *classify_eval_new(const struct taxonomy *t)
{
	struct classify_eval *ev = xcalloc(1, sizeof *ev);
	ev->t = t;
	ev->index = strmap_new();
	return ev;
}

void classify_eval_free(struct classify_eval *ev)
{
	if (!ev)
		return;
	free(ev->pairs);
	strmap_free(ev->index);
	free(ev);
}

static void pair_add(struct classify_eval *ev, long gold, long pred)
{
	long key[2] = {gold, pred};
	long i = strmap_getn(ev->index, key, sizeof key);
	if (i < 0) {
		if (ev->npairs == ev->cap) {
			ev->cap = ev->cap ? 2 * ev->cap : 64;
			ev->pairs = xrealloc(ev->pairs, ev->cap * sizeof *ev->pairs);
		}
		i = (long)ev->npairs++;
		ev->pairs[i] = (struct pair){gold, pred, 0};
		strmap_putn(ev->index, key, sizeof key, i);
	}
	ev->pairs[i].count++;
}

void classify_eval_add(struct classify_eval *ev, long gold, long predicted, enum classify_status status)
{
	ev->items++;
	ev->status[status]++;
	if (predicted >= 0)
		ev->labelled++;
	if (gold == predicted) {
		ev->correct++;
		if (predicted >= 0)
			ev->labelled_correct++;
	} else {
		pair_add(ev, gold, predicted);
	}
}

void classify_eval_skip(struct classify_eval *ev)
{
	ev->skipped++;
}

static double ratio(long a, long b)
{
	return b ? (double)a / (double)b : 0.0;
}

void classify_eval_figures(const struct classify_eval *ev, struct classify_eval_figures *f)
{
	memset(f, 0, sizeof *f);
	f->items = ev->items;
	f->correct = ev->correct;
	f->labelled = ev->labelled;
	f->labelled_correct = ev->labelled_correct;
	f->skipped = ev->skipped;
	f->accuracy = ratio(ev->correct, ev->items);
	f->coverage = ratio(ev->labelled, ev->items);
	f->precision = ratio(ev->labelled_correct, ev->labelled);
	memcpy(f->status, ev->status, sizeof f->status);
}

static int by_count(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->gold != y->gold)
		return x->gold < y->gold ? -1 : 1;
	return x->pred < y->pred ? -1 : x->pred > y->pred;
}

static void put_entry_json(struct buf *b, const struct taxonomy *t, const char *key, long e)
{
	buf_printf(b, "\"%s\":", key);
	if (e < 0) {
		buf_puts(b, "null");
	} else {
		buf_json_str(b, t->e[e].id, strlen(t->e[e].id));
	}
	buf_printf(b, ",\"%s_label\":", key);
	if (e < 0)
		buf_puts(b, "null");
	else
		buf_json_str(b, t->e[e].label, strlen(t->e[e].label));
}

static void put_str_or_null(struct buf *b, const char *s)
{
	if (s)
		buf_json_str(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

static void entry_text(struct buf *b, const struct taxonomy *t, long e)
{
	if (e < 0)
		buf_puts(b, "(none)");
	else
		buf_printf(b, "%s %s", t->e[e].id, t->e[e].label);
}

int classify_eval_report(const struct classify_eval *ev, const struct classify_eval_info *info, int json,
		   int max_pairs, FILE *out)
{
	struct classify_eval_figures f;
	classify_eval_figures(ev, &f);
	struct pair *top = xcalloc(ev->npairs + 1, sizeof *top);
	size_t n = ev->npairs;
	if (n)
		memcpy(top, ev->pairs, n * sizeof *top);
	qsort(top, n, sizeof *top, by_count);
	if (max_pairs >= 0 && n > (size_t)max_pairs)
		n = (size_t)max_pairs;

	struct buf b = {0};
	if (json) {
		buf_puts(&b, "{\"taxonomy\":");
		put_str_or_null(&b, info->taxonomy_path);
		buf_puts(&b, ",\"taxonomy_hash\":");
		put_str_or_null(&b, info->taxonomy_hash);
		buf_puts(&b, ",\"mode\":");
		put_str_or_null(&b, info->mode);
		buf_puts(&b, ",\"model\":");
		put_str_or_null(&b, info->model);
		buf_puts(&b, ",\"embed_model\":");
		put_str_or_null(&b, info->embed_model);
		buf_printf(&b, ",\"threshold\":%g,\"top_k\":%d", info->threshold, info->top_k);
		buf_printf(&b, ",\"items\":%ld,\"skipped\":%ld,\"correct\":%ld,\"labelled\":%ld,"
			   "\"labelled_correct\":%ld,\"accuracy\":%.4f,\"coverage\":%.4f,"
			   "\"precision\":%.4f,\"status\":{",
			   f.items, f.skipped, f.correct, f.labelled, f.labelled_correct,
			   f.accuracy, f.coverage, f.precision);
		for (int s = 0; s < CLASSIFY_NSTATUS; s++)
			buf_printf(&b, "%s\"%s\":%ld", s ? "," : "", classify_status_name[s], f.status[s]);
		buf_puts(&b, "},\"confused\":[");
		for (size_t i = 0; i < n; i++) {
			buf_puts(&b, i ? ",{" : "{");
			put_entry_json(&b, ev->t, "gold", top[i].gold);
			buf_putc(&b, ',');
			put_entry_json(&b, ev->t, "predicted", top[i].pred);
			buf_printf(&b, ",\"count\":%ld}", top[i].count);
		}
		buf_puts(&b, "]}\n");
	} else {
		buf_printf(&b, "classify eval: %ld items, taxonomy %s (%zu entries, %s)\n", f.items,
			   info->taxonomy_path, ev->t->n, info->taxonomy_hash);
		buf_printf(&b, "mode %s, model %s, embed_model %s, threshold %g, top_k %d\n",
			   info->mode, info->model ? info->model : "-", info->embed_model,
			   info->threshold, info->top_k);
		if (f.skipped)
			buf_printf(&b, "left out: %ld items without a usable gold id\n", f.skipped);
		buf_printf(&b, "accuracy   %.4f  (%ld of %ld right, \"no entry\" included)\n",
			   f.accuracy, f.correct, f.items);
		buf_printf(&b, "coverage   %.4f  (%ld of %ld given a label)\n", f.coverage,
			   f.labelled, f.items);
		buf_printf(&b, "precision  %.4f  (%ld of %ld labels right)\n", f.precision,
			   f.labelled_correct, f.labelled);
		buf_puts(&b, "status    ");
		for (int s = 0; s < CLASSIFY_NSTATUS; s++)
			buf_printf(&b, " %s %ld%s", classify_status_name[s], f.status[s],
				   s + 1 < CLASSIFY_NSTATUS ? "," : "\n");
		if (n) {
			buf_puts(&b, "most confused (count: gold -> predicted):\n");
			for (size_t i = 0; i < n; i++) {
				buf_printf(&b, "  %ld: ", top[i].count);
				entry_text(&b, ev->t, top[i].gold);
				buf_puts(&b, " -> ");
				entry_text(&b, ev->t, top[i].pred);
				buf_putc(&b, '\n');
			}
		} else {
			buf_puts(&b, "most confused: none\n");
		}
	}
	int rc = fwrite(b.p, 1, b.len, out) == b.len && fflush(out) == 0 ? 0 : -1;
	buf_free(&b);
	free(top);
	return rc;
}
