/* consolidate_eval: pairwise precision and recall of the grouping (see the
 * header). Mentions are sorted by (list, entity, gold) and by (list, gold,
 * entity); the runs of equal keys give the counts the pairs come from. */
#include "consolidate_eval.h"
#include "strmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define WORST 10

struct row {
	int list;
	long pred;   /* entity (its root) */
	long gold;   /* index of the gold label */
};

struct tally {
	long mentions, gold, found;        /* mentions; distinct gold labels; entities */
	double pairs_gold, pairs_found, pairs_right;
};

/* A wrong merge or a split, with what it cost in pairs. */
struct fault {
	int list;
	long key;       /* the entity (merge) or the gold label (split) */
	double pairs;   /* pairs wrongly made or missed */
	size_t first, end; /* its rows, in the order they were sorted */
};

static int by_pred(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->list != y->list)
		return x->list < y->list ? -1 : 1;
	if (x->pred != y->pred)
		return x->pred < y->pred ? -1 : 1;
	return x->gold < y->gold ? -1 : x->gold > y->gold;
}

static int by_gold(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->list != y->list)
		return x->list < y->list ? -1 : 1;
	if (x->gold != y->gold)
		return x->gold < y->gold ? -1 : 1;
	return x->pred < y->pred ? -1 : x->pred > y->pred;
}

static int by_cost(const void *a, const void *b)
{
	const struct fault *x = a, *y = b;
	if (x->pairs != y->pairs)
		return x->pairs > y->pairs ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static double pairs(long n)
{
	return (double)n * (double)(n - 1) / 2;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 1;
}

/* Walks rows sorted by (list, outer, inner): adds the pairs of each outer
 * group and of each (outer, inner) cell to t[list], and records the
 * groups with several inners as faults. */
static void walk(const struct row *r, size_t n, int outer_pred, struct tally *t,
		 struct fault **faults, size_t *nf)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		long key = outer_pred ? r[i].pred : r[i].gold;
		while (j < n && r[j].list == r[i].list &&
		       (outer_pred ? r[j].pred : r[j].gold) == key)
			j++;
		double same = 0;
		int inners = 0;
		for (size_t k = i; k < j;) {
			size_t m = k;
			long in = outer_pred ? r[k].gold : r[k].pred;
			while (m < j && (outer_pred ? r[m].gold : r[m].pred) == in)
				m++;
			same += pairs((long)(m - k));
			inners++;
			k = m;
		}
		if (outer_pred)
			t[r[i].list].found++;
		else
			t[r[i].list].gold++;
		double all = pairs((long)(j - i));
		if (outer_pred) {
			t[r[i].list].pairs_found += all;
			t[r[i].list].pairs_right += same;
		} else {
			t[r[i].list].pairs_gold += all;
		}
		if (inners > 1) {
			*faults = xrealloc(*faults, (*nf + 1) * sizeof **faults);
			(*faults)[(*nf)++] = (struct fault){r[i].list, key, all - same, i, j};
		}
		i = j;
	}
}

static void add_tally(struct tally *to, const struct tally *t)
{
	to->mentions += t->mentions;
	to->gold += t->gold;
	to->found += t->found;
	to->pairs_gold += t->pairs_gold;
	to->pairs_found += t->pairs_found;
	to->pairs_right += t->pairs_right;
}

static void json_tally(struct buf *b, const struct tally *t)
{
	double p = ratio(t->pairs_right, t->pairs_found), r = ratio(t->pairs_right, t->pairs_gold);
	buf_printf(b, "{\"mentions\":%ld,\"gold\":%ld,\"found\":%ld,\"pairs_gold\":%.0f,"
		   "\"pairs_found\":%.0f,\"pairs_right\":%.0f,\"precision\":%.4f,\"recall\":%.4f,"
		   "\"f1\":%.4f}", t->mentions, t->gold, t->found, t->pairs_gold, t->pairs_found,
		   t->pairs_right, p, r, p + r > 0 ? 2 * p * r / (p + r) : 0);
}

static void text_tally(struct buf *b, const char *name, const struct tally *t)
{
	double p = ratio(t->pairs_right, t->pairs_found), r = ratio(t->pairs_right, t->pairs_gold);
	buf_printf(b, "  %-16s %8ld %6ld %6ld %10.3f %7.3f %6.3f\n", name, t->mentions, t->gold,
		   t->found, p, r, p + r > 0 ? 2 * p * r / (p + r) : 0);
}

/* "name (n), name (n)" of the inner groups of a fault's rows. */
static void fault_parts(struct buf *b, const struct consolidate_set *s, const struct row *r,
			const struct fault *f, int merge, char **gold_name, int json)
{
	int first = 1;
	for (size_t k = f->first; k < f->end;) {
		size_t m = k;
		long in = merge ? r[k].gold : r[k].pred;
		while (m < f->end && (merge ? r[m].gold : r[m].pred) == in)
			m++;
		const struct consolidate_entity *e = &s->e[r[k].pred];
		const char *label = merge ? gold_name[in] : (e->id ? e->id : e->alias[e->full].name);
		if (json) {
			buf_puts(b, first ? "{" : ",{");
			buf_puts(b, merge ? "\"gold\":" : "\"entity\":");
			buf_json_str(b, label, strlen(label));
			buf_printf(b, ",\"mentions\":%zu}", m - k);
		} else {
			buf_printf(b, "%s%s (%zu)", first ? "" : ", ", label, m - k);
		}
		first = 0;
		k = m;
	}
}

int consolidate_eval_report(const struct consolidate_set *s, const struct consolidate_mentions *ms,
			    const long *entity_of, const struct consolidate_eval_info *info,
			    int json, FILE *out)
{
	struct strmap *labels = strmap_new();
	char **gold_name = NULL;
	long ngold = 0, left_out = 0;
	struct row *r = xmalloc((ms->n + 1) * sizeof *r);
	size_t n = 0;
	struct buf key = {0};
	for (size_t i = 0; i < ms->n; i++) {
		const struct consolidate_mention *m = &ms->m[i];
		if (!m->gold || entity_of[i] < 0) {
			left_out++;
			continue;
		}
		buf_reset(&key);
		buf_printf(&key, "%d\x1f%s", m->list, m->gold);
		long g = strmap_get(labels, key.p);
		if (g < 0) {
			g = ngold++;
			strmap_put(labels, key.p, g);
			gold_name = xrealloc(gold_name, (size_t)ngold * sizeof *gold_name);
			gold_name[g] = xstrdup(m->gold);
		}
		r[n++] = (struct row){m->list, consolidate_set_root(s, entity_of[i]), g};
	}
	buf_free(&key);
	struct tally *t = xcalloc((size_t)s->nlists + 1, sizeof *t);
	for (size_t i = 0; i < n; i++)
		t[r[i].list].mentions++;
	struct fault *merges = NULL, *splits = NULL;
	size_t nm = 0, ns = 0;
	struct row *rg = xmalloc((n + 1) * sizeof *rg);
	memcpy(rg, r, n * sizeof *r);
	qsort(r, n, sizeof *r, by_pred);
	walk(r, n, 1, t, &merges, &nm);
	qsort(rg, n, sizeof *rg, by_gold);
	walk(rg, n, 0, t, &splits, &ns);
	if (nm)
		qsort(merges, nm, sizeof *merges, by_cost);
	if (ns)
		qsort(splits, ns, sizeof *splits, by_cost);
	struct tally all = {0};
	for (int l = 0; l < s->nlists; l++)
		add_tally(&all, &t[l]);

	struct buf b = {0};
	if (json) {
		buf_puts(&b, "{\"gold\":");
		buf_json_str(&b, info->gold_path, strlen(info->gold_path));
		buf_puts(&b, ",\"mode\":");
		buf_json_str(&b, info->mode, strlen(info->mode));
		buf_puts(&b, ",\"embed_model\":");
		buf_json_str(&b, info->embed_model, strlen(info->embed_model));
		buf_puts(&b, ",\"model\":");
		if (info->model)
			buf_json_str(&b, info->model, strlen(info->model));
		else
			buf_puts(&b, "null");
		buf_printf(&b, ",\"threshold\":%g,\"uncertain\":%g,\"left_out\":%ld,\"lists\":{",
			   info->threshold, info->uncertain, left_out);
		for (int l = 0; l < s->nlists; l++) {
			if (l)
				buf_putc(&b, ',');
			buf_json_str(&b, s->lists[l].name, strlen(s->lists[l].name));
			buf_putc(&b, ':');
			json_tally(&b, &t[l]);
		}
		buf_puts(&b, "},\"all\":");
		json_tally(&b, &all);
		buf_puts(&b, ",\"merges\":[");
		for (size_t i = 0; i < nm && i < WORST; i++) {
			const struct consolidate_entity *e = &s->e[merges[i].key];
			const char *id = e->id ? e->id : e->alias[e->full].name;
			buf_puts(&b, i ? ",{\"entity\":" : "{\"entity\":");
			buf_json_str(&b, id, strlen(id));
			buf_printf(&b, ",\"wrong_pairs\":%.0f,\"parts\":[", merges[i].pairs);
			fault_parts(&b, s, r, &merges[i], 1, gold_name, 1);
			buf_puts(&b, "]}");
		}
		buf_puts(&b, "],\"splits\":[");
		for (size_t i = 0; i < ns && i < WORST; i++) {
			const char *g = gold_name[splits[i].key];
			buf_puts(&b, i ? ",{\"gold\":" : "{\"gold\":");
			buf_json_str(&b, g, strlen(g));
			buf_printf(&b, ",\"missed_pairs\":%.0f,\"parts\":[", splits[i].pairs);
			fault_parts(&b, s, rg, &splits[i], 0, gold_name, 1);
			buf_puts(&b, "]}");
		}
		buf_puts(&b, "]}\n");
	} else {
		buf_printf(&b, "gold: %s (%ld mentions, %ld left out without gold)\n",
			   info->gold_path, all.mentions, left_out);
		buf_printf(&b, "mode: %s, embed_model %s, threshold %g, uncertain %g%s%s\n",
			   info->mode, info->embed_model, info->threshold, info->uncertain,
			   info->model ? ", model " : "", info->model ? info->model : "");
		buf_printf(&b, "  %-16s %8s %6s %6s %10s %7s %6s\n", "list", "mentions", "gold",
			   "found", "precision", "recall", "f1");
		for (int l = 0; l < s->nlists; l++)
			text_tally(&b, s->lists[l].name, &t[l]);
		text_tally(&b, "all", &all);
		buf_puts(&b, "wrong merges (entity: gold labels and mentions):\n");
		for (size_t i = 0; i < nm && i < WORST; i++) {
			const struct consolidate_entity *e = &s->e[merges[i].key];
			buf_printf(&b, "  %s: ", e->id ? e->id : e->alias[e->full].name);
			fault_parts(&b, s, r, &merges[i], 1, gold_name, 0);
			buf_putc(&b, '\n');
		}
		if (!nm)
			buf_puts(&b, "  (none)\n");
		buf_puts(&b, "splits (gold label: entities and mentions):\n");
		for (size_t i = 0; i < ns && i < WORST; i++) {
			buf_printf(&b, "  %s: ", gold_name[splits[i].key]);
			fault_parts(&b, s, rg, &splits[i], 0, gold_name, 0);
			buf_putc(&b, '\n');
		}
		if (!ns)
			buf_puts(&b, "  (none)\n");
	}
	int rc = fwrite(b.p, 1, b.len, out) == b.len && !fflush(out) ? 0 : -1;
	buf_free(&b);
	free(merges);
	free(splits);
	free(t);
	free(r);
	free(rg);
	for (long g = 0; g < ngold; g++)
		free(gold_name[g]);
	free(gold_name);
	strmap_free(labels);
	return rc;
}
