/* consolidate_entity: the entity set, its indexes, and entity records in
 * and out (see the header). Index keys are "<list>\x1f<text>"; each maps to
 * a chain of links, one per entity. An entity merged into another stays
 * in the chains and is followed to the one it joined. */
#include "consolidate_entity.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void consolidate_set_init(struct consolidate_set *s, const struct consolidate_list *lists,
			  int nlists)
{
	memset(s, 0, sizeof *s);
	s->lists = lists;
	s->nlists = nlists;
	s->keys = strmap_new();
	s->words = strmap_new();
	s->acro = strmap_new();
	s->squash = strmap_new();
	s->held = strmap_new();
	s->docs = strmap_new();
	s->ids = strmap_new();
}

void consolidate_set_free(struct consolidate_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct consolidate_entity *e = &s->e[i];
		free(e->id);
		for (size_t k = 0; k < e->nalias; k++) {
			free(e->alias[k].name);
			consolidate_name_free(&e->alias[k].n);
		}
		free(e->alias);
		for (size_t k = 0; k < e->nmention; k++)
			free(e->mention[k]);
		free(e->mention);
		free(e->mseq);
		for (size_t k = 0; k < e->ndoc; k++)
			free(e->doc[k]);
		free(e->doc);
	}
	free(s->e);
	strmap_free(s->keys);
	strmap_free(s->words);
	strmap_free(s->acro);
	strmap_free(s->squash);
	strmap_free(s->held);
	strmap_free(s->docs);
	strmap_free(s->ids);
	free(s->link);
	memset(s, 0, sizeof *s);
}

long consolidate_set_root(const struct consolidate_set *s, long e)
{
	while (s->e[e].joined >= 0)
		e = s->e[e].joined;
	return e;
}

static void index_key(struct buf *k, long a, const char *text)
{
	buf_reset(k);
	buf_printf(k, "%ld\x1f%s", a, text);
}

/* Adds entity e to the chain of map under list+text, once. */
static void chain_add(struct consolidate_set *s, struct strmap *map, int list, const char *text,
		      long e)
{
	struct buf k = {0};
	index_key(&k, list, text);
	long head = strmap_get(map, k.p);
	for (long l = head; l >= 0; l = s->link[l].next)
		if (s->link[l].entity == e) {
			buf_free(&k);
			return;
		}
	if (s->nlink == s->clink) {
		s->clink = s->clink ? 2 * s->clink : 64;
		s->link = xrealloc(s->link, s->clink * sizeof *s->link);
	}
	s->link[s->nlink] = (struct consolidate_link){e, head};
	strmap_put(map, k.p, (long)s->nlink++);
	buf_free(&k);
}

size_t consolidate_set_find(const struct consolidate_set *s, int list, int which,
			    const char *text, void (*fn)(long e, void *ud), void *ud)
{
	const struct strmap *map = which == 'k' ? s->keys : which == 'w' ? s->words
				   : which == 'a' ? s->acro : s->squash;
	struct buf k = {0};
	index_key(&k, list, text);
	long head = strmap_get(map, k.p);
	buf_free(&k);
	long *seen = NULL;
	size_t n = 0, cap = 0;
	for (long l = head; l >= 0; l = s->link[l].next) {
		long e = consolidate_set_root(s, s->link[l].entity);
		size_t i = 0;
		while (i < n && seen[i] != e)
			i++;
		if (i < n)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			seen = xrealloc(seen, cap * sizeof *seen);
		}
		seen[n++] = e;
	}
	/* oldest first: the order entities were made in */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && seen[j - 1] > seen[j]; j--) {
			long t = seen[j];
			seen[j] = seen[j - 1];
			seen[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		fn(seen[i], ud);
	free(seen);
	return n;
}

long consolidate_set_add(struct consolidate_set *s, int list)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->e = xrealloc(s->e, s->cap * sizeof *s->e);
	}
	struct consolidate_entity *e = &s->e[s->n];
	memset(e, 0, sizeof *e);
	e->list = list;
	e->joined = -1;
	e->first = LONG_MAX;
	return (long)s->n++;
}

static void index_alias(struct consolidate_set *s, long e, const struct consolidate_name *n)
{
	int list = s->e[e].list;
	chain_add(s, s->keys, list, n->key, e);
	chain_add(s, s->squash, list, n->squash, e);
	if (n->acronym)
		chain_add(s, s->acro, list, n->acronym, e);
	if (n->initials)
		chain_add(s, s->acro, list, n->initials, e);
	if (s->lists[list].kind == CONSOLIDATE_PERSON)
		for (int i = 0; i < n->ntok; i++)
			if (n->tok[i][1]) /* initials are found through full words */
				chain_add(s, s->words, list, n->tok[i], e);
}

/* The alias of e spelt name, added when new; NULL when the name has no
 * word. */
static struct consolidate_alias *alias_of(struct consolidate_set *s, long ei, const char *name,
					  long seq)
{
	struct consolidate_entity *e = &s->e[ei];
	for (size_t i = 0; i < e->nalias; i++)
		if (!strcmp(e->alias[i].name, name)) {
			if (seq < e->alias[i].first)
				e->alias[i].first = seq;
			return &e->alias[i];
		}
	struct consolidate_name n;
	if (consolidate_name_parse(name, s->lists[e->list].kind, &n))
		return NULL;
	if (e->nalias == e->calias) {
		e->calias = e->calias ? 2 * e->calias : 4;
		e->alias = xrealloc(e->alias, e->calias * sizeof *e->alias);
	}
	struct consolidate_alias *a = &e->alias[e->nalias++];
	a->name = xstrdup(name);
	a->n = n;
	a->mentions = 0;
	a->first = seq;
	index_alias(s, ei, &a->n);
	return a;
}

/* The alias with the most words is the name; then the most mentioned,
 * then the first. */
static void pick_full(struct consolidate_entity *e)
{
	size_t best = 0;
	for (size_t i = 1; i < e->nalias; i++) {
		const struct consolidate_alias *a = &e->alias[i], *b = &e->alias[best];
		if (a->n.ntok > b->n.ntok || (a->n.ntok == b->n.ntok && a->mentions > b->mentions))
			best = i;
	}
	e->full = best;
}

static void add_doc(struct consolidate_set *s, long ei, const char *doc)
{
	if (!doc)
		return;
	struct buf k = {0};
	buf_printf(&k, "%ld\x1f%s", ei, doc);
	if (strmap_get(s->docs, k.p) < 0) {
		strmap_put(s->docs, k.p, 1);
		struct consolidate_entity *e = &s->e[ei];
		if (e->ndoc == e->cdoc) {
			e->cdoc = e->cdoc ? 2 * e->cdoc : 4;
			e->doc = xrealloc(e->doc, e->cdoc * sizeof *e->doc);
		}
		e->doc[e->ndoc++] = xstrdup(doc);
	}
	buf_free(&k);
}

int consolidate_set_in_doc(const struct consolidate_set *s, long e, const char *doc)
{
	if (!doc)
		return 0;
	struct buf k = {0};
	buf_printf(&k, "%ld\x1f%s", consolidate_set_root(s, e), doc);
	int in = strmap_get(s->docs, k.p) >= 0;
	buf_free(&k);
	return in;
}

static void held_key(struct buf *k, int list, const char *record, const char *name)
{
	buf_reset(k);
	buf_printf(k, "%d\x1f%s\x1f%s", list, record, name);
}

long consolidate_set_held(const struct consolidate_set *s, int list, const char *record,
			  const char *name)
{
	struct buf k = {0};
	held_key(&k, list, record, name);
	long e = strmap_get(s->held, k.p);
	buf_free(&k);
	return e >= 0 ? consolidate_set_root(s, e) : -1;
}

/* Files one mention (JSON text, given over) with its record, name, doc. */
static int file_mention(struct consolidate_set *s, long ei, char *json, const char *record,
			const char *name, const char *doc, long seq)
{
	struct consolidate_entity *e = &s->e[ei];
	struct buf k = {0};
	held_key(&k, e->list, record, name);
	if (strmap_get(s->held, k.p) >= 0) {
		buf_free(&k);
		free(json);
		return 1;
	}
	strmap_put(s->held, k.p, ei);
	buf_free(&k);
	struct consolidate_alias *a = alias_of(s, ei, name, seq);
	e = &s->e[ei];
	if (a)
		a->mentions++;
	if (e->nmention == e->cmention) {
		e->cmention = e->cmention ? 2 * e->cmention : 4;
		e->mention = xrealloc(e->mention, e->cmention * sizeof *e->mention);
		e->mseq = xrealloc(e->mseq, e->cmention * sizeof *e->mseq);
	}
	e->mseq[e->nmention] = seq;
	e->mention[e->nmention++] = json;
	add_doc(s, ei, doc);
	pick_full(e);
	return 0;
}

int consolidate_set_mention(struct consolidate_set *s, long e, const struct consolidate_mention *m)
{
	e = consolidate_set_root(s, e);
	int dup = file_mention(s, e, xstrdup(m->json), m->record, m->name, m->doc, m->seq);
	if (!dup) {
		s->e[e].changed = 1;
		if (m->seq < s->e[e].first)
			s->e[e].first = m->seq;
	}
	return dup;
}

void consolidate_set_join(struct consolidate_set *s, long to, long from)
{
	to = consolidate_set_root(s, to);
	from = consolidate_set_root(s, from);
	if (to == from)
		return;
	struct consolidate_entity *f = &s->e[from];
	for (size_t i = 0; i < f->nalias; i++) {
		struct consolidate_alias *a = alias_of(s, to, f->alias[i].name, f->alias[i].first);
		f = &s->e[from];
		if (a)
			a->mentions += f->alias[i].mentions;
	}
	struct consolidate_entity *t = &s->e[to];
	for (size_t i = 0; i < f->nmention; i++) {
		if (t->nmention == t->cmention) {
			t->cmention = t->cmention ? 2 * t->cmention : 4;
			t->mention = xrealloc(t->mention, t->cmention * sizeof *t->mention);
			t->mseq = xrealloc(t->mseq, t->cmention * sizeof *t->mseq);
		}
		t->mseq[t->nmention] = f->mseq[i];
		t->mention[t->nmention++] = f->mention[i];
	}
	f->nmention = 0;
	for (size_t i = 0; i < f->ndoc; i++)
		add_doc(s, to, f->doc[i]);
	t = &s->e[to];
	t->changed = 1;
	t->ambiguous = 0;
	if (f->first < t->first)
		t->first = f->first;
	pick_full(t);
	f->joined = to;
	f->changed = 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long consolidate_set_load(struct consolidate_set *s, const cJSON *rec, char *err, size_t errlen)
{
	const char *id = str_of(rec, "id"), *list = str_of(rec, "list");
	const cJSON *aliases = cJSON_GetObjectItemCaseSensitive(rec, "aliases");
	const cJSON *mentions = cJSON_GetObjectItemCaseSensitive(rec, "mentions");
	if (!id || !list || !cJSON_IsArray(aliases) || !cJSON_IsArray(mentions)) {
		snprintf(err, errlen, "not an entity (it needs \"id\", \"list\", \"aliases\" and "
			 "\"mentions\")");
		return -1;
	}
	int li = -1;
	for (int i = 0; i < s->nlists; i++)
		if (!strcmp(s->lists[i].name, list))
			li = i;
	if (li < 0) {
		snprintf(err, errlen, "entity '%s' is of list '%s', which is not consolidated now",
			 id, list);
		return -1;
	}
	if (strmap_get(s->ids, id) >= 0) {
		snprintf(err, errlen, "entity '%s' is there twice", id);
		return -1;
	}
	int words = 0;
	for (const cJSON *a = aliases->child; a && !words; a = a->next) {
		struct consolidate_name n;
		if (cJSON_IsString(a) && !consolidate_name_parse(a->valuestring, s->lists[li].kind, &n)) {
			words = 1;
			consolidate_name_free(&n);
		}
	}
	if (!words) {
		snprintf(err, errlen, "entity '%s' has no alias with a word", id);
		return -1;
	}
	long ei = consolidate_set_add(s, li);
	struct consolidate_entity *e = &s->e[ei];
	e->id = xstrdup(id);
	e->existing = 1;
	strmap_put(s->ids, id, ei);
	for (const cJSON *a = aliases->child; a; a = a->next)
		if (cJSON_IsString(a))
			alias_of(s, ei, a->valuestring, -1);
	for (const cJSON *m = mentions->child; m; m = m->next) {
		const char *record = str_of(m, "record"), *name = str_of(m, "name");
		if (!record || !name)
			continue;
		char *json = cJSON_PrintUnformatted(m);
		if (!json)
			continue;
		file_mention(s, ei, xstrdup(json), record, name, str_of(m, "doc"), -1);
		cJSON_free(json);
	}
	pick_full(&s->e[ei]);
	return ei;
}

static const struct consolidate_set *order_set;
static int by_order(const void *a, const void *b)
{
	const struct consolidate_entity *x = &order_set->e[*(const long *)a];
	const struct consolidate_entity *y = &order_set->e[*(const long *)b];
	if (x->existing != y->existing)
		return x->existing ? -1 : 1;
	if (!x->existing && x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return *(const long *)a < *(const long *)b ? -1 : 1;
}

size_t consolidate_set_order(const struct consolidate_set *s, long **order)
{
	long *o = xmalloc((s->n + 1) * sizeof *o);
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].joined < 0)
			o[n++] = (long)i;
	order_set = s;
	qsort(o, n, sizeof *o, by_order);
	order_set = NULL;
	*order = o;
	return n;
}

void consolidate_set_ids(struct consolidate_set *s)
{
	struct buf id = {0};
	long *order;
	size_t n = consolidate_set_order(s, &order);
	for (size_t k = 0; k < n; k++) {
		long i = order[k];
		struct consolidate_entity *e = &s->e[i];
		if (e->id)
			continue;
		const char *key = e->alias[e->full].n.key;
		for (int c = 1;; c++) {
			buf_reset(&id);
			buf_printf(&id, "%s:", s->lists[e->list].name);
			for (const char *p = key; *p; p++)
				buf_putc(&id, *p == ' ' ? '-' : *p);
			if (c > 1)
				buf_printf(&id, "-%d", c);
			if (strmap_get(s->ids, id.p) < 0)
				break;
		}
		e->id = xstrdup(id.p);
		strmap_put(s->ids, id.p, i);
	}
	free(order);
	buf_free(&id);
}

struct keyed {
	long key;
	long i;
};

static int by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The indexes 0..n-1 of an array of n elements of size sz, ordered by the
 * long at offset off of each (stably). Caller frees. */
static long *in_order(size_t n, const void *base, size_t sz, size_t off)
{
	struct keyed *k = xmalloc((n + 1) * sizeof *k);
	for (size_t i = 0; i < n; i++) {
		memcpy(&k[i].key, (const char *)base + i * sz + off, sizeof k[i].key);
		k[i].i = (long)i;
	}
	qsort(k, n, sizeof *k, by_key);
	long *o = xmalloc((n + 1) * sizeof *o);
	for (size_t i = 0; i < n; i++)
		o[i] = k[i].i;
	free(k);
	return o;
}

static void put_str(struct buf *b, const char *s)
{
	buf_json_str(b, s, strlen(s));
}

void consolidate_set_json(const struct consolidate_set *s, long ei, struct buf *out)
{
	const struct consolidate_entity *e = &s->e[ei];
	const struct consolidate_list *l = &s->lists[e->list];
	const char *name = e->alias[e->full].name;
	buf_reset(out);
	buf_puts(out, "{\"id\":");
	put_str(out, e->id ? e->id : "");
	buf_puts(out, ",\"list\":");
	put_str(out, l->name);
	buf_puts(out, ",\"kind\":");
	put_str(out, consolidate_kind_name[l->kind]);
	buf_puts(out, ",\"name\":");
	put_str(out, name);
	buf_puts(out, ",\"text\":");
	put_str(out, name);
	buf_puts(out, ",\"aliases\":[");
	long *ord = in_order(e->nalias, e->alias, sizeof *e->alias,
			     offsetof(struct consolidate_alias, first));
	for (size_t i = 0; i < e->nalias; i++) {
		if (i)
			buf_putc(out, ',');
		put_str(out, e->alias[ord[i]].name);
	}
	free(ord);
	buf_puts(out, "],\"docs\":[");
	for (size_t i = 0; i < e->ndoc; i++) {
		if (i)
			buf_putc(out, ',');
		put_str(out, e->doc[i]);
	}
	buf_printf(out, "],\"mention_count\":%zu,\"mentions\":[", e->nmention);
	ord = in_order(e->nmention, e->mseq, sizeof *e->mseq, 0);
	for (size_t i = 0; i < e->nmention; i++) {
		if (i)
			buf_putc(out, ',');
		buf_puts(out, e->mention[ord[i]]);
	}
	free(ord);
	buf_puts(out, "]}\n");
}
