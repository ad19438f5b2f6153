/* consolidate_mention: lists to consolidate, and the mentions of a record
 * (see the header). */
#include "consolidate_mention.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX 300

static enum consolidate_kind default_kind(const char *list)
{
	static const char *const people[] = {"people", "persons", "speakers", "authors"};
	static const char *const orgs[] = {"organisations", "organizations", "orgs", "companies"};
	for (size_t i = 0; i < ARRAY_LEN(people); i++)
		if (!strcmp(list, people[i]))
			return CONSOLIDATE_PERSON;
	for (size_t i = 0; i < ARRAY_LEN(orgs); i++)
		if (!strcmp(list, orgs[i]))
			return CONSOLIDATE_ORG;
	return CONSOLIDATE_TERM;
}

void consolidate_lists_free(struct consolidate_list *l, int n)
{
	for (int i = 0; i < n; i++) {
		free(l[i].name);
		free(l[i].field);
	}
	free(l);
}

int consolidate_lists_parse(const char *spec, struct consolidate_list **out, char *err,
			    size_t errlen)
{
	struct consolidate_list *l = NULL;
	int n = 0;
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *item = xstrndup(p, len);
		char *kind = strchr(item, '=');
		if (kind)
			*kind++ = '\0';
		char *field = strchr(item, ':');
		if (field)
			*field++ = '\0';
		const char *bad = NULL;
		if (!*item)
			bad = "an empty list name";
		else if (field && !*field)
			bad = "an empty field name";
		for (int i = 0; !bad && i < n; i++)
			if (!strcmp(l[i].name, item))
				bad = "a list named twice";
		int k = -1;
		if (!bad && kind) {
			for (int i = 0; i < 3; i++)
				if (!strcmp(kind, consolidate_kind_name[i]))
					k = i;
			if (k < 0)
				bad = "a kind other than person, organisation or term";
		}
		if (bad) {
			snprintf(err, errlen, "lists '%s': %s in '%.*s'", spec, bad, (int)len, p);
			free(item);
			consolidate_lists_free(l, n);
			return -1;
		}
		l = xrealloc(l, (size_t)(n + 1) * sizeof *l);
		l[n].name = xstrdup(item);
		l[n].field = field ? xstrdup(field) : NULL;
		l[n].kind = k >= 0 ? (enum consolidate_kind)k : default_kind(item);
		n++;
		free(item);
		p += len;
		if (*p == ',')
			p++;
	}
	if (!n) {
		snprintf(err, errlen, "lists: no list named (e.g. people,organisations,jargon)");
		return -1;
	}
	*out = l;
	return n;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The name of an item: its field, or the first of the usual ones. */
static const char *item_name(const cJSON *item, const struct consolidate_list *l,
			     const char **field)
{
	static const char *const usual[] = {"name", "term", "title", "label"};
	*field = NULL;
	if (cJSON_IsString(item))
		return item->valuestring;
	if (!cJSON_IsObject(item))
		return NULL;
	if (l->field) {
		*field = l->field;
		return str_of(item, l->field);
	}
	for (size_t i = 0; i < ARRAY_LEN(usual); i++) {
		const char *s = str_of(item, usual[i]);
		if (s) {
			*field = usual[i];
			return s;
		}
	}
	return NULL;
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int ends_sentence(const char *s, size_t i, size_t n)
{
	char c = s[i];
	if (c == '\n')
		return 1;
	return (c == '.' || c == '!' || c == '?') && (i + 1 == n || isspace((unsigned char)s[i + 1]));
}

char *consolidate_mention_quote(const char *text, const char *name)
{
	if (!text || !name || !*name)
		return NULL;
	const char *hit = strcasestr(text, name);
	size_t hlen = strlen(name);
	if (!hit) {
		/* the longest word of the name: "Moreau" of "Dr. C. Moreau" */
		const char *best = NULL;
		size_t blen = 0;
		for (const char *p = name; *p;) {
			size_t w = 0;
			while (p[w] && !isspace((unsigned char)p[w]) && p[w] != '.' && p[w] != ',')
				w++;
			if (w > blen)
				best = p, blen = w;
			p += w ? w : 1;
		}
		if (blen < 3)
			return NULL;
		char *word = xstrndup(best, blen);
		hit = strcasestr(text, word);
		free(word);
		hlen = blen;
		if (!hit)
			return NULL;
	}
	size_t n = strlen(text), at = (size_t)(hit - text), start = at, end = at + hlen;
	while (start > 0 && !ends_sentence(text, start - 1, n))
		start--;
	while (end < n && !ends_sentence(text, end, n))
		end++;
	if (end < n && text[end] != '\n')
		end++; /* the full stop */
	while (start < at && isspace((unsigned char)text[start]))
		start++;
	if (end - start > QUOTE_MAX) {
		/* a window around the name */
		if (at + hlen - start > QUOTE_MAX)
			start = at > QUOTE_MAX / 3 ? at - QUOTE_MAX / 3 : 0;
		if (end - start > QUOTE_MAX)
			end = start + QUOTE_MAX;
	}
	while (start < at && ((unsigned char)text[start] & 0xc0) == 0x80)
		start++;
	end = start + utf8_floor(text + start, end - start);
	while (end > start && isspace((unsigned char)text[end - 1]))
		end--;
	return xstrndup(text + start, end - start);
}

/* Appends ,"key":value for a member of o, as cJSON prints it. */
static void put_member(struct buf *b, const char *key, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		return;
	buf_putc(b, ',');
	buf_json_str(b, key, strlen(key));
	buf_putc(b, ':');
	buf_puts(b, s);
	cJSON_free(s);
}

static const cJSON *number_of(const cJSON *item, const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, key) : NULL;
	if (cJSON_IsNumber(v))
		return v;
	v = cJSON_GetObjectItemCaseSensitive(rec, key);
	return cJSON_IsNumber(v) ? v : NULL;
}

static void add(struct consolidate_mentions *ms, const struct consolidate_mention *m)
{
	if (ms->n == ms->cap) {
		ms->cap = ms->cap ? 2 * ms->cap : 16;
		ms->m = xrealloc(ms->m, ms->cap * sizeof *ms->m);
	}
	ms->m[ms->n] = *m;
	ms->m[ms->n].seq = (long)ms->n;
	ms->n++;
}

/* The mention of one item, rendered; 0, or -1 when it has no name. */
static int one(struct consolidate_mentions *ms, const cJSON *rec, const char *id,
	       const char *doc, int list, const struct consolidate_list *l, const cJSON *item)
{
	const char *field;
	const char *name = item_name(item, l, &field);
	if (!name || blank(name))
		return -1;
	struct consolidate_mention m = {.list = list};
	if (consolidate_name_parse(name, l->kind, &m.n))
		return -1;
	m.name = xstrdup(name);
	m.record = xstrdup(id);
	m.doc = doc ? xstrdup(doc) : NULL;
	const char *gold = cJSON_IsObject(item) ? str_of(item, "gold") : NULL;
	m.gold = gold ? xstrdup(gold) : NULL;
	const char *own = cJSON_IsObject(item) ? str_of(item, "quote") : NULL;
	char *quote = own ? xstrdup(own) : consolidate_mention_quote(str_of(rec, "text"), name);
	const char *speaker = str_of(rec, "speaker"), *text = str_of(rec, "text");
	if (!quote && speaker && text && !strcasecmp(speaker, name)) {
		/* a transcript's speaker: what they said */
		size_t n = strlen(text);
		quote = xstrndup(text, utf8_floor(text, n < QUOTE_MAX ? n : QUOTE_MAX));
	}
	struct buf b = {0};
	buf_puts(&b, "{\"record\":");
	buf_json_str(&b, id, strlen(id));
	if (doc) {
		buf_puts(&b, ",\"doc\":");
		buf_json_str(&b, doc, strlen(doc));
	}
	buf_puts(&b, ",\"name\":");
	buf_json_str(&b, name, strlen(name));
	buf_puts(&b, ",\"quote\":");
	if (quote)
		buf_json_str(&b, quote, strlen(quote));
	else
		buf_puts(&b, "null");
	free(quote);
	static const char *const span[] = {"t0", "t1"};
	for (size_t i = 0; i < ARRAY_LEN(span); i++) {
		const cJSON *t = number_of(item, rec, span[i]);
		if (t)
			put_member(&b, span[i], t);
	}
	if (cJSON_IsObject(item)) {
		static const char *const taken[] = {"record", "doc", "name", "quote", "t0", "t1", "gold"};
		for (const cJSON *c = item->child; c; c = c->next) {
			int skip = field && !strcmp(c->string, field);
			for (size_t i = 0; !skip && i < ARRAY_LEN(taken); i++)
				skip = !strcmp(c->string, taken[i]);
			if (!skip)
				put_member(&b, c->string, c);
		}
	}
	buf_putc(&b, '}');
	m.json = buf_steal(&b, NULL);
	add(ms, &m);
	return 0;
}

long consolidate_mentions_read(struct consolidate_mentions *ms, const cJSON *rec,
			       const struct consolidate_list *lists, int nlists)
{
	const char *id = str_of(rec, "id");
	if (!id)
		return -1;
	const char *doc = str_of(rec, "doc");
	const cJSON *mined = cJSON_GetObjectItemCaseSensitive(rec, "mined");
	if (!cJSON_IsObject(mined))
		return 0;
	long added = 0;
	for (int i = 0; i < nlists; i++) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(mined, lists[i].name);
		if (!cJSON_IsArray(list))
			continue;
		for (const cJSON *item = list->child; item; item = item->next) {
			if (one(ms, rec, id, doc, i, &lists[i], item))
				ms->items_skipped++;
			else
				added++;
		}
	}
	return added;
}

void consolidate_mentions_move(struct consolidate_mentions *dst, struct consolidate_mentions *src)
{
	for (size_t i = 0; i < src->n; i++)
		add(dst, &src->m[i]);
	dst->items_skipped += src->items_skipped;
	free(src->m);
	memset(src, 0, sizeof *src);
}

void consolidate_mentions_free(struct consolidate_mentions *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		struct consolidate_mention *m = &ms->m[i];
		consolidate_name_free(&m->n);
		free(m->name);
		free(m->record);
		free(m->doc);
		free(m->json);
		free(m->gold);
	}
	free(ms->m);
	memset(ms, 0, sizeof *ms);
}
