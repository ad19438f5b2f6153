/* log: prefixed, whole-line writes to stderr, safe from any thread. */
#include "log.h"
#include "app.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tool_name = "lanes";
/* set by the reporter thread, read by every thread that logs */
static atomic_int progress_active;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *tool)
{
	tool_name = tool;
}

void log_set_progress_active(int active)
{
	atomic_store(&progress_active, active);
}

static int stamps_wanted(void)
{
	const char *v = getenv("LANES_LOG_TIME");
	return !(v && (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")));
}

/* One line: "<tool>: " [stamp] [kind] message. */
static void line(int stamp, const char *kind, const char *fmt, va_list ap)
{
	struct buf b = {0};
	if (atomic_load(&progress_active))
		buf_puts(&b, "\r\033[K");
	buf_printf(&b, "%s: ", tool_name);
	if (stamp && stamps_wanted()) {
		char ts[32];
		utc_stamp(wall_time(), ts);
		buf_printf(&b, "%s ", ts);
	}
	buf_puts(&b, kind);
	buf_vprintf(&b, fmt, ap);
	buf_putc(&b, '\n');
	pthread_mutex_lock(&log_lock);
	/* one write per line so lines from several processes never interleave */
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(2, b.p + off, b.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	pthread_mutex_unlock(&log_lock);
	buf_free(&b);
}

void log_vline(int stamp, const char *fmt, va_list ap)
{
	line(stamp, "", fmt, ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline(0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	line(0, "warning: ", fmt, ap);
	va_end(ap);
}

void log_event(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline(1, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline(0, fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

void log_internal(const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%s%s: internal error: ",
			 atomic_load(&progress_active) ? "\r\033[K" : "", tool_name);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strnlen(line, sizeof line - 2);
	line[len++] = '\n';
	ssize_t w = write(2, line, len);
	(void)w;
	_exit(EXIT_INTERNAL);
}
