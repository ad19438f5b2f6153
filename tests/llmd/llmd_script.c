/* llmd_script.c: scripted replies. A table in the style of the case
 * tables (tests/cases/), read with --script FILE or POST
 * /_double/script, says which requests get a fixed answer instead of the
 * computed one: a status, headers, a body (repeated, gzip-encoded, sent in
 * chunks with pauses, followed by silence or a cut), or a dropped
 * connection. The first entry that matches a request and has uses left
 * answers it; requests no entry matches get the double's own answers.
 * See README.md "Scripted replies". */
#include "llmd.h"
#include "log.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum after { AFTER_END, AFTER_SILENT, AFTER_CUT };

struct reply {
	char *name;
	char *method, *path;     /* path ending in '*': a prefix */
	char **if_body, **unless_body;
	size_t n_if, n_unless;
	long times;              /* uses allowed, -1 = any */
	long used;
	int status;
	struct buf headers;      /* "Name: value\r\n" lines */
	char *ctype;
	struct buf body;
	long long repeat;        /* the body sent this many times */
	int gzip;
	double delay_ms, gap_ms; /* gap_ms >= 0: chunked, one line per chunk */
	enum after after;
	int drop;
	struct buf gz;           /* the gzip-encoded body, made at first use */
};

struct table {
	struct reply *r;
	size_t n;
	struct table *retired;   /* replaced tables stay: requests may use them */
};

static struct lock *script_lock;
static struct table *current;

static void reply_init(struct reply *r, const char *name)
{
	memset(r, 0, sizeof *r);
	r->name = xstrdup(name);
	r->times = -1;
	r->status = 200;
	r->repeat = 1;
	r->gap_ms = -1;
}

static void push(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = xstrdup(s);
}

static void trim_body(struct reply *r)
{
	while (r->body.len && r->body.p[r->body.len - 1] == '\n')
		r->body.p[--r->body.len] = '\0';
}

/* Applies one "--- key value" line to r. Returns 0, or -1 with err. */
static int directive(struct reply *r, const char *key, const char *val, struct buf *err)
{
	long n;
	double d;
	if (!strcmp(key, "when")) {
		const char *sp = strchr(val, ' ');
		if (!sp || !sp[1]) {
			buf_puts(err, "--- when needs METHOD PATH");
			return -1;
		}
		free(r->method);
		free(r->path);
		r->method = xstrndup(val, (size_t)(sp - val));
		r->path = xstrdup(sp + 1);
	} else if (!strcmp(key, "if-body")) {
		push(&r->if_body, &r->n_if, val);
	} else if (!strcmp(key, "unless-body")) {
		push(&r->unless_body, &r->n_unless, val);
	} else if (!strcmp(key, "times") && !parse_long(val, 0, 1000000000L, &n)) {
		r->times = n;
	} else if (!strcmp(key, "status") && !parse_long(val, 100, 599, &n)) {
		r->status = (int)n;
	} else if (!strcmp(key, "header") && strchr(val, ':')) {
		buf_printf(&r->headers, "%s\r\n", val);
	} else if (!strcmp(key, "content-type") && *val) {
		free(r->ctype);
		r->ctype = xstrdup(val);
	} else if (!strcmp(key, "repeat") && !parse_long(val, 1, 1L << 40, &n)) {
		r->repeat = n;
	} else if (!strcmp(key, "gzip") && !*val) {
		r->gzip = 1;
	} else if (!strcmp(key, "delay-ms") && !parse_double(val, &d) && d >= 0) {
		r->delay_ms = d;
	} else if (!strcmp(key, "stream") && !parse_double(val, &d) && d >= 0) {
		r->gap_ms = d;
	} else if (!strcmp(key, "then") && !strcmp(val, "silent")) {
		r->after = AFTER_SILENT;
	} else if (!strcmp(key, "then") && !strcmp(val, "cut")) {
		r->after = AFTER_CUT;
	} else if (!strcmp(key, "drop") && !*val) {
		r->drop = 1;
	} else {
		buf_printf(err, "bad line '--- %s%s%s'", key, *val ? " " : "", val);
		return -1;
	}
	return 0;
}

static void reply_free(struct reply *r)
{
	free(r->name);
	free(r->method);
	free(r->path);
	for (size_t i = 0; i < r->n_if; i++)
		free(r->if_body[i]);
	for (size_t i = 0; i < r->n_unless; i++)
		free(r->unless_body[i]);
	free(r->if_body);
	free(r->unless_body);
	free(r->ctype);
	buf_free(&r->headers);
	buf_free(&r->body);
	buf_free(&r->gz);
}

static void table_free(struct table *t)
{
	while (t) {
		struct table *next = t->retired;
		for (size_t i = 0; i < t->n; i++)
			reply_free(&t->r[i]);
		free(t->r);
		free(t);
		t = next;
	}
}

/* Parses a table; NULL with err on a bad line (its number says where). */
static struct table *parse(const char *text, size_t len, struct buf *err)
{
	struct table *t = xcalloc(1, sizeof *t);
	struct reply *cur = NULL;
	int in_body = 0;
	long lineno = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, n);
		p = nl ? nl + 1 : end;
		lineno++;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		int bad = 0;
		if (!strncmp(line, "=== ", 4)) {
			if (cur)
				trim_body(cur);
			t->r = xrealloc(t->r, (t->n + 1) * sizeof *t->r);
			cur = &t->r[t->n++];
			reply_init(cur, line + 4);
			in_body = 0;
		} else if (!strncmp(line, "--- ", 4) && cur) {
			char *key = line + 4;
			char *val = key + strcspn(key, " ");
			if (*val)
				*val++ = '\0';
			in_body = !strcmp(key, "body");
			if (in_body && *val) {
				buf_puts(err, "--- body takes no value: the body is on the lines after it");
				bad = 1;
			} else if (!in_body && directive(cur, key, val, err)) {
				bad = 1;
			}
		} else if (in_body) {
			buf_printf(&cur->body, "%s\n", line);
		} else if (n && line[0] != '#') {
			buf_puts(err, cur ? "a line outside --- body" : "a line before the first ===");
			bad = 1;
		}
		free(line);
		if (bad) {
			char *m = xasprintf("line %ld: %s", lineno, err->p);
			buf_reset(err);
			buf_puts(err, m);
			free(m);
			table_free(t);
			return NULL;
		}
	}
	if (cur)
		trim_body(cur);
	for (size_t i = 0; i < t->n; i++) {
		if (!t->r[i].method) {
			buf_printf(err, "reply '%s' has no --- when METHOD PATH", t->r[i].name);
			table_free(t);
			return NULL;
		}
		if (!t->r[i].body.p)
			buf_puts(&t->r[i].body, "");
	}
	return t;
}

int script_load(const char *text, size_t len, struct buf *err)
{
	struct table *t = parse(text, len, err);
	if (!t)
		return -1;
	if (!script_lock)
		script_lock = lock_new();
	lock_take(script_lock);
	t->retired = current;
	current = t;
	lock_give(script_lock);
	return 0;
}

void script_json(struct buf *out)
{
	buf_puts(out, "{\"replies\":[");
	if (script_lock)
		lock_take(script_lock);
	for (size_t i = 0; current && i < current->n; i++) {
		const struct reply *r = &current->r[i];
		buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		buf_json_str(out, r->name, strlen(r->name));
		buf_printf(out, ",\"used\":%ld,\"times\":%ld}", r->used, r->times);
	}
	if (script_lock)
		lock_give(script_lock);
	buf_puts(out, "]}\n");
}

void script_free(void)
{
	table_free(current);
	current = NULL;
	lock_free(script_lock);
	script_lock = NULL;
}

static int matches(const struct reply *r, const struct req *q)
{
	if (strcmp(r->method, "*") && strcmp(r->method, q->method))
		return 0;
	size_t pl = strlen(r->path);
	if (pl && r->path[pl - 1] == '*') {
		if (strncmp(q->path, r->path, pl - 1))
			return 0;
	} else if (strcmp(q->path, r->path)) {
		return 0;
	}
	const char *body = q->body ? q->body : "";
	for (size_t i = 0; i < r->n_if; i++)
		if (!memmem(body, q->body_len, r->if_body[i], strlen(r->if_body[i])))
			return 0;
	for (size_t i = 0; i < r->n_unless; i++)
		if (memmem(body, q->body_len, r->unless_body[i], strlen(r->unless_body[i])))
			return 0;
	return 1;
}

static void deflate_all(z_stream *z, const char *p, size_t n, int flush, struct buf *out)
{
	unsigned char chunk[65536];
	z->next_in = (unsigned char *)p;
	z->avail_in = (unsigned)n;
	int rc;
	do {
		z->next_out = chunk;
		z->avail_out = sizeof chunk;
		rc = deflate(z, flush);
		buf_append(out, chunk, sizeof chunk - z->avail_out);
	} while (flush == Z_FINISH ? rc != Z_STREAM_END && rc != Z_STREAM_ERROR : z->avail_out == 0);
}

/* The gzip stream of the body repeated r->repeat times, made once and
 * deflated piece by piece, so that a bomb never exists decoded here. */
static void make_gzip(struct reply *r)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		log_fatal("deflateInit2 failed");
	/* the body repeated up to about 64 KiB per call */
	long long per = r->body.len ? 65536 / (long long)r->body.len : 1;
	if (per < 1)
		per = 1;
	if (per > r->repeat)
		per = r->repeat;
	struct buf unit = {0};
	for (long long k = 0; k < per; k++)
		buf_append(&unit, r->body.p, r->body.len);
	long long left = r->repeat;
	for (; left >= per; left -= per)
		deflate_all(&z, unit.p, unit.len, Z_NO_FLUSH, &r->gz);
	deflate_all(&z, unit.p, (size_t)left * r->body.len, Z_FINISH, &r->gz);
	deflateEnd(&z);
	buf_free(&unit);
}

/* Sends the answer of r. */
static void answer(struct conn *c, struct reply *r)
{
	if (r->delay_ms > 0 && state_sleep(r->delay_ms)) {
		http_abort(c);
		return;
	}
	if (r->drop) {
		http_abort(c);
		return;
	}
	struct buf extra = {0};
	buf_append(&extra, r->headers.p ? r->headers.p : "", r->headers.len);
	const char *ctype = r->ctype ? r->ctype : "application/json";
	if (r->gzip) {
		lock_take(script_lock);
		if (!r->gz.len)
			make_gzip(r);
		lock_give(script_lock);
		buf_puts(&extra, "Content-Encoding: gzip\r\n");
		http_respond(c, r->status, ctype, extra.p, r->gz.p, r->gz.len);
	} else if (r->gap_ms >= 0) {
		/* one line per chunk, gap_ms apart */
		http_stream_begin(c, r->status, ctype, extra.p);
		for (long long k = 0; k < r->repeat && !http_broken(c); k++) {
			const char *p = r->body.p, *end = r->body.p + r->body.len;
			while (p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
				if (k || p != r->body.p) {
					if (state_sleep(r->gap_ms)) {
						http_abort(c);
						break;
					}
				}
				http_stream_chunk(c, p, n);
				if (!nl)
					http_stream_chunk(c, "\n", 1);
				p += n;
			}
		}
		if (r->after == AFTER_END)
			http_stream_end(c);
	} else {
		/* the whole length announced; cut: only the first half sent */
		long long total = (long long)r->body.len * r->repeat;
		long long left = r->after == AFTER_CUT ? total / 2 : total;
		http_begin(c, r->status, ctype, extra.p, total);
		for (long long k = 0; k < r->repeat && left > 0 && !http_broken(c); k++) {
			size_t n = (long long)r->body.len < left ? r->body.len : (size_t)left;
			http_send(c, r->body.p, n);
			left -= (long long)n;
		}
	}
	if (r->after == AFTER_SILENT)
		http_linger(c);
	else if (r->after == AFTER_CUT)
		http_abort(c);
	buf_free(&extra);
}

int script_answer(struct conn *c, struct req *q)
{
	if (!script_lock)
		return 0;
	struct reply *hit = NULL;
	lock_take(script_lock);
	for (size_t i = 0; current && i < current->n && !hit; i++) {
		struct reply *r = &current->r[i];
		if ((r->times < 0 || r->used < r->times) && matches(r, q)) {
			r->used++;
			hit = r;
		}
	}
	lock_give(script_lock);
	if (!hit)
		return 0;
	stats_scripted(hit->name);
	api_count_model_request(q);
	answer(c, hit);
	return 1;
}
