/* consolidate_check: prompts of the pairs, asked over the pool, and the
 * merges they decide (see the header). */
#include "consolidate_check.h"
#include "pool.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {"kind", "name", "quote", "other", "aliases", "other_quote"};
static const char *const need[] = {"name", "other"};

const struct ask_tpl_spec consolidate_check_spec = {
	"consolidate_verify.txt", "consolidate.prompt", "consolidate", vars, ARRAY_LEN(vars),
	need, ARRAY_LEN(need),
};

struct question {
	char *prompt;
	struct ask_result r;
	int asked;
};

struct asking {
	const struct consolidate_check *c;
	struct question *qs;
};

static void work(void *job, int worker, void *ud)
{
	(void)worker;
	struct asking *a = ud;
	struct question *q = job;
	ask_run(&a->c->q, q->prompt, &q->r);
	q->asked = 1;
}

static void emitted(void *job, void *ud)
{
	(void)job;
	(void)ud;
}

/* The quote of a mention (its JSON text), NULL when it has none. */
static char *quote_of(const char *json)
{
	cJSON *m = cJSON_Parse(json);
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(m, "quote");
	char *s = cJSON_IsString(q) ? xstrdup(q->valuestring) : NULL;
	cJSON_Delete(m);
	return s;
}

static void prompt_of(const struct consolidate_check *c, const struct consolidate_set *s,
		      const struct consolidate_mentions *ms, const struct consolidate_pair *p,
		      struct buf *out)
{
	const struct consolidate_mention *m = &ms->m[p->mention];
	const struct consolidate_entity *o = &s->e[consolidate_set_root(s, p->other)];
	struct buf aliases = {0};
	buf_puts(&aliases, "");
	for (size_t i = 0; i < o->nalias; i++)
		if (i != o->full)
			buf_printf(&aliases, "%s%s", aliases.len ? "; " : "", o->alias[i].name);
	char *quote = quote_of(m->json), *other_quote = NULL;
	for (size_t i = 0; i < o->nmention && !other_quote; i++)
		other_quote = quote_of(o->mention[i]);
	const char *values[] = {
		consolidate_kind_name[s->lists[m->list].kind], m->name, quote ? quote : "",
		o->alias[o->full].name, aliases.p, other_quote ? other_quote : "",
	};
	buf_reset(out);
	ask_tpl_render(c->tpl, vars, values, ARRAY_LEN(vars), out);
	free(quote);
	free(other_quote);
	buf_free(&aliases);
}

/* Pairs by score, best first; the earlier pair first among equals. */
struct order {
	float score;
	size_t i;
};

static int by_score(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void consolidate_check_run(struct consolidate_check *c, struct consolidate_set *s,
			   const struct consolidate_mentions *ms, const struct consolidate_pair *pair,
			   size_t n)
{
	if (!n)
		return;
	struct question *qs = xcalloc(n, sizeof *qs);
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		prompt_of(c, s, ms, &pair[i], &b);
		qs[i].prompt = xstrdup(b.p);
	}
	buf_free(&b);
	struct asking a = {c, qs};
	int workers = c->workers > 0 ? c->workers : 1;
	struct pool *p = pool_new(workers, 2 * (size_t)workers + 4, 0, work, emitted, NULL, &a);
	for (size_t i = 0; i < n; i++)
		pool_submit(p, &qs[i]);
	pool_finish(p);

	struct order *ord = xmalloc(n * sizeof *ord);
	for (size_t i = 0; i < n; i++)
		ord[i] = (struct order){pair[i].score, i};
	qsort(ord, n, sizeof *ord, by_score);
	for (size_t k = 0; k < n; k++) {
		size_t i = ord[k].i;
		const struct ask_result *r = &qs[i].r;
		c->asked++;
		c->requests += r->requests;
		if (r->value < 0) {
			c->failed++;
			if (!c->first_error[0])
				snprintf(c->first_error, sizeof c->first_error, "%s: %s", r->code,
					 r->message);
		} else if (r->value == ASK_YES) {
			c->yes++;
			long fresh = pair[i].fresh;
			/* the new entity joins once: the best YES */
			if (consolidate_set_root(s, fresh) == fresh &&
			    consolidate_set_root(s, pair[i].other) != fresh) {
				consolidate_set_join(s, pair[i].other, fresh);
				c->merged++;
			}
		} else if (r->value == ASK_NO) {
			c->no++;
		} else {
			c->uncertain++;
		}
	}
	free(ord);
	for (size_t i = 0; i < n; i++)
		free(qs[i].prompt);
	free(qs);
}
