/* classify_taxonomy: reads a taxonomy from YAML (libyaml's document API, so
 * every error can name its line) or NDJSON, checks it, and indexes ids. */
#include "classify_taxonomy.h"
#include "ndjson.h"
#include "record.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char keys_help[] = "id, label, description, synonyms, examples, parent";

/* Loader state: the entries so far and the first error. */
struct loader {
	struct taxonomy *t;
	size_t cap;
	char *err;
	size_t errlen;
	int failed;
};

static void fail(struct loader *ld, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct loader *ld, long line, const char *fmt, ...)
{
	if (ld->failed)
		return;
	ld->failed = 1;
	struct buf b = {0};
	if (line > 0)
		buf_printf(&b, "%s:%ld: ", ld->t->path, line);
	else
		buf_printf(&b, "%s: ", ld->t->path);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	snprintf(ld->err, ld->errlen, "%s", b.p);
	buf_free(&b);
}

static struct taxonomy_entry *new_entry(struct loader *ld, long line)
{
	struct taxonomy *t = ld->t;
	if (t->n == ld->cap) {
		ld->cap = ld->cap ? 2 * ld->cap : 64;
		t->e = xrealloc(t->e, ld->cap * sizeof *t->e);
	}
	struct taxonomy_entry *e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	e->line = line;
	e->parent_index = -1;
	return e;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void entry_free(struct taxonomy_entry *e)
{
	free(e->id);
	free(e->label);
	free(e->description);
	free(e->parent);
	free(e->text);
	free_list(e->synonyms, e->nsyn);
	free_list(e->examples, e->nex);
}

void classify_taxonomy_free(struct taxonomy *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		entry_free(&t->e[i]);
	free(t->e);
	strmap_free(t->ids);
	free(t->path);
	free(t);
}

/* Trims ASCII white space at both ends, in place. */
static char *trim(char *s)
{
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	size_t k = strspn(s, " \t\r\n");
	if (k)
		memmove(s, s + k, n - k + 1);
	return s;
}

/* ---- YAML ---- */

static long yline(const yaml_node_t *n)
{
	return (long)n->start_mark.line + 1;
}

/* A plain ~, null or empty scalar means "none" (YAML 1.1). */
static int y_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

static char *y_string(struct loader *ld, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		fail(ld, yline(n), "%s must be a single value, not a %s", what,
		     n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
		return NULL;
	}
	if (y_is_null(n))
		return NULL;
	return trim(xstrndup((const char *)n->data.scalar.value, n->data.scalar.length));
}

static void y_list(struct loader *ld, yaml_document_t *doc, const yaml_node_t *n,
		   const char *what, char ***out, size_t *nout)
{
	if (y_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		fail(ld, yline(n), "%s must be a list (e.g. %s: [a, b])", what, what);
		return;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*out = xcalloc(cap ? cap : 1, sizeof **out);
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top && !ld->failed; it++) {
		yaml_node_t *v = yaml_document_get_node(doc, *it);
		char *s = v ? y_string(ld, v, what) : NULL;
		if (s && *s)
			(*out)[(*nout)++] = s;
		else
			free(s);
	}
}

static void y_entry(struct loader *ld, yaml_document_t *doc, const yaml_node_t *n)
{
	if (n->type != YAML_MAPPING_NODE) {
		fail(ld, yline(n), "a taxonomy entry must be a mapping with %s", keys_help);
		return;
	}
	struct taxonomy_entry *e = new_entry(ld, yline(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !ld->failed; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE) {
			fail(ld, k ? yline(k) : e->line, "entry keys must be plain names");
			return;
		}
		const char *key = (const char *)k->data.scalar.value;
		char **dst = NULL;
		if (!strcmp(key, "id"))
			dst = &e->id;
		else if (!strcmp(key, "label"))
			dst = &e->label;
		else if (!strcmp(key, "description"))
			dst = &e->description;
		else if (!strcmp(key, "parent"))
			dst = &e->parent;
		if (dst) {
			if (*dst) {
				fail(ld, yline(k), "'%s' given twice", key);
				return;
			}
			*dst = y_string(ld, v, key);
		} else if (!strcmp(key, "synonyms") && !e->synonyms) {
			y_list(ld, doc, v, key, &e->synonyms, &e->nsyn);
		} else if (!strcmp(key, "examples") && !e->examples) {
			y_list(ld, doc, v, key, &e->examples, &e->nex);
		} else if (!strcmp(key, "synonyms") || !strcmp(key, "examples")) {
			fail(ld, yline(k), "'%s' given twice", key);
		} else {
			fail(ld, yline(k), "unknown key '%s' in a taxonomy entry (known: %s)", key,
			     keys_help);
		}
	}
}

/* Refuses what the document API would read at a cost out of proportion to
 * the file, or not at all, before loading: aliases (*name), which the walk
 * of the entries expands every time they are named (a 220 KB file of
 * nested aliases cost 2 GB and 18 s), and a second document, which
 * yaml_parser_load would leave unread. Syntax errors are left to the
 * loader, which names them. Returns 0, or -1 after fail(). */
static int y_refuse(struct loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fail(ld, 0, "cannot start the YAML parser (out of memory?)");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int docs = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev))
			break;
		yaml_event_type_t type = ev.type;
		long line = (long)ev.start_mark.line + 1;
		if (type == YAML_ALIAS_EVENT)
			fail(ld, line, "YAML alias *%s: a taxonomy takes no aliases (anchors & "
			     "and aliases *); write the values out", ev.data.alias.anchor);
		else if (type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			fail(ld, line, "a second YAML document: a taxonomy is one document");
		yaml_event_delete(&ev);
		if (ld->failed || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return ld->failed ? -1 : 0;
}

static void load_yaml(struct loader *ld, const char *text, size_t len)
{
	if (y_refuse(ld, text, len))
		return;
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		fail(ld, 0, "cannot start the YAML parser (out of memory?)");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		fail(ld, (long)parser.problem_mark.line + 1, "YAML: %s%s%s",
		     parser.problem ? parser.problem : "syntax error",
		     parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	const yaml_node_t *list = root;
	if (root && root->type == YAML_MAPPING_NODE) {
		/* {entries: [...]} with other top-level keys (name, version) ignored */
		list = NULL;
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			if (k && k->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)k->data.scalar.value, "entries"))
				list = yaml_document_get_node(&doc, p->value);
		}
		if (!list)
			fail(ld, yline(root), "expected a list of entries, or a mapping with an "
			     "'entries' list");
	}
	if (!ld->failed && (!list || list->type != YAML_SEQUENCE_NODE)) {
		fail(ld, list ? yline(list) : 0, "expected a list of entries (- id: ..., label: ...)");
	}
	if (!ld->failed) {
		for (yaml_node_item_t *it = list->data.sequence.items.start;
		     it < list->data.sequence.items.top && !ld->failed; it++) {
			yaml_node_t *n = yaml_document_get_node(&doc, *it);
			if (n)
				y_entry(ld, &doc, n);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

/* ---- NDJSON ---- */

static char *j_string(struct loader *ld, long line, const char *obj, size_t len,
		      const cJSON *v, const char *key)
{
	if (cJSON_IsNull(v))
		return NULL;
	if (cJSON_IsString(v))
		return trim(xstrdup(v->valuestring));
	if (cJSON_IsNumber(v) && !strcmp(key, "id")) {
		/* numeric ids keep their spelling */
		size_t vs, ve;
		if (record_find(obj, len, key, NULL, NULL, &vs, &ve))
			return xstrndup(obj + vs, ve - vs);
	}
	fail(ld, line, "'%s' must be a string", key);
	return NULL;
}

static void j_list(struct loader *ld, long line, const cJSON *v, const char *key,
		   char ***out, size_t *nout)
{
	if (cJSON_IsNull(v))
		return;
	if (!cJSON_IsArray(v)) {
		fail(ld, line, "'%s' must be an array of strings", key);
		return;
	}
	*out = xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof **out);
	const cJSON *x;
	cJSON_ArrayForEach(x, v) {
		if (!cJSON_IsString(x)) {
			fail(ld, line, "'%s' must be an array of strings", key);
			return;
		}
		char *s = trim(xstrdup(x->valuestring));
		if (*s)
			(*out)[(*nout)++] = s;
		else
			free(s);
	}
}

static void load_ndjson(struct loader *ld, const char *text, size_t len)
{
	long line = 0;
	const char *p = text, *end = text + len;
	while (p < end && !ld->failed) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		line++;
		size_t n = (size_t)(e - p);
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		size_t skip = 0;
		while (skip < n && (p[skip] == ' ' || p[skip] == '\t'))
			skip++;
		if (n > skip) {
			char perr[256];
			cJSON *j = ndjson_parse(p + skip, n - skip, perr, sizeof perr);
			if (!j) {
				fail(ld, line, "%s", perr);
				break;
			}
			struct taxonomy_entry *en = new_entry(ld, line);
			const cJSON *m;
			cJSON_ArrayForEach(m, j) {
				const char *key = m->string;
				if (!strcmp(key, "id"))
					en->id = j_string(ld, line, p + skip, n - skip, m, key);
				else if (!strcmp(key, "label"))
					en->label = j_string(ld, line, p + skip, n - skip, m, key);
				else if (!strcmp(key, "description"))
					en->description = j_string(ld, line, p + skip, n - skip, m, key);
				else if (!strcmp(key, "parent"))
					en->parent = j_string(ld, line, p + skip, n - skip, m, key);
				else if (!strcmp(key, "synonyms"))
					j_list(ld, line, m, key, &en->synonyms, &en->nsyn);
				else if (!strcmp(key, "examples"))
					j_list(ld, line, m, key, &en->examples, &en->nex);
				else
					fail(ld, line, "unknown key '%s' in a taxonomy entry (known: %s)",
					     key, keys_help);
				if (ld->failed)
					break;
			}
			cJSON_Delete(j);
		}
		p = nl ? nl + 1 : end;
	}
}

/* ---- checks and index ---- */

long classify_taxonomy_find(const struct taxonomy *t, const char *id)
{
	return t->ids ? strmap_get(t->ids, id) : -1;
}

static void index_ids(struct loader *ld)
{
	struct taxonomy *t = ld->t;
	t->ids = strmap_new();
	for (size_t k = 0; k < t->n && !ld->failed; k++) {
		struct taxonomy_entry *e = &t->e[k];
		if (!e->id || !*e->id) {
			fail(ld, e->line, "entry without an id (every entry needs id and label)");
			return;
		}
		if (!e->label || !*e->label) {
			fail(ld, e->line, "entry '%s' has an empty label", e->id);
			return;
		}
		long prev = classify_taxonomy_find(t, e->id);
		if (prev >= 0) {
			fail(ld, e->line, "duplicate id '%s' (first at line %ld)", e->id,
			     t->e[prev].line);
			return;
		}
		strmap_put(t->ids, e->id, (long)k);
	}
}

static void link_parents(struct loader *ld)
{
	struct taxonomy *t = ld->t;
	for (size_t k = 0; k < t->n && !ld->failed; k++) {
		struct taxonomy_entry *e = &t->e[k];
		if (!e->parent || !*e->parent)
			continue;
		e->parent_index = classify_taxonomy_find(t, e->parent);
		if (e->parent_index < 0)
			fail(ld, e->line, "parent '%s' of entry '%s' is not in the taxonomy",
			     e->parent, e->id);
	}
	/* each entry is walked once: 0 not seen, 1 on the chain being walked,
	 * 2 known to end; meeting a 1 again closes a loop */
	unsigned char *state = xcalloc(t->n ? t->n : 1, 1);
	for (size_t k = 0; k < t->n && !ld->failed; k++) {
		long p = (long)k;
		while (p >= 0 && state[p] == 0) {
			state[p] = 1;
			p = t->e[p].parent_index;
		}
		if (p >= 0 && state[p] == 1)
			fail(ld, t->e[p].line, "the parents of entry '%s' form a loop", t->e[p].id);
		for (long q = (long)k; q >= 0 && state[q] == 1; q = t->e[q].parent_index)
			state[q] = 2;
	}
	free(state);
}

char *classify_taxonomy_entry_text(const struct taxonomy_entry *e)
{
	struct buf b = {0};
	buf_puts(&b, e->label);
	for (size_t i = 0; i < e->nsyn; i++) {
		buf_puts(&b, "; ");
		buf_puts(&b, e->synonyms[i]);
	}
	if (e->description && *e->description) {
		buf_putc(&b, '\n');
		buf_puts(&b, e->description);
	}
	size_t n;
	return buf_steal(&b, &n);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	if (s)
		h = fnv64(h, s, strlen(s));
	return fnv64(h, "\x1f", 1);
}

static void derive(struct taxonomy *t)
{
	uint64_t h = FNV64_INIT;
	for (size_t k = 0; k < t->n; k++) {
		struct taxonomy_entry *e = &t->e[k];
		e->text = classify_taxonomy_entry_text(e);
		e->text_hash = fnv64(FNV64_INIT, e->text, strlen(e->text));
		h = hash_str(h, e->id);
		h = hash_str(h, e->text);
		h = hash_str(h, e->parent);
		for (size_t i = 0; i < e->nex; i++)
			h = hash_str(h, e->examples[i]);
		h = fnv64(h, "\x1e", 1);
	}
	t->hash = h;
}

void classify_taxonomy_hash_hex(const struct taxonomy *t, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)t->hash);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

struct taxonomy *classify_taxonomy_load(const char *path, char *err, size_t errlen)
{
	struct taxonomy *t = xcalloc(1, sizeof *t);
	t->path = xstrdup(path);
	struct loader ld = {t, 0, err, errlen, 0};
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text) {
		fail(&ld, 0, "cannot read the taxonomy: %s", strerror(errno));
		classify_taxonomy_free(t);
		return NULL;
	}
	int ndjson;
	if (ends_with(path, ".ndjson") || ends_with(path, ".jsonl") || ends_with(path, ".json"))
		ndjson = 1;
	else if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
		ndjson = 0;
	else
		ndjson = text[strspn(text, " \t\r\n")] == '{';
	if (ndjson)
		load_ndjson(&ld, text, len);
	else
		load_yaml(&ld, text, len);
	free(text);
	if (!ld.failed && t->n == 0)
		fail(&ld, 0, "the taxonomy has no entries");
	if (!ld.failed)
		index_ids(&ld);
	if (!ld.failed)
		link_parents(&ld);
	if (ld.failed) {
		classify_taxonomy_free(t);
		return NULL;
	}
	derive(t);
	return t;
}
