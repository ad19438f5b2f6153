/* app: what every lanes tool does around its record work: flags and
 * tunables, signals, counters, the progress line or periodic stats, the
 * end-of-run summary and the exit status (CONTRACT.md). */
#ifndef LANES_APP_H
#define LANES_APP_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "tunables.h"

/* Exit statuses, defined once (CONTRACT.md); never renumber. */
enum lanes_exit {
	EXIT_DONE = 0,      /* every record handled, failures within the ratio */
	EXIT_FAILURES = 1,  /* more failures than max_failure_ratio allows */
	EXIT_USAGE = 2,     /* usage or tunables error */
	EXIT_BACKEND = 3,   /* LLM server or database unusable at start */
	EXIT_INTERNAL = 4,  /* internal error: out of memory, libcurl cannot start */
	EXIT_DIFFER = 5,    /* --check: results differ alone and in a run (check.h) */
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

/* The run's counters, each counted where it happens (lanes(7) Logs), so
 * that the progress line shows where records wait: read >= answered +
 * rejected, and a tool that writes a line per record writes no more than
 * it answered. */
struct app_stats {
	atomic_long read;     /* input records (lines or documents), as read */
	atomic_long answered; /* records whose work is done (ok + skipped +
			       * failed), as their worker finishes */
	atomic_long ok;
	atomic_long skipped;  /* already done: nothing to do */
	atomic_long failed;   /* came out with an error */
	atomic_long retried;  /* retries spent (requests repeated) */
	atomic_long rejected; /* lines that were not JSON objects */
	atomic_long written;  /* output lines as write(2) takes them (or what
			       * written_as says) */
};

/* A tool-specific flag: either bound to a tunable ("segment.target") or
 * handed to the tool's callback with its id. */
struct app_flag {
	const char *name;  /* long name without dashes */
	int short_name;    /* 0 if none */
	int has_arg;
	const char *tunable; /* NULL: callback */
	int id;
	const char *arg_help;
	const char *help;
};

typedef int (*app_flag_fn)(int id, const char *arg, void *ud);

struct app {
	const char *tool;
	const char *section;     /* the tool's own tunables section */
	struct tunables *tun;
	const char *summary_json; /* path, "-" for stderr, NULL for none */
	const char *rejects_path;
	FILE *rejects;
	int unordered;
	int workers;             /* worker threads at most (started as needed) */
	/* Optional: how many workers are useful now (pool_set_need); the
	 * tool's pool starts no thread beyond it. */
	int (*workers_need)(void *ud);
	void *workers_need_ud;
	/* the tool's emit is cheap: workers emit (pool_set_inline_emit) */
	int emit_in_workers;
	size_t inflight;         /* effective records-in-flight cap */
	size_t batch;            /* records per job: set before app_size_pool (0 = 1) */
	size_t max_line;
	double max_failure_ratio;
	char **args;             /* positional arguments */
	int nargs;
	struct app_stats st;
	/* the summary's word for st.written: NULL for "wrote" (output lines);
	 * store put counts the records it stored, as "stored" */
	const char *written_as;
	double t_start;          /* now_ms() at start */
	long total;              /* expected input records (--total; segment:
				  * its FILEs), for N/TOTAL and the ETA; 0 =
				  * unknown */
	/* tokens the LLM server counted for the run's requests (llmapp):
	 * in the summary when tokens is set */
	int tokens;
	long prompt_tokens, completion_tokens;
	/* Optional: appends live details to the progress/stats line. */
	void (*progress_extra)(char *out, size_t outlen, void *ud);
	void *progress_ud;
	/* How the run ended besides its records (app_finish reads them): */
	int output_closed;       /* stdout's reader went away (a quiet end) */
	int write_errno;         /* writing stdout failed with this errno */
	int read_error;          /* reading the input failed (logged) */
	int run_errors;          /* other failures outside the records, each
				  * logged (a last commit, a report): exit 1 */
	struct thread *reporter;
	int reporter_stop;
	struct lock *reporter_lock;
};

/* Set by SIGINT/SIGTERM (the signal number): stop reading, finish what is
 * in flight. Negative values are lanes' own reasons (APP_STOP_*). Atomic:
 * the writer thread sets it too, and lock-free atomics are safe in a
 * signal handler. */
extern atomic_int app_stop;
enum { APP_STOP_OUTPUT_CLOSED = -1 };
/* Sets app_stop to why unless a reason is already there. A closed output
 * also starts aborting at once: answers could go nowhere. */
void app_request_stop(int why);

/* The stop rule (lanes(7) Signals), safe from any thread:
 * app_stopping: a stop was requested (a signal, a closed output):
 * take no new work. app_aborting: the grace period (<tool>.stop_grace_ms)
 * after the first SIGINT/SIGTERM has passed, or a second signal came, or
 * the output is closed: abandon work in flight now (the record passes on
 * unchanged and stays pending). app_abort_at_ms: the now_ms() time at which
 * aborting begins, INFINITY while no stop was requested; a waiting thread
 * bounds its wait with it. A second signal also ends the process at once
 * (exit 130/143) as soon as no whole-line write is under way; a third ends
 * it even then. */
int app_stopping(void);
int app_aborting(void);
double app_abort_at_ms(void);
/* Brackets a write of whole lines to the output, so that the second signal
 * never cuts a line: the process exits when the last write in progress
 * ends. Never fails; does not return once the process is exiting. */
void app_write_begin(void);
void app_write_end(void);

/* Parses argv (common flags + the tool's), loads tunables (file, env, flags,
 * in precedence order), handles --help, --version and --print-config (which
 * exit), installs signal handlers. On a usage or tunables error prints
 * "<tool>: ..." and exits 2. sections: NULL-terminated, the tool's first. */
void app_init(struct app *a, const char *tool, const char *const *sections,
	      int argc, char **argv, const struct app_flag *flags, app_flag_fn cb,
	      void *ud, const char *usage);
/* Picks workers and inflight from the tunables; auto workers = auto_workers.
 * The one rule for the records-in-flight cap: <section>.inflight when set,
 * else 2 x workers + 4 jobs of a->batch records each (every worker has a
 * job while the writer waits for the oldest), at most APP_INFLIGHT_AUTO_MAX
 * records but never under 4 jobs. The filter holds inflight / batch jobs
 * (at least one). */
#define APP_INFLIGHT_AUTO_MAX 65536
void app_size_pool(struct app *a, int auto_workers);
/* Jobs of a->batch records in flight at most: a->inflight / batch, >= 1. */
size_t app_inflight_jobs(const struct app *a);
/* Starts the progress line (terminal) or periodic stats (otherwise). */
void app_start_reporting(struct app *a);
/* Logs "<tool>: <time> <fmt...>" as the run's first line. */
void app_log_start(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a duration for people, as the progress line's ETA shows it:
 * "45s", "1m05s", "2h03m" (rounded to the second; negative is 0s). */
struct buf;
void app_fmt_duration(struct buf *b, double secs);
/* Reports one rejected input line on stderr and in --rejects, and counts
 * it rejected (its reader counted it read). */
void app_reject(struct app *a, const char *where, long lineno, const char *msg,
		const char *line, size_t len);
/* The tool's last step, after its own final work: stops reporting, reports
 * a write error, prints the one summary line (and --summary-json), frees
 * the tunables, and returns the exit status for the counters, the signal,
 * and how the input and output ended (the fields above). The summary's
 * "exit" is the status returned, unless --summary-json FILE itself cannot
 * be written (then 1, said on stderr). */
/* Prints one line of a tool's own "print and exit" flag (mine
 * --fingerprint) on stdout, checked as --print-config is. Returns the exit
 * status: EXIT_DONE (also for a closed stdout), or EXIT_FAILURES after
 * saying why. */
int app_print_line(struct app *a, const char *line);
int app_finish(struct app *a);

#endif
