/* llmd_http.c: llmd's HTTP/1.1 server side: one blocking thread per
 * connection reads requests (keep-alive, pipelining, Content-Length or
 * chunked bodies, Expect: 100-continue, Connection: close) and the response
 * writers send whole bodies with Content-Length or chunked streams. */
#include "llmd.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (256L * 1024 * 1024)
#define MAX_CHUNK_LINE 4096

struct conn {
	int fd;
	struct buf in;
	size_t pos;      /* first unconsumed byte of in */
	int close_after; /* answer with Connection: close, then close */
	int broken;      /* I/O error or abort: close now */
	int head;
	int status;
	int spoiled;     /* a fault made the answer invalid */
	struct buf out;
};

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

static void send_all(struct conn *c, const char *p, size_t n)
{
	while (n && !c->broken) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->broken = 1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Reads more bytes; returns the count, 0 at EOF, -1 on error. */
static ssize_t fill(struct conn *c)
{
	if (c->broken)
		return -1;
	buf_reserve(&c->in, 16384);
	for (;;) {
		ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			c->in.len += (size_t)n;
			c->in.p[c->in.len] = '\0';
		}
		return n;
	}
}

/* Makes n unconsumed bytes available; -1 at EOF or error. */
static int need(struct conn *c, size_t n)
{
	while (c->in.len - c->pos < n)
		if (fill(c) <= 0)
			return -1;
	return 0;
}

/* Finds the next line (through '\n') at pos; returns its length without the
 * line end and sets *adv to the bytes it spans; -1 at EOF or when longer
 * than max. */
static long next_line(struct conn *c, size_t max, size_t *adv)
{
	size_t scanned = 0;
	for (;;) {
		char *s = c->in.p ? c->in.p + c->pos : NULL;
		size_t avail = c->in.len - c->pos;
		char *nl = s ? memchr(s + scanned, '\n', avail - scanned) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - s);
			*adv = len + 1;
			if (len && s[len - 1] == '\r')
				len--;
			return (long)len;
		}
		scanned = avail;
		if (avail > max || fill(c) <= 0)
			return -1;
	}
}

static void http_date(char out[64])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void put_head(struct conn *c, int status, const char *ctype, const char *extra)
{
	char date[64];
	http_date(date);
	buf_reset(&c->out);
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status), date);
	if (ctype)
		buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
	if (extra)
		buf_puts(&c->out, extra);
	if (c->close_after)
		buf_puts(&c->out, "Connection: close\r\n");
	c->status = status;
}

void http_respond(struct conn *c, int status, const char *ctype,
		  const char *extra, const char *body, size_t len)
{
	if (c->broken)
		return;
	put_head(c, status, ctype, extra);
	buf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
	if (!c->head)
		buf_append(&c->out, body, len);
	send_all(c, c->out.p, c->out.len);
}

void http_respond_truncated(struct conn *c, int status, const char *ctype,
			    const char *extra, const char *body, size_t len)
{
	if (c->broken)
		return;
	put_head(c, status, ctype, extra);
	buf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
	buf_append(&c->out, body, len / 2);
	send_all(c, c->out.p, c->out.len);
	c->broken = 1;
}

void http_stream_begin(struct conn *c, int status, const char *ctype, const char *extra)
{
	if (c->broken)
		return;
	put_head(c, status, ctype, extra);
	buf_puts(&c->out, "Transfer-Encoding: chunked\r\n\r\n");
	send_all(c, c->out.p, c->out.len);
}

void http_stream_chunk(struct conn *c, const char *data, size_t len)
{
	if (c->broken || !len)
		return;
	buf_reset(&c->out);
	buf_printf(&c->out, "%zx\r\n", len);
	buf_append(&c->out, data, len);
	buf_puts(&c->out, "\r\n");
	send_all(c, c->out.p, c->out.len);
}

void http_stream_end(struct conn *c)
{
	send_all(c, "0\r\n\r\n", 5);
}

void http_begin(struct conn *c, int status, const char *ctype, const char *extra,
		long long len)
{
	if (c->broken)
		return;
	put_head(c, status, ctype, extra);
	buf_printf(&c->out, "Content-Length: %lld\r\n\r\n", len);
	send_all(c, c->out.p, c->out.len);
}

void http_send(struct conn *c, const char *data, size_t len)
{
	if (!c->head)
		send_all(c, data, len);
}

int http_broken(const struct conn *c)
{
	return c->broken;
}

void http_linger(struct conn *c)
{
	/* silent until the client gives up (EOF or error) or the server
	 * stops; whatever the client sends meanwhile is ignored */
	char sink[4096];
	while (!c->broken && !state_stopping()) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int n = poll(&p, 1, 50);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && recv(c->fd, sink, sizeof sink, 0) <= 0)
			break;
	}
	c->broken = 1;
}

void http_abort(struct conn *c)
{
	c->broken = 1;
}

int http_status(const struct conn *c)
{
	return c->status;
}

int http_answered(const struct conn *c)
{
	return c->status || c->broken;
}

void http_spoil(struct conn *c)
{
	c->spoiled = 1;
}

int http_whole(const struct conn *c)
{
	return c->status == 200 && !c->broken && !c->spoiled;
}

/* Answers a request that could not be read, and closes. */
static int refuse(struct conn *c, int status, const char *msg)
{
	c->close_after = 1;
	struct buf b = {0};
	buf_puts(&b, "{\"error\":");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}");
	http_respond(c, status, "application/json; charset=utf-8", NULL, b.p, b.len);
	buf_free(&b);
	return -1;
}

static int has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - p) == n && !strncasecmp(p, tok, n))
			return 1;
		p = e;
	}
	return 0;
}

static int read_chunked(struct conn *c, struct buf *body)
{
	for (;;) {
		size_t adv;
		long n = next_line(c, MAX_CHUNK_LINE, &adv);
		if (n < 0)
			return -1;
		char *line = c->in.p + c->pos;
		char *end;
		errno = 0;
		unsigned long long size = strtoull(line, &end, 16);
		if (end == line || errno || size > (unsigned long long)MAX_BODY ||
		    body->len + size > (size_t)MAX_BODY ||
		    (end < line + n && *end != ';' && *end != ' ' && *end != '\t'))
			return -2;
		c->pos += adv;
		if (size == 0) {
			/* trailer section up to an empty line */
			for (;;) {
				n = next_line(c, MAX_HEAD, &adv);
				if (n < 0)
					return -1;
				c->pos += adv;
				if (n == 0)
					return 0;
			}
		}
		if (need(c, (size_t)size))
			return -1;
		buf_append(body, c->in.p + c->pos, (size_t)size);
		c->pos += (size_t)size;
		n = next_line(c, 2, &adv);
		if (n != 0)
			return -2;
		c->pos += adv;
	}
}

/* Reads one request into r. Returns 1 when there is one, 0 at a clean end
 * of the connection, -1 after an error (answered when it could be). */
static int read_request(struct conn *c, struct req *r)
{
	memset(r, 0, sizeof *r);
	if (c->pos) {
		memmove(c->in.p, c->in.p + c->pos, c->in.len - c->pos);
		c->in.len -= c->pos;
		c->pos = 0;
	}
	/* find the end of the head; empty lines before a request are allowed */
	size_t scan = 0, end = 0;
	for (;;) {
		while (c->pos < c->in.len && (c->in.p[c->pos] == '\r' || c->in.p[c->pos] == '\n'))
			c->pos++;
		if (scan < c->pos)
			scan = c->pos;
		for (size_t i = scan; i < c->in.len && !end; i++) {
			if (c->in.p[i] != '\n')
				continue;
			if (i + 1 < c->in.len && c->in.p[i + 1] == '\n')
				end = i + 2;
			else if (i + 2 < c->in.len && c->in.p[i + 1] == '\r' && c->in.p[i + 2] == '\n')
				end = i + 3;
		}
		if (end)
			break;
		scan = c->in.len > 2 ? c->in.len - 2 : 0;
		if (c->in.len - c->pos > MAX_HEAD)
			return refuse(c, 431, "request header too large");
		ssize_t n = fill(c);
		if (n <= 0)
			return c->in.len == c->pos ? 0 : -1;
	}
	if (end - c->pos > MAX_HEAD)
		return refuse(c, 431, "request header too large");
	/* the head, split into lines, NUL terminated in a copy */
	char *head = xstrndup(c->in.p + c->pos, end - c->pos);
	c->pos = end;
	char *save = NULL;
	char *line = strtok_r(head, "\n", &save);
	int rc = -1, minor = 1, close_tok = 0, keep_tok = 0, chunked = 0, expect = 0;
	long long clen = -1;
	char *sp1 = line ? strchr(line, ' ') : NULL;
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2) {
		refuse(c, 400, "malformed request line");
		goto out;
	}
	*sp1 = *sp2 = '\0';
	char *ver = sp2 + 1;
	ver[strcspn(ver, "\r")] = '\0';
	if (!strcmp(ver, "HTTP/1.0"))
		minor = 0;
	else if (strcmp(ver, "HTTP/1.1")) {
		refuse(c, strncmp(ver, "HTTP/", 5) ? 400 : 505, "unsupported HTTP version");
		goto out;
	}
	if (strlen(line) >= sizeof r->method || !*line) {
		refuse(c, 400, "malformed request line");
		goto out;
	}
	snprintf(r->method, sizeof r->method, "%s", line);
	const char *target = sp1 + 1;
	if (!strncmp(target, "http://", 7)) {
		/* absolute form: keep the path */
		const char *slash = strchr(target + 7, '/');
		target = slash ? slash : "/";
	}
	r->path = xstrndup(target, strcspn(target, "?#"));
	while ((line = strtok_r(NULL, "\n", &save))) {
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!len)
			break;
		char *colon = strchr(line, ':');
		if (!colon || colon == line || strcspn(line, " \t") < (size_t)(colon - line)) {
			refuse(c, 400, "malformed header line");
			goto out;
		}
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		if (!strcasecmp(line, "content-length")) {
			char *e;
			errno = 0;
			long long n = strtoll(v, &e, 10);
			if (!*v || *e || errno || n < 0 || (clen >= 0 && n != clen)) {
				refuse(c, 400, "bad Content-Length");
				goto out;
			}
			clen = n;
		} else if (!strcasecmp(line, "transfer-encoding")) {
			const char *last = strrchr(v, ',');
			last = last ? last + 1 : v;
			while (*last == ' ')
				last++;
			if (strcasecmp(last, "chunked")) {
				refuse(c, 501, "unsupported Transfer-Encoding");
				goto out;
			}
			chunked = 1;
		} else if (!strcasecmp(line, "connection")) {
			close_tok |= has_token(v, "close");
			keep_tok |= has_token(v, "keep-alive");
		} else if (!strcasecmp(line, "expect")) {
			if (strcasecmp(v, "100-continue")) {
				refuse(c, 417, "unsupported expectation");
				goto out;
			}
			expect = 1;
		} else if (!strcasecmp(line, "authorization")) {
			free(r->auth);
			r->auth = xstrdup(v);
		}
	}
	c->close_after = close_tok || (minor == 0 && !keep_tok);
	if (chunked && clen >= 0)
		c->close_after = 1; /* RFC 9112 6.1: a possible smuggling attempt */
	if (!chunked && clen > MAX_BODY) {
		refuse(c, 413, "request body too large");
		goto out;
	}
	if (expect && (chunked || clen > 0) &&
	    (chunked || c->in.len - c->pos < (size_t)clen)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		send_all(c, cont, sizeof cont - 1);
	}
	struct buf body = {0};
	if (chunked) {
		int e = read_chunked(c, &body);
		if (e) {
			buf_free(&body);
			if (e == -2)
				refuse(c, 400, "malformed chunked body");
			goto out;
		}
	} else if (clen > 0) {
		if (need(c, (size_t)clen)) {
			buf_free(&body);
			goto out;
		}
		buf_append(&body, c->in.p + c->pos, (size_t)clen);
		c->pos += (size_t)clen;
	}
	r->body_len = body.len;
	r->body = buf_steal(&body, NULL);
	r->head = !strcmp(r->method, "HEAD");
	r->t0_ms = now_ms();
	rc = 1;
out:
	free(head);
	if (rc != 1) {
		free(r->path);
		free(r->auth);
		r->path = r->auth = NULL;
	}
	return rc;
}

void http_serve(int fd)
{
	struct conn c = {.fd = fd};
	while (!c.broken && !c.close_after) {
		struct req r;
		if (read_request(&c, &r) <= 0)
			break;
		c.head = r.head;
		c.status = 0;
		c.spoiled = 0;
		api_handle(&c, &r);
		free(r.path);
		free(r.auth);
		free(r.body);
	}
	buf_free(&c.in);
	buf_free(&c.out);
}
