/* ndjson: line reader over read(2) with its own buffer, and a buffered
 * whole-line writer. */
#include "ndjson.h"
#include "app.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

struct ndjson_reader {
	int fd;
	const char *name;
	size_t max_line;
	atomic_int *stop;
	char *buf;      /* unread bytes are buf[pos..fill) */
	size_t pos, fill, cap;
	long lineno;
	int eof;
};

struct ndjson_reader *ndjson_open(int fd, const char *name, size_t max_line,
				  atomic_int *stop)
{
	struct ndjson_reader *r = xcalloc(1, sizeof *r);
	r->fd = fd;
	r->name = name;
	r->max_line = max_line ? max_line : (size_t)-1;
	r->stop = stop;
	r->cap = READ_CHUNK;
	r->buf = xmalloc(r->cap);
	return r;
}

void ndjson_close(struct ndjson_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* Reads more bytes after compacting; returns bytes read, 0 at EOF, -1 on
 * error, -2 when a stop was requested. */
static ssize_t fill_more(struct ndjson_reader *r)
{
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
		r->fill -= r->pos;
		r->pos = 0;
	}
	if (r->cap - r->fill < READ_CHUNK / 2) {
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap);
	}
	for (;;) {
		if (r->stop && *r->stop)
			return -2;
		ssize_t n = read(r->fd, r->buf + r->fill, r->cap - r->fill);
		if (n >= 0) {
			r->fill += (size_t)n;
			return n;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

enum ndjson_status ndjson_read(struct ndjson_reader *r, char **text,
			       size_t *len, long *lineno)
{
	for (;;) {
		if (r->stop && *r->stop)
			return NDJSON_EOF;
		size_t scanned = 0; /* bytes of the current line already looked at */
		size_t skipped = 0; /* bytes dropped from an over-long line */
		char *nl = NULL;
		for (;;) {
			size_t avail = r->fill - r->pos;
			nl = scanned < avail ? memchr(r->buf + r->pos + scanned, '\n', avail - scanned) : NULL;
			if (nl)
				break;
			scanned = avail;
			if (skipped + scanned > r->max_line) {
				/* drop what we have; keep scanning for the end */
				skipped += scanned;
				r->pos = r->fill;
				scanned = 0;
			}
			if (r->eof)
				break;
			ssize_t n = fill_more(r);
			if (n == -2)
				return NDJSON_EOF;
			if (n < 0)
				return NDJSON_ERROR;
			if (n == 0)
				r->eof = 1;
		}
		size_t linelen = nl ? (size_t)(nl - (r->buf + r->pos)) : r->fill - r->pos;
		if (!nl && linelen == 0 && skipped == 0)
			return NDJSON_EOF;
		char *start = r->buf + r->pos;
		r->pos += linelen + (nl ? 1 : 0);
		r->lineno++;
		if (skipped + linelen > r->max_line) {
			*text = NULL;
			*len = skipped + linelen;
			*lineno = r->lineno;
			return NDJSON_TOOLONG;
		}
		if (linelen && start[linelen - 1] == '\r')
			linelen--;
		/* a byte order mark, as editors write at the start of a file */
		if (linelen >= 3 && !memcmp(start, "\xEF\xBB\xBF", 3)) {
			start += 3;
			linelen -= 3;
		}
		if (is_blank(start, linelen))
			continue;
		*text = xstrndup(start, linelen);
		*len = linelen;
		*lineno = r->lineno;
		return NDJSON_LINE;
	}
}

int ndjson_ready(struct ndjson_reader *r)
{
	if (r->eof || (r->stop && *r->stop) ||
	    memchr(r->buf + r->pos, '\n', r->fill - r->pos))
		return 1;
	struct pollfd p = {.fd = r->fd, .events = POLLIN};
	return poll(&p, 1, 0) != 0;
}

cJSON *ndjson_parse(const char *text, size_t len, char *err, size_t errlen)
{
	if (json_check_object(text, len, NULL, err, errlen))
		return NULL;
	/* what json_check_object accepts, cJSON reads the same way */
	cJSON *v = cJSON_ParseWithLength(text, len);
	if (!v || !cJSON_IsObject(v)) {
		cJSON_Delete(v);
		snprintf(err, errlen, "not JSON (refused by cJSON)");
		return NULL;
	}
	return v;
}

struct ndjson_writer {
	int fd;
	struct buf b;
	int state;
	int err;
	atomic_long *lines; /* lines written out, or NULL */
};

struct ndjson_writer *ndjson_writer_new(int fd)
{
	struct ndjson_writer *w = xcalloc(1, sizeof *w);
	w->fd = fd;
	return w;
}

int ndjson_flush(struct ndjson_writer *w)
{
	size_t off = 0;
	/* the buffer holds whole lines: a second signal waits for them */
	app_write_begin();
	while (w->state == 0 && off < w->b.len) {
		ssize_t n = write(w->fd, w->b.p + off, w->b.len - off);
		if (n > 0) {
			if (w->lines) {
				long nl = 0;
				const char *q = w->b.p + off, *end = q + n;
				while ((q = memchr(q, '\n', (size_t)(end - q)))) {
					nl++;
					q++;
				}
				atomic_fetch_add(w->lines, nl);
			}
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		w->err = n < 0 ? errno : EIO;
		w->state = w->err == EPIPE ? 1 : -1;
	}
	app_write_end();
	buf_reset(&w->b);
	return w->state ? -1 : 0;
}

int ndjson_write(struct ndjson_writer *w, const char *line, size_t len)
{
	if (w->state)
		return -1;
	buf_append(&w->b, line, len);
	buf_putc(&w->b, '\n');
	if (w->b.len >= 64 * 1024)
		return ndjson_flush(w);
	return 0;
}

void ndjson_writer_count(struct ndjson_writer *w, atomic_long *lines)
{
	w->lines = lines;
}

int ndjson_writer_state(const struct ndjson_writer *w)
{
	return w->state;
}

int ndjson_writer_errno(const struct ndjson_writer *w)
{
	return w->err;
}

void ndjson_writer_free(struct ndjson_writer *w)
{
	if (!w)
		return;
	buf_free(&w->b);
	free(w);
}
