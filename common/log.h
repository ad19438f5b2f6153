/* log: every line on stderr starts "<tool>: ". Events (start, periodic stats,
 * summary) carry a UTC time stamp; errors about input say where (jq style). */
#ifndef LANES_LOG_H
#define LANES_LOG_H

#include <stdarg.h>

/* Sets the tool name used as the prefix. The string must outlive the run. */
void log_init(const char *tool);
/* "<tool>: <msg>": something failed. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<tool>: warning: <msg>": the run goes on, maybe not as the user meant. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<tool>: 2026-11-22T09:13:25Z <msg>" unless LANES_LOG_TIME=0. */
void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs like log_error, then exits with status 2 (usage/config). */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* "<tool>: internal error: <msg>", then exits with EXIT_INTERNAL (4). It
 * allocates nothing, so out of memory can use it. */
void log_internal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Clears a progress line on a terminal before a log line is printed. */
void log_set_progress_active(int active);
void log_vline(int stamp, const char *fmt, va_list ap);

#endif
