/* template: compiles prompt templates into a flat list of pieces and
 * renders them against one record or a list of named values. */
#include "template.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum piece_kind {
	P_TEXT,    /* literal bytes */
	P_FIELD,   /* {{name}} */
	P_SCHEMA,  /* {{schema}} */
	P_IF,      /* {{#name}}: skip to end when the field is empty */
	P_UNLESS,  /* {{^name}}: skip to end when the field is not empty */
	P_END,     /* {{/name}} */
};

struct piece {
	enum piece_kind kind;
	char *s;       /* literal text or field name (owned) */
	size_t len;
	size_t end;    /* P_IF, P_UNLESS: index of the matching P_END */
};

struct tpl {
	struct piece *p;
	size_t n, cap;
	unsigned flags;  /* enum tpl_flags */
};

static struct piece *add(struct tpl *t, enum piece_kind kind, const char *s, size_t len)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->p = xrealloc(t->p, t->cap * sizeof *t->p);
	}
	struct piece *p = &t->p[t->n++];
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->s = xstrndup(s, len);
	p->len = len;
	return p;
}

static void add_text(struct tpl *t, const char *s, size_t len)
{
	if (!len)
		return;
	/* join with a literal just before (after a {{{{ escape) */
	if (t->n && t->p[t->n - 1].kind == P_TEXT) {
		struct piece *p = &t->p[t->n - 1];
		p->s = xrealloc(p->s, p->len + len + 1);
		memcpy(p->s + p->len, s, len);
		p->len += len;
		p->s[p->len] = '\0';
		return;
	}
	add(t, P_TEXT, s, len);
}

void tpl_free(struct tpl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->p[i].s);
	free(t->p);
	free(t);
}

static long line_of(const char *text, const char *at)
{
	long line = 1;
	for (const char *q = text; q < at; q++)
		line += *q == '\n';
	return line;
}

static struct tpl *compile_error(struct tpl *t, char *err, size_t errlen, const char *text,
				 const char *at, const char *what, const char *name)
{
	snprintf(err, errlen, "line %ld: %s%s%s", line_of(text, at), what, name ? name : "",
		 name ? "}}" : "");
	tpl_free(t);
	return NULL;
}

struct tpl *tpl_compile(const char *text, size_t len, unsigned flags, char *err, size_t errlen)
{
	struct tpl *t = xcalloc(1, sizeof *t);
	t->flags = flags;
	int plain = (flags & TPL_PLAIN) != 0;
	size_t *open = NULL, nopen = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *o = memmem(p, (size_t)(end - p), "{{", 2);
		if (!o) {
			add_text(t, p, (size_t)(end - p));
			break;
		}
		add_text(t, p, (size_t)(o - p));
		if (!plain && end - o >= 4 && !memcmp(o, "{{{{", 4)) {
			add_text(t, "{{", 2);
			p = o + 4;
			continue;
		}
		const char *c = memmem(o + 2, (size_t)(end - o - 2), "}}", 2);
		if (plain && !c) {
			add_text(t, o, (size_t)(end - o));
			break;
		}
		const char *nl = memchr(o + 2, '\n', (size_t)(end - o - 2));
		if (!plain && (!c || (nl && nl < c))) {
			free(open);
			return compile_error(t, err, errlen, text, o,
					     "\"{{\" is not closed by \"}}\" on the same line "
					     "(write {{{{ for a literal {{)", NULL);
		}
		const char *s = o + 2, *e = c;
		enum piece_kind kind = P_FIELD;
		if (!plain && s < e && (*s == '#' || *s == '^' || *s == '/')) {
			kind = *s == '#' ? P_IF : *s == '^' ? P_UNLESS : P_END;
			s++;
		}
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (!plain && (s == e || memchr(s, '{', (size_t)(e - s)))) {
			free(open);
			return compile_error(t, err, errlen, text, o,
					     "empty or malformed placeholder (write {{{{ for a literal {{)",
					     NULL);
		}
		if (kind == P_FIELD && e - s == 6 && !memcmp(s, "schema", 6))
			kind = P_SCHEMA;
		if (kind == P_END) {
			struct piece *op = nopen ? &t->p[open[nopen - 1]] : NULL;
			if (!op || op->len != (size_t)(e - s) || memcmp(op->s, s, op->len)) {
				char *name = xstrndup(s, (size_t)(e - s));
				struct buf what = {0};
				if (op)
					buf_printf(&what, "{{#%s}} is closed by {{/", op->s);
				else
					buf_puts(&what, "nothing to close for {{/");
				compile_error(t, err, errlen, text, o, what.p, name);
				buf_free(&what);
				free(name);
				free(open);
				return NULL;
			}
			t->p[open[--nopen]].end = t->n;
		}
		add(t, kind, s, (size_t)(e - s));
		if (kind == P_IF || kind == P_UNLESS) {
			open = xrealloc(open, (nopen + 1) * sizeof *open);
			open[nopen++] = t->n - 1;
		}
		p = c + 2;
	}
	if (nopen) {
		const struct piece *op = &t->p[open[nopen - 1]];
		snprintf(err, errlen, "section {{%c%s}} is never closed (add {{/%s}})",
			 op->kind == P_IF ? '#' : '^', op->s, op->s);
		free(open);
		tpl_free(t);
		return NULL;
	}
	free(open);
	return t;
}

static const char *field_name(const struct piece *p, const struct tpl_vars *v)
{
	if (!strcmp(p->s, "text") && v->text_field)
		return v->text_field;
	return p->s;
}

/* The value given by name: returns 1 and sets *val (NULL reads ""), or 0. */
static int named(const struct tpl_vars *v, const char *name, const char **val)
{
	for (size_t i = 0; i < v->nvalues; i++) {
		if (!strcmp(v->names[i], name)) {
			*val = v->values[i] ? v->values[i] : "";
			return 1;
		}
	}
	return 0;
}

/* Empty for a section: absent, null, false or "". */
static int field_empty(const cJSON *f)
{
	return !f || cJSON_IsNull(f) || cJSON_IsFalse(f) ||
	       (cJSON_IsString(f) && !*f->valuestring);
}

/* TPL_DROP_EMPTY: where the template's current line starts in out,
 * whether it has placeholders and whether one of them was not empty. */
struct line {
	size_t start;
	int any, full;
};

static void line_end(struct buf *out, struct line *l)
{
	if (l->any && !l->full) {
		out->len = l->start;
		if (out->p)
			out->p[out->len] = '\0';
	}
	l->start = out->len;
	l->any = l->full = 0;
}

static void put_lines(struct buf *out, const char *s, size_t len, struct line *l)
{
	const char *nl;
	while ((nl = memchr(s, '\n', len))) {
		size_t n = (size_t)(nl + 1 - s);
		buf_append(out, s, n);
		line_end(out, l);
		s += n;
		len -= n;
	}
	buf_append(out, s, len);
}

int tpl_render(const struct tpl *t, const struct tpl_vars *v, struct buf *out,
	       char *missing, size_t missinglen)
{
	int drop = (t->flags & TPL_DROP_EMPTY) != 0;
	struct line l = {out->len, 0, 0};
	for (size_t i = 0; i < t->n; i++) {
		const struct piece *p = &t->p[i];
		const char *name, *val;
		const cJSON *f;
		size_t vs, ve, before = out->len;
		int empty;
		switch (p->kind) {
		case P_TEXT:
			if (drop)
				put_lines(out, p->s, p->len, &l);
			else
				buf_append(out, p->s, p->len);
			break;
		case P_SCHEMA:
			if (v->schema)
				buf_puts(out, v->schema);
			break;
		case P_FIELD:
			if (named(v, p->s, &val)) {
				buf_puts(out, val);
				break;
			}
			if (!v->json)
				break;
			name = field_name(p, v);
			f = cJSON_GetObjectItemCaseSensitive(v->json, name);
			if (!f) {
				snprintf(missing, missinglen, "%s", name);
				return -1;
			}
			if (cJSON_IsString(f))
				buf_puts(out, f->valuestring);
			else if (v->line && record_find(v->line, v->len, name, NULL, NULL, &vs, &ve))
				buf_append(out, v->line + vs, ve - vs);
			else {
				char *txt = cJSON_PrintUnformatted(f);
				buf_puts(out, txt ? txt : "");
				cJSON_free(txt);
			}
			break;
		case P_IF:
		case P_UNLESS:
			if (named(v, p->s, &val))
				empty = !*val;
			else
				empty = field_empty(cJSON_GetObjectItemCaseSensitive(v->json,
										 field_name(p, v)));
			if (empty == (p->kind == P_IF))
				i = p->end;
			break;
		case P_END:
			break;
		}
		if (p->kind == P_FIELD || p->kind == P_SCHEMA) {
			l.any = 1;
			l.full |= out->len > before;
		}
	}
	if (drop)
		line_end(out, &l);
	if (!out->p)
		buf_puts(out, "");
	return 0;
}

int tpl_uses(const struct tpl *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if ((t->p[i].kind == P_FIELD || t->p[i].kind == P_SCHEMA) && !strcmp(t->p[i].s, name))
			return 1;
	return 0;
}

const char *tpl_unknown(const struct tpl *t, const char *const *known, size_t n)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct piece *p = &t->p[i];
		if (p->kind == P_TEXT || p->kind == P_END)
			continue;
		size_t k = 0;
		while (k < n && strcmp(known[k], p->s))
			k++;
		if (k == n)
			return p->s;
	}
	return NULL;
}

void tpl_fields(const struct tpl *t, const char *text_field, struct buf *out)
{
	struct buf seen = {0};
	buf_putc(&seen, '\n');
	for (size_t i = 0; i < t->n; i++) {
		const struct piece *p = &t->p[i];
		if (p->kind != P_FIELD && p->kind != P_IF && p->kind != P_UNLESS)
			continue;
		const char *name = !strcmp(p->s, "text") && text_field ? text_field : p->s;
		struct buf key = {0};
		buf_printf(&key, "\n%s\n", name);
		if (!strstr(seen.p, key.p)) {
			buf_printf(out, "%s%s", out->len ? "," : "", name);
			buf_printf(&seen, "%s\n", name);
		}
		buf_free(&key);
	}
	buf_free(&seen);
}
