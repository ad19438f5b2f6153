/* tunables: typed settings with their source, from defaults, a YAML file
 * (libyaml events, so errors can name the line), the environment and flags. */
#include "tunables.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

struct tun_val {
	char *text; /* normalised value as text */
	long i;
	double d;
	enum tun_source src;
	char *origin; /* "file:line", "LANES_X", "--flag" */
};

struct tunables {
	const char *const *sections;
	struct tun_val *v; /* parallel to tun_schema */
};

static int find_def(const char *section, size_t seclen, const char *key)
{
	for (size_t i = 0; i < tun_schema_len; i++)
		if (strlen(tun_schema[i].section) == seclen &&
		    !strncmp(tun_schema[i].section, section, seclen) &&
		    !strcmp(tun_schema[i].key, key))
			return (int)i;
	return -1;
}

static int find_name(const char *name)
{
	const char *dot = strchr(name, '.');
	if (!dot)
		return -1;
	return find_def(name, (size_t)(dot - name), dot + 1);
}

/* The index of the first tunable of section s, or -1 when s is unknown. */
static int section_first(const char *s)
{
	for (size_t i = 0; i < tun_schema_len; i++)
		if (!strcmp(tun_schema[i].section, s))
			return (int)i;
	return -1;
}

/* 1 when LANES_<rest> names a known section: rest is "SECTION_..." in
 * upper case. */
static int env_has_section(const char *rest)
{
	for (size_t i = 0; i < tun_schema_len; i++) {
		const char *sec = tun_schema[i].section;
		size_t n = strlen(sec);
		if (!strncasecmp(rest, sec, n) && rest[n] == '_')
			return 1;
	}
	return 0;
}

static int choice_ok(const char *choices, const char *s)
{
	size_t n = strlen(s);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !strncmp(p, s, n))
			return 1;
		p += len + (bar ? 1 : 0);
	}
	return 0;
}

static const char *type_name(const struct tun_def *d)
{
	switch (d->type) {
	case TUN_INT: return d->auto_ok ? "an integer or auto" : "an integer";
	case TUN_FLOAT: return "a number";
	case TUN_ENUM: return d->choices;
	default: return "a string";
	}
}

/* Checks and stores text into slot k. */
static int assign(struct tunables *t, int k, const char *text,
		  enum tun_source src, const char *origin, char *err,
		  size_t errlen)
{
	const struct tun_def *d = &tun_schema[k];
	struct tun_val nv = {0};
	nv.src = src;
	if (d->type == TUN_INT) {
		long v;
		if (d->auto_ok && !strcmp(text, "auto"))
			v = 0;
		else if (parse_long(text, (long)d->min, (long)d->max, &v)) {
			snprintf(err, errlen, "%s.%s: '%s' is not %s in [%.0f, %.0f]",
				 d->section, d->key, text, type_name(d), d->min, d->max);
			return -1;
		}
		nv.i = v;
		nv.d = (double)v;
	} else if (d->type == TUN_FLOAT) {
		double v;
		if (parse_double(text, &v) || v < d->min || v > d->max) {
			snprintf(err, errlen, "%s.%s: '%s' is not a number in [%g, %g]",
				 d->section, d->key, text, d->min, d->max);
			return -1;
		}
		nv.d = v;
	} else if (d->type == TUN_ENUM) {
		if (!choice_ok(d->choices, text)) {
			snprintf(err, errlen, "%s.%s: '%s' is not one of %s",
				 d->section, d->key, text, d->choices);
			return -1;
		}
	}
	struct tun_val *v = &t->v[k];
	free(v->text);
	free(v->origin);
	*v = nv;
	v->text = xstrdup(text);
	v->origin = origin ? xstrdup(origin) : NULL;
	return 0;
}

struct tunables *tun_new(const char *const *sections)
{
	struct tunables *t = xcalloc(1, sizeof *t);
	t->sections = sections;
	t->v = xcalloc(tun_schema_len, sizeof *t->v);
	char err[256];
	for (size_t i = 0; i < tun_schema_len; i++)
		if (assign(t, (int)i, tun_schema[i].def, TUN_SRC_DEFAULT, NULL,
			   err, sizeof err))
			log_internal("built-in default: %s", err);
	return t;
}

void tun_free(struct tunables *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < tun_schema_len; i++) {
		free(t->v[i].text);
		free(t->v[i].origin);
	}
	free(t->v);
	free(t);
}

int tun_set(struct tunables *t, const char *name, const char *value,
	    enum tun_source src, const char *origin, char *err, size_t errlen)
{
	int k = find_name(name);
	if (k < 0) {
		snprintf(err, errlen, "unknown setting '%s'", name);
		return -1;
	}
	if (t->v[k].src > src)
		return 0;
	return assign(t, k, value, src, origin, err, errlen);
}

/* Keys whose value may be a YAML list: the endpoint lists. */
static int list_key(const char *key)
{
	return !strcmp(key, "endpoints") || !strcmp(key, "embed_endpoints");
}

/* A piece of an endpoint entry: no blank and no comma, which separate
 * entries and options in the text form. */
static int piece_ok(const char *s)
{
	return *s && !s[strcspn(s, " \t\r\n,")];
}

/* Reads an endpoint list after its SEQUENCE_START: each item a URL or a
 * mapping {url, backend, model, capacity, weight, api_key_file}, stored in the text form
 * "URL[,key=value]..." one entry per line. */
static int read_list(yaml_parser_t *p, struct tunables *t, const char *section, const char *key,
		     const char *path, size_t line, char *err, size_t errlen)
{
	struct buf out = {0}, item = {0};
	char *url = NULL, *ikey = NULL;
	int rc = 0, in_map = 0, done = 0;
	size_t item_line = line;
	while (!done && rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(p, &ev)) {
			snprintf(err, errlen, "%s:%zu: YAML error: %s", path,
				 p->problem_mark.line + 1, p->problem ? p->problem : "?");
			rc = -1;
			break;
		}
		size_t at = ev.start_mark.line + 1;
		const char *v = ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : "";
		switch (ev.type) {
		case YAML_SEQUENCE_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			if (in_map) {
				snprintf(err, errlen, "%s:%zu: %s.%s: an endpoint's settings are plain "
					 "values", path, at, section, key);
				rc = -1;
			}
			in_map = 1;
			item_line = at;
			break;
		case YAML_MAPPING_END_EVENT:
			if (!url) {
				snprintf(err, errlen, "%s:%zu: %s.%s: an endpoint needs a url", path,
					 item_line, section, key);
				rc = -1;
				break;
			}
			buf_printf(&out, "%s%s%s\n", url, item.len ? "," : "", item.len ? item.p : "");
			free(url);
			url = NULL;
			item.len = 0;
			if (item.p)
				item.p[0] = '\0';
			in_map = 0;
			break;
		case YAML_SCALAR_EVENT:
			if (!piece_ok(v)) {
				snprintf(err, errlen, "%s:%zu: %s.%s: '%s' is empty or holds a blank "
					 "or a comma", path, at, section, key, v);
				rc = -1;
			} else if (!in_map) {
				buf_printf(&out, "%s\n", v);
			} else if (!ikey) {
				static const char *known[] = {"url", "backend", "model", "capacity",
							      "weight", "api_key_file"};
				int ok = 0;
				for (size_t i = 0; i < sizeof known / sizeof *known; i++)
					ok |= !strcmp(v, known[i]);
				if (!ok) {
					snprintf(err, errlen, "%s:%zu: %s.%s: unknown endpoint setting '%s' "
						 "(url, backend, model, capacity, weight, api_key_file)", path, at,
						 section, key, v);
					rc = -1;
				} else
					ikey = xstrdup(v);
			} else {
				if (!strcmp(ikey, "url")) {
					free(url);
					url = xstrdup(v);
				} else
					buf_printf(&item, "%s%s=%s", item.len ? "," : "", ikey, v);
				free(ikey);
				ikey = NULL;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen, "%s:%zu: %s.%s: an endpoint is a URL or a mapping of "
				 "url, backend, model, capacity, weight, api_key_file", path, at, section, key);
			rc = -1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (rc == 0) {
		int k = find_def(section, strlen(section), key);
		char origin[512], msg[256];
		snprintf(origin, sizeof origin, "%s:%zu", path, line);
		if (t->v[k].src <= TUN_SRC_FILE &&
		    assign(t, k, out.p ? out.p : "", TUN_SRC_FILE, origin, msg, sizeof msg)) {
			snprintf(err, errlen, "%s:%zu: %s", path, line, msg);
			rc = -1;
		}
	}
	free(url);
	free(ikey);
	buf_free(&out);
	buf_free(&item);
	return rc;
}

/* A tunables file being read: where the reader is (depth 0: stream or
 * document; 1: the top mapping of sections; 2: a section's mapping of
 * key: value) and the line each key and each section was first given on
 * (0: not yet), since a second one is an error, not a silent override. */
struct yreader {
	struct tunables *t;
	yaml_parser_t p;
	const char *path;
	int depth, docs;
	char *section, *key;
	size_t *key_line, *sec_line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int yfail(struct yreader *r, size_t line, const char *fmt, ...)
{
	int n = snprintf(r->err, r->errlen, "%s:%zu: ", r->path, line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < r->errlen)
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A section's name at the top. */
static int ysection(struct yreader *r, const char *s, size_t line)
{
	int first = section_first(s);
	if (first < 0)
		return yfail(r, line, "unknown section '%s'", s);
	if (r->sec_line[first])
		return yfail(r, line, "section '%s' given twice (first at line %zu)", s,
			     r->sec_line[first]);
	r->sec_line[first] = line;
	r->section = xstrdup(s);
	return 0;
}

/* A key of the section. */
static int ykey(struct yreader *r, const char *s, size_t line)
{
	int k = find_def(r->section, strlen(r->section), s);
	if (k >= 0 && r->key_line[k])
		return yfail(r, line, "'%s.%s' given twice (first at line %zu)", r->section, s,
			     r->key_line[k]);
	if (k < 0) {
		/* only the name: a mistyped line may hold a secret after it
		 * ("api_key sk-...: x") */
		int n = (int)strspn(s, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		return yfail(r, line, "unknown key '%s.%.*s'%s", r->section, n, s,
			     s[n] ? " (followed by more, not shown)" : "");
	}
	r->key_line[k] = line;
	r->key = xstrdup(s);
	return 0;
}

/* The value of the key. */
static int yvalue(struct yreader *r, const char *s, size_t line)
{
	int k = find_def(r->section, strlen(r->section), r->key);
	char origin[512], msg[256];
	snprintf(origin, sizeof origin, "%s:%zu", r->path, line);
	free(r->key);
	r->key = NULL;
	if (r->t->v[k].src <= TUN_SRC_FILE &&
	    assign(r->t, k, s, TUN_SRC_FILE, origin, msg, sizeof msg))
		return yfail(r, line, "%s", msg);
	return 0;
}

static int yscalar(struct yreader *r, const char *s, size_t line)
{
	if (r->depth == 1 && !r->section)
		return ysection(r, s, line);
	if (r->depth == 1) {
		/* "section:" with an empty value */
		int rc = *s ? yfail(r, line, "section '%s' must be a mapping of settings",
				    r->section) : 0;
		free(r->section);
		r->section = NULL;
		return rc;
	}
	if (r->depth == 2)
		return r->key ? yvalue(r, s, line) : ykey(r, s, line);
	return yfail(r, line, "expected sections (segment:, mine:, ...) at the top");
}

/* One event of the file; sets *done at its end. */
static int yevent(struct yreader *r, const yaml_event_t *ev, int *done)
{
	size_t line = ev->start_mark.line + 1;
	const char *sec = r->section ? r->section : "", *dot = r->key ? "." : "",
		   *key = r->key ? r->key : "";
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		*done = 1;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++r->docs > 1)
			return yfail(r, line, "a second YAML document (---): a tunables file is one "
				     "document");
		return 0;
	case YAML_MAPPING_START_EVENT:
		if (r->depth == 0 || (r->depth == 1 && r->section)) {
			r->depth++;
			return 0;
		}
		return yfail(r, line, "%s%s%s: expected a plain value, not a mapping", sec, dot, key);
	case YAML_MAPPING_END_EVENT:
		if (r->depth == 2) {
			free(r->section);
			r->section = NULL;
		}
		r->depth--;
		return 0;
	case YAML_SEQUENCE_START_EVENT: {
		if (r->depth != 2 || !r->key || !list_key(r->key))
			return yfail(r, line, "%s%s%s: lists are not settings",
				     r->section ? r->section : "(top)", dot, key);
		int rc = read_list(&r->p, r->t, r->section, r->key, r->path, line, r->err, r->errlen);
		free(r->key);
		r->key = NULL;
		return rc;
	}
	case YAML_ALIAS_EVENT:
		return yfail(r, line, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return yscalar(r, (const char *)ev->data.scalar.value, line);
	default:
		return 0;
	}
}

int tun_load_file(struct tunables *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read tunables: %s", path, strerror(errno));
		return -1;
	}
	struct yreader r = {.t = t, .path = path, .err = err, .errlen = errlen};
	r.key_line = xcalloc(tun_schema_len, sizeof *r.key_line);
	r.sec_line = xcalloc(tun_schema_len, sizeof *r.sec_line);
	yaml_parser_initialize(&r.p);
	yaml_parser_set_input_file(&r.p, f);
	int rc = 0, done = 0;
	while (!done && rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&r.p, &ev)) {
			rc = yfail(&r, r.p.problem_mark.line + 1, "YAML error: %s",
				   r.p.problem ? r.p.problem : "?");
			break;
		}
		rc = yevent(&r, &ev, &done);
		yaml_event_delete(&ev);
	}
	free(r.section);
	free(r.key);
	free(r.key_line);
	free(r.sec_line);
	yaml_parser_delete(&r.p);
	fclose(f);
	return rc;
}

/* OLLAMA_HOST may be host:port, http://host:port or :port. */
static char *ollama_url(const char *h)
{
	if (!strncmp(h, "http://", 7) || !strncmp(h, "https://", 8))
		return xstrdup(h);
	if (h[0] == ':')
		return xasprintf("http://127.0.0.1%s", h);
	if (!strchr(h, ':'))
		return xasprintf("http://%s:11434", h);
	return xasprintf("http://%s", h);
}

int tun_load_env(struct tunables *t, char *err, size_t errlen)
{
	/* the ecosystem's names first, LANES_* after so that they win */
	const char *v;
	if ((v = getenv("OLLAMA_HOST")) && *v) {
		char *url = ollama_url(v);
		int rc = tun_set(t, "llm.base_url", url, TUN_SRC_ENV, "OLLAMA_HOST", err, errlen);
		free(url);
		if (rc)
			return -1;
	}
	if ((v = getenv("OPENAI_BASE_URL")) && *v &&
	    tun_set(t, "llm.base_url", v, TUN_SRC_ENV, "OPENAI_BASE_URL", err, errlen))
		return -1;
	if ((v = getenv("OPENAI_API_KEY")) && *v &&
	    tun_set(t, "llm.api_key", v, TUN_SRC_ENV, "OPENAI_API_KEY", err, errlen))
		return -1;
	for (size_t i = 0; i < tun_schema_len; i++) {
		char name[128];
		snprintf(name, sizeof name, "LANES_%s_%s", tun_schema[i].section, tun_schema[i].key);
		for (char *c = name; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		if (!(v = getenv(name)))
			continue;
		char msg[256];
		if (assign(t, (int)i, v, TUN_SRC_ENV, name, msg, sizeof msg)) {
			snprintf(err, errlen, "%s: %s", name, msg);
			return -1;
		}
	}
	/* LANES_<SECTION>_<KEY> for a key that does not exist: a typo, found
	 * as an unknown key of the file is (other LANES_ names belong to the
	 * scripts and are left alone) */
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "LANES_", 6) || !env_has_section(*e + 6))
			continue;
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), *e);
		for (char *c = name + 6; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		/* section_key -> section.key at the first '_' after a section */
		int known = 0;
		for (size_t i = 0; i < tun_schema_len && !known; i++) {
			const char *sec = tun_schema[i].section;
			size_t sl = strlen(sec);
			known = !strncmp(name + 6, sec, sl) && name[6 + sl] == '_' &&
				!strcmp(name + 7 + sl, tun_schema[i].key);
		}
		if (!known) {
			for (char *c = name + 6; *c; c++)
				*c = (char)toupper((unsigned char)*c);
			snprintf(err, errlen, "%s: unknown setting (no such key in its section; see "
				 "tunables(5) or --print-config); unset it or fix the name", name);
			return -1;
		}
	}
	return 0;
}

static int must_find(const char *name)
{
	int k = find_name(name);
	if (k < 0) {
		log_error("internal error: undeclared tunable '%s'", name);
		abort();
	}
	return k;
}

long tun_int(const struct tunables *t, const char *name)
{
	return t->v[must_find(name)].i;
}

double tun_float(const struct tunables *t, const char *name)
{
	return t->v[must_find(name)].d;
}

const char *tun_str(const struct tunables *t, const char *name)
{
	return t->v[must_find(name)].text;
}

enum tun_source tun_source_of(const struct tunables *t, const char *name)
{
	return t->v[must_find(name)].src;
}

int tun_is_set(const struct tunables *t, const char *name)
{
	int k = must_find(name);
	const struct tun_val *v = &t->v[k];
	return v->src >= TUN_SRC_ENV || (v->src == TUN_SRC_FILE && strcmp(v->text, tun_schema[k].def));
}

static int yaml_plain_ok(const char *s)
{
	if (!*s)
		return 0;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._/-+", *c))
			return 0;
	return 1;
}

/* redact_url on each blank-separated word of text. */
static char *redact_urls(const char *text)
{
	struct buf b = {0};
	const char *p = text;
	buf_puts(&b, "");
	while (*p) {
		size_t sp = strspn(p, " \t\r\n");
		buf_append(&b, p, sp);
		p += sp;
		size_t w = strcspn(p, " \t\r\n");
		if (!w)
			break;
		char *word = xstrndup(p, w);
		char *r = redact_url(word);
		buf_puts(&b, r);
		free(r);
		free(word);
		p += w;
	}
	return b.p ? b.p : xstrdup("");
}

void tun_print(const struct tunables *t, FILE *f)
{
	static const char *src_name[] = {"default", "file", "env", "flag"};
	for (const char *const *s = t->sections; s && *s; s++) {
		fprintf(f, "%s:\n", *s);
		for (size_t i = 0; i < tun_schema_len; i++) {
			const struct tun_def *d = &tun_schema[i];
			if (strcmp(d->section, *s))
				continue;
			const struct tun_val *v = &t->v[i];
			const char *text = v->text;
			/* a password in a URL is as secret as a key (in every
			 * URL of an endpoint list) */
			char *shown = redact_urls(text);
			text = shown;
			if (d->type == TUN_SECRET && *text)
				text = "<redacted>";
			struct buf b = {0};
			if (yaml_plain_ok(text) || text[0] == '<')
				buf_puts(&b, text);
			else
				buf_json_str(&b, text, strlen(text));
			fprintf(f, "  %s: %s  # %s%s%s\n", d->key, b.p, src_name[v->src],
				v->origin ? " " : "", v->origin ? v->origin : "");
			buf_free(&b);
			free(shown);
		}
	}
}
