/* reqlog: the request log's lines, appended to llm.log_file. */
#include "reqlog.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct reqlog {
	enum reqlog_mode mode;
	const char *tool;
	char *path;
	int fd;
	atomic_int broken;
	atomic_long count;
};

int reqlog_open(const struct tunables *t, const char *tool, struct reqlog **out, char *err,
		size_t errlen)
{
	*out = NULL;
	const char *m = tun_str(t, "llm.log");
	enum reqlog_mode mode = !strcmp(m, "all") ? REQLOG_ALL
			      : !strcmp(m, "errors") ? REQLOG_ERRORS : REQLOG_OFF;
	if (mode == REQLOG_OFF)
		return 0;
	const char *path = tun_str(t, "llm.log_file");
	if (!*path) {
		snprintf(err, errlen, "llm.log is %s but llm.log_file is empty: name the file the "
			 "request log goes to (ingest.sh names one and moves it into the store)", m);
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the request log %s (llm.log_file): %s", path,
			 strerror(errno));
		return -1;
	}
	struct reqlog *l = xcalloc(1, sizeof *l);
	l->mode = mode;
	l->tool = tool;
	l->path = xstrdup(path);
	l->fd = fd;
	*out = l;
	return 0;
}

const char *reqlog_id(const cJSON *rec)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "id"));
}

enum reqlog_mode reqlog_mode(const struct reqlog *l)
{
	return l ? l->mode : REQLOG_OFF;
}

const char *reqlog_path(const struct reqlog *l)
{
	return l->path;
}

long reqlog_count(const struct reqlog *l)
{
	return l ? atomic_load(&l->count) : 0;
}

void reqlog_close(struct reqlog *l)
{
	if (!l)
		return;
	if (close(l->fd) && !atomic_load(&l->broken))
		log_error("cannot write the request log %s: %s", l->path, strerror(errno));
	free(l->path);
	free(l);
}

char *reqlog_clean_text(const char *s, size_t n, size_t max, int *cut)
{
	if (cut)
		*cut = 0;
	if (!s)
		s = "", n = 0;
	if (n > max) {
		n = utf8_floor(s, max);
		if (cut)
			*cut = 1;
	}
	struct buf clean = {0};
	size_t i = 0;
	while (i < n) {
		long bad = utf8_check(s + i, n - i);
		if (bad < 0) {
			buf_append(&clean, s + i, n - i);
			break;
		}
		buf_append(&clean, s + i, (size_t)bad);
		buf_puts(&clean, "\xef\xbf\xbd");
		i += (size_t)bad + 1;
	}
	if (!clean.p)
		return xstrdup("");
	return buf_steal(&clean, NULL);
}

void reqlog_json_text(struct buf *b, const char *s, size_t n, size_t max, int *cut)
{
	if (s && n <= max && utf8_check(s, n) < 0) {
		if (cut)
			*cut = 0;
		buf_json_str(b, s, n);
		return;
	}
	size_t len;
	char *t = reqlog_clean_text(s, n, max, cut);
	len = strlen(t);
	buf_json_str(b, t, len);
	free(t);
}

static void text_member(struct buf *b, const char *name, const char *s, size_t n)
{
	int cut;
	buf_printf(b, ",\"%s\":", name);
	reqlog_json_text(b, s, n, REQLOG_TEXT_MAX, &cut);
	if (cut)
		buf_printf(b, ",\"%s_cut\":true", name);
}

void reqlog_write(struct reqlog *l, const struct reqlog_entry *e)
{
	if (!l || l->mode == REQLOG_OFF || atomic_load(&l->broken))
		return;
	int failed = e->code && *e->code;
	/* errors: what went through is one short line */
	int whole = l->mode == REQLOG_ALL || failed;
	struct buf b = {0};
	char ts[32];
	utc_stamp(wall_time(), ts);
	buf_printf(&b, "{\"ts\":\"%s\",\"kind\":\"%s\",\"tool\":\"%s\",\"stage\":", ts,
		   e->kind ? e->kind : "request", l->tool);
	const char *stage = e->stage ? e->stage : l->tool;
	buf_json_str(&b, stage, strlen(stage));
	buf_puts(&b, ",\"id\":");
	if (e->nids > 0 && e->ids[0])
		buf_json_str(&b, e->ids[0], strlen(e->ids[0]));
	else
		buf_puts(&b, "null");
	if (e->nids > 1) {
		buf_puts(&b, ",\"ids\":[");
		for (size_t i = 0; i < e->nids; i++) {
			if (i)
				buf_putc(&b, ',');
			const char *id = e->ids[i] ? e->ids[i] : "";
			buf_json_str(&b, id, strlen(id));
		}
		buf_putc(&b, ']');
	}
	buf_puts(&b, ",\"model\":");
	if (e->model)
		buf_json_str(&b, e->model, strlen(e->model));
	else
		buf_puts(&b, "null");
	if (e->server) {
		buf_puts(&b, ",\"server\":");
		buf_json_str(&b, e->server, strlen(e->server));
	}
	if (e->attempt > 0)
		buf_printf(&b, ",\"attempt\":%d", e->attempt);
	if (e->http_status > 0)
		buf_printf(&b, ",\"http_status\":%d", e->http_status);
	if (e->attempt > 0)
		buf_printf(&b, ",\"latency_ms\":%.1f", e->latency_ms);
	if (e->prompt_tokens >= 0)
		buf_printf(&b, ",\"prompt_tokens\":%ld", e->prompt_tokens);
	if (e->completion_tokens >= 0)
		buf_printf(&b, ",\"completion_tokens\":%ld", e->completion_tokens);
	if (failed) {
		buf_puts(&b, ",\"code\":");
		buf_json_str(&b, e->code, strlen(e->code));
		if (e->message)
			text_member(&b, "message", e->message, strlen(e->message));
	}
	if (e->vectors > 0)
		buf_printf(&b, ",\"vectors\":%d,\"dim\":%d", e->vectors, e->dim);
	if (whole) {
		if (e->system)
			text_member(&b, "system", e->system, strlen(e->system));
		if (e->prompt)
			text_member(&b, "prompt", e->prompt, strlen(e->prompt));
		if (e->feedback)
			text_member(&b, "feedback", e->feedback, strlen(e->feedback));
		if (e->ntexts > 0) {
			buf_puts(&b, ",\"input\":[");
			for (size_t i = 0; i < e->ntexts; i++) {
				if (i)
					buf_putc(&b, ',');
				const char *s = e->texts[i] ? e->texts[i] : "";
				reqlog_json_text(&b, s, strlen(s), REQLOG_TEXT_MAX, NULL);
			}
			buf_putc(&b, ']');
		}
		if (e->answer)
			text_member(&b, "answer", e->answer, e->answer_len);
	}
	buf_puts(&b, "}\n");
	/* one write: O_APPEND puts the line whole at the end of the file */
	ssize_t w = write(l->fd, b.p, b.len);
	if (w != (ssize_t)b.len) {
		int was = 0;
		if (atomic_compare_exchange_strong(&l->broken, &was, 1))
			log_error("cannot write the request log %s: %s; the log is off for the rest "
				  "of the run", l->path, w < 0 ? strerror(errno) : "short write");
	} else {
		atomic_fetch_add(&l->count, 1);
	}
	buf_free(&b);
}
