/* app: flags, tunables, signals, progress and summary shared by the tools. */
#include "app.h"
#include "json.h"
#include "llm.h"
#include "log.h"
#include "pool.h"
#include "prompts.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef LANES_VERSION
#define LANES_VERSION "0.1.0"
#endif

atomic_int app_stop;

/* The stop state, written by the signal handler: lock-free atomics only. */
static atomic_int signals_seen;
/* The first signal: its time (ms on mono_ms()) << 8 | its number; 0: none. */
static atomic_llong first_signal;
static atomic_llong abort_at = LLONG_MAX; /* ms on the now_ms() clock */
static atomic_llong grace_ms = 10000;
static atomic_int writing;                /* writes under way; -1: exiting */
/* Lines written by the handler (prepared by app_init: no stdio there). */
static const char *exit_line = "lanes: second signal: exiting now; records in flight stay pending\n";
static const char *stop_line[2] = {"lanes: SIGINT: stopping\n", "lanes: SIGTERM: stopping\n"};

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "the signal handler needs lock-free atomics");

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the abort time to at, unless an earlier one is already set. */
static void abort_by(long long at)
{
	long long cur = atomic_load(&abort_at);
	while (at < cur && !atomic_compare_exchange_weak(&abort_at, &cur, at))
		;
}

void app_request_stop(int why)
{
	int none = 0;
	atomic_compare_exchange_strong(&app_stop, &none, why);
	if (why == APP_STOP_OUTPUT_CLOSED)
		abort_by(mono_ms());
}

int app_stopping(void)
{
	return atomic_load(&app_stop) != 0;
}

double app_abort_at_ms(void)
{
	long long at = atomic_load(&abort_at);
	return at == LLONG_MAX ? INFINITY : (double)at;
}

int app_aborting(void)
{
	long long at = atomic_load(&abort_at);
	return at != LLONG_MAX && mono_ms() >= at;
}

static void exit_now(void)
{
	int sig = atomic_load(&app_stop);
	ssize_t w = write(2, exit_line, strlen(exit_line));
	(void)w;
	_exit(sig == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT);
}

/* Exits unless a write is under way (its app_write_end exits then). */
static void exit_when_idle(void)
{
	int idle = 0;
	if (atomic_compare_exchange_strong(&writing, &idle, -1))
		exit_now();
}

void app_write_begin(void)
{
	int cur = atomic_load(&writing);
	do {
		while (cur < 0) /* exiting: the handler's _exit ends this thread */
			pause();
	} while (!atomic_compare_exchange_weak(&writing, &cur, cur + 1));
}

void app_write_end(void)
{
	atomic_fetch_sub(&writing, 1);
	if (atomic_load(&signals_seen) >= 2)
		exit_when_idle();
}

/* A repeat of the first signal within this many ms is the same stop
 * request, not a second one: timeout(1) and a signal sent to a process
 * group as well as to a process deliver one request twice, microseconds
 * apart, and a cron job under timeout must still drain. */
#define SIGNAL_REPEAT_MS 250

static void on_signal(int sig)
{
	long long now = mono_ms();
	long long none = 0, first = (now << 8) | (sig & 0xff);
	if (!atomic_compare_exchange_strong(&first_signal, &none, first)) {
		/* none now holds the first signal */
		if ((none & 0xff) == sig && now - (none >> 8) < SIGNAL_REPEAT_MS)
			return;
	}
	int n = atomic_fetch_add(&signals_seen, 1) + 1;
	if (n == 1) {
		/* the first signal is the reason, whatever stopped lanes before */
		atomic_store(&app_stop, sig);
		abort_by(now + atomic_load(&grace_ms));
		const char *line = stop_line[sig == SIGTERM];
		ssize_t w = write(2, line, strlen(line));
		(void)w;
		return;
	}
	abort_by(now);
	if (n == 2)
		exit_when_idle();
	else
		exit_now();
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocked read(2) returns EINTR and the reader stops */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

enum {
	OPT_TUNABLES = 1000, OPT_PRINT_CONFIG, OPT_SUMMARY_JSON, OPT_REJECTS,
	OPT_UNORDERED, OPT_WORKERS, OPT_INFLIGHT, OPT_MAX_FAIL, OPT_MAX_LINE,
	OPT_PROGRESS, OPT_TOTAL, OPT_HELP, OPT_VERSION, OPT_TOOL_BASE = 2000,
};

static const struct app_flag common_flags[] = {
	{"tunables", 0, 1, NULL, OPT_TUNABLES, "FILE", "read settings from FILE (also $LANES_TUNABLES; '' = none)"},
	{"print-config", 0, 0, NULL, OPT_PRINT_CONFIG, NULL, "print every effective setting and its source, then exit"},
	{"workers", 'w', 1, NULL, OPT_WORKERS, "N|auto", "worker threads (1 = sequential)"},
	{"inflight", 0, 1, NULL, OPT_INFLIGHT, "N|auto", "records in flight at most"},
	{"unordered", 0, 0, NULL, OPT_UNORDERED, NULL, "write records as they finish, not in input order"},
	{"max-failure-ratio", 0, 1, NULL, OPT_MAX_FAIL, "X", "share of failures tolerated before exit status 1"},
	{"max-line", 0, 1, NULL, OPT_MAX_LINE, "BYTES", "longest input line accepted"},
	{"progress", 0, 1, NULL, OPT_PROGRESS, "WHEN", "progress line: auto, always or never"},
	{"total", 0, 1, NULL, OPT_TOTAL, "N", "input records expected: progress shows N/TOTAL and an ETA"},
	{"rejects", 0, 1, NULL, OPT_REJECTS, "FILE", "append input lines that are not JSON objects to FILE"},
	{"summary-json", 0, 1, NULL, OPT_SUMMARY_JSON, "FILE", "write the end-of-run summary as JSON to FILE (- = stderr)"},
	{"help", 'h', 0, NULL, OPT_HELP, NULL, "show this help"},
	{"version", 'V', 0, NULL, OPT_VERSION, NULL, "show the version"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

static void print_flags(FILE *f, const struct app_flag *fl)
{
	for (; fl && fl->name; fl++) {
		char left[64];
		if (fl->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", fl->short_name, fl->name,
				 fl->arg_help ? " " : "", fl->arg_help ? fl->arg_help : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", fl->name,
				 fl->arg_help ? " " : "", fl->arg_help ? fl->arg_help : "");
		fprintf(f, "  %-28s %s\n", left, fl->help);
	}
}

/* Ends --help, --version and --print-config: their output must have gone
 * out whole. A closed stdout (| head) is a quiet end, as for records. */
static void stdout_exit(void)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (bad && e != EPIPE) {
		log_error("write error on standard output: %s", strerror(e));
		exit(EXIT_FAILURES);
	}
	exit(EXIT_DONE);
}

int app_print_line(struct app *a, const char *line)
{
	(void)a;
	int bad = printf("%s\n", line) < 0;
	bad |= fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (bad && e != EPIPE) {
		log_error("write error on standard output: %s", strerror(e));
		return EXIT_FAILURES;
	}
	return EXIT_DONE;
}

/* The tunables file a tool reads when neither --tunables nor
 * $LANES_TUNABLES names one: the tunables.yaml shipped beside the binary,
 * share/lanes/ of an installed prefix or pipelines/ of a source checkout
 * (prompt_find_shipped). Returns its real path (the caller frees it), or
 * NULL when there is none: built-in defaults. */
static char *default_tunables(void)
{
	struct buf tried = {0};
	char *found = prompt_find_shipped("tunables.yaml", &tried);
	buf_free(&tried);
	if (!found)
		return NULL;
	char real[PATH_MAX];
	if (realpath(found, real)) {
		free(found);
		return xstrdup(real);
	}
	return found;
}

/* The settings lines of --help: which file is read, as things stand. */
static void print_settings_line(const char *tool)
{
	const char *env = getenv("LANES_TUNABLES");
	char *dflt = env ? NULL : default_tunables();
	if (env && *env)
		printf("\nSettings: read from %s ($LANES_TUNABLES).\n", env);
	else if (env)
		printf("\nSettings: built-in defaults ($LANES_TUNABLES is empty).\n");
	else if (dflt)
		printf("\nSettings: read from %s, the default file\n"
		       "(--tunables FILE or $LANES_TUNABLES names another; LANES_TUNABLES= none).\n",
		       dflt);
	else
		printf("\nSettings: built-in defaults: no share/lanes/tunables.yaml or\n"
		       "pipelines/tunables.yaml beside this program (--tunables FILE names one).\n");
	printf("See tunables(5). Manual: %s(1).\n", tool);
	free(dflt);
}

static void usage_exit(const char *tool, const char *usage, const struct app_flag *flags)
{
	printf("%s", usage);
	if (flags && flags->name) {
		printf("\n%s options:\n", tool);
		print_flags(stdout, flags);
	}
	printf("\nCommon options:\n");
	print_flags(stdout, common_flags);
	print_settings_line(tool);
	stdout_exit();
}

/* --total N: a whole number, 0 (unknown) or more. Returns 0, or -1 and
 * leaves *total as it was. */
static int parse_total(const char *arg, long *total)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (!*arg || *end || errno || n < 0)
		return -1;
	*total = n;
	return 0;
}

/* The tool's own setting KEY (SECTION.KEY). */
static const char *sec_name(const struct app *a, const char *key, char *name, size_t len)
{
	snprintf(name, len, "%s.%s", a->section, key);
	return name;
}

static long sec_int(const struct app *a, const char *key)
{
	char name[128];
	return tun_int(a->tun, sec_name(a, key, name, sizeof name));
}

static double sec_float(const struct app *a, const char *key)
{
	char name[128];
	return tun_float(a->tun, sec_name(a, key, name, sizeof name));
}

/* A setting given as a flag, set after the file and the environment. */
struct pending {
	char *name;
	char *value;
	char origin[64];
};

/* What the command line says, besides the tool's own flags (cb). */
struct cmdline {
	const char *tun_path;     /* --tunables or $LANES_TUNABLES; NULL: the default */
	int print_config;
	struct pending *pend;     /* settings given as flags */
	size_t npend;
};

/* getopt_long's view of the common and the tool's flags. */
struct flag_table {
	struct option *opts;
	struct buf shorts;
	const struct app_flag **byval; /* by option value - OPT_TOOL_BASE */
	size_t n;
};

static void flag_table_new(struct flag_table *ft, const struct app_flag *flags)
{
	size_t ntool = 0, ncommon = ARRAY_LEN(common_flags) - 1;
	while (flags && flags[ntool].name)
		ntool++;
	ft->n = ncommon + ntool;
	ft->opts = xcalloc(ft->n + 1, sizeof *ft->opts);
	ft->byval = xcalloc(ft->n, sizeof *ft->byval);
	memset(&ft->shorts, 0, sizeof ft->shorts);
	buf_putc(&ft->shorts, ':'); /* report missing arguments as ':' */
	for (size_t i = 0; i < ft->n; i++) {
		const struct app_flag *fl = i < ncommon ? &common_flags[i] : &flags[i - ncommon];
		ft->byval[i] = fl;
		ft->opts[i].name = fl->name;
		ft->opts[i].has_arg = fl->has_arg ? required_argument : no_argument;
		ft->opts[i].val = fl->short_name ? fl->short_name : (int)(OPT_TOOL_BASE + i);
		if (fl->short_name) {
			buf_putc(&ft->shorts, (char)fl->short_name);
			if (fl->has_arg)
				buf_putc(&ft->shorts, ':');
		}
	}
}

static void flag_table_free(struct flag_table *ft)
{
	free(ft->opts);
	free(ft->byval);
	buf_free(&ft->shorts);
}

/* The flag of getopt's answer c; NULL for none. Unknown options and
 * missing values end the process (usage). */
static const struct app_flag *flag_of(const struct flag_table *ft, int c, char **argv)
{
	if (c == '?' || c == ':') {
		const char *what = argv[optind - 1];
		if (c == ':')
			log_error("option '%s' needs a value (try --help)", what);
		else
			log_error("unknown option '%s' (try --help)", what);
		exit(EXIT_USAGE);
	}
	if (c >= OPT_TOOL_BASE)
		return ft->byval[c - OPT_TOOL_BASE];
	const struct app_flag *fl = NULL;
	for (size_t i = 0; i < ft->n; i++)
		if (ft->byval[i]->short_name == c)
			fl = ft->byval[i];
	return fl;
}

/* A flag that sets tunable (a bare key is of the tool's section). */
static void pend_setting(struct app *a, struct cmdline *cl, const struct app_flag *fl,
			 const char *tunable)
{
	struct pending *p = &cl->pend[cl->npend++];
	p->name = strchr(tunable, '.') ? xstrdup(tunable)
				       : xasprintf("%s.%s", a->section, tunable);
	p->value = xstrdup(fl->has_arg ? optarg : "true");
	snprintf(p->origin, sizeof p->origin, "--%s", fl->name);
}

/* A common flag: done at once (help, version), noted in a and cl, or the
 * tunable it sets in *tunable. Returns 0 for a flag of the tool's own. */
static int common_flag(struct app *a, struct cmdline *cl, const struct app_flag *fl,
		       const char *usage, const struct app_flag *flags, const char **tunable)
{
	*tunable = NULL;
	switch (fl->id) {
	case OPT_HELP: usage_exit(a->tool, usage, flags); break;
	case OPT_VERSION: printf("%s (lanes) %s\n", a->tool, LANES_VERSION); stdout_exit(); break;
	case OPT_TUNABLES: cl->tun_path = optarg; break;
	case OPT_PRINT_CONFIG: cl->print_config = 1; break;
	case OPT_SUMMARY_JSON: a->summary_json = optarg; break;
	case OPT_REJECTS: a->rejects_path = optarg; break;
	case OPT_UNORDERED: a->unordered = 1; break;
	case OPT_WORKERS: *tunable = "workers"; break;
	case OPT_INFLIGHT: *tunable = "inflight"; break;
	case OPT_MAX_FAIL: *tunable = "max_failure_ratio"; break;
	case OPT_MAX_LINE: *tunable = "max_line"; break;
	case OPT_PROGRESS: *tunable = "progress"; break;
	case OPT_TOTAL:
		if (parse_total(optarg, &a->total)) {
			log_error("--total '%s': not a number of records (0 or more)", optarg);
			exit(EXIT_USAGE);
		}
		break;
	default: return 0;
	}
	return 1;
}

/* Reads the command line into a and cl; the tool's own flags go to cb. */
static void parse_cmdline(struct app *a, struct cmdline *cl, int argc, char **argv,
			  const struct app_flag *flags, app_flag_fn cb, void *ud,
			  const char *usage)
{
	struct flag_table ft;
	flag_table_new(&ft, flags);
	cl->tun_path = getenv("LANES_TUNABLES");
	cl->pend = xcalloc((size_t)argc + 1, sizeof *cl->pend);
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ft.shorts.p, ft.opts, NULL)) != -1) {
		const struct app_flag *fl = flag_of(&ft, c, argv);
		if (!fl)
			continue;
		const char *tunable;
		if (common_flag(a, cl, fl, usage, flags, &tunable)) {
			if (tunable)
				pend_setting(a, cl, fl, tunable);
		} else if (fl->tunable) {
			pend_setting(a, cl, fl, fl->tunable);
		} else if (cb && cb(fl->id, optarg, ud)) {
			exit(EXIT_USAGE);
		}
	}
	flag_table_free(&ft);
	a->args = argv + optind;
	a->nargs = argc - optind;
}

/* The settings: the tunables file (cl's, else the default one), the
 * environment, then the flags. Returns the default file's path when it
 * was read (caller frees), else NULL. */
static char *load_settings(struct app *a, const char *const *sections, struct cmdline *cl)
{
	char err[1024];
	char *tun_default = NULL;
	a->tun = tun_new(sections);
	if (!cl->tun_path)
		cl->tun_path = tun_default = default_tunables();
	if (cl->tun_path && *cl->tun_path && tun_load_file(a->tun, cl->tun_path, err, sizeof err)) {
		log_error("%s", err);
		exit(EXIT_USAGE);
	}
	if (tun_load_env(a->tun, err, sizeof err)) {
		log_error("%s", err);
		exit(EXIT_USAGE);
	}
	for (size_t i = 0; i < cl->npend; i++) {
		struct pending *p = &cl->pend[i];
		if (tun_set(a->tun, p->name, p->value, TUN_SRC_FLAG, p->origin, err, sizeof err)) {
			log_error("%s: %s", p->origin, err);
			exit(EXIT_USAGE);
		}
		free(p->name);
		free(p->value);
	}
	free(cl->pend);
	return tun_default;
}

/* --print-config: every effective setting and its source, then exit. */
static void print_config_exit(struct app *a, const char *const *sections, const char *path,
			      int is_default)
{
	if (is_default)
		printf("# tunables file: %s (the default: neither --tunables nor "
		       "$LANES_TUNABLES names one)\n", path);
	else if (path && *path)
		printf("# tunables file: %s\n", path);
	else
		printf("# tunables file: none (built-in defaults)\n");
	for (const char *const *sec = sections; sec && *sec; sec++)
		if (!strcmp(*sec, "llm"))
			llm_config_print(a->tun, a->section, stdout);
	tun_print(a->tun, stdout);
	tun_free(a->tun);
	stdout_exit();
}

/* The lines the signal handlers write (they may not format). */
static void stop_lines(const char *tool)
{
	static char lines[3][256];
	snprintf(lines[0], sizeof lines[0],
		 "%s: second signal: exiting now; records in flight stay pending\n", tool);
	exit_line = lines[0];
	for (int i = 0; i < 2; i++) {
		snprintf(lines[i + 1], sizeof lines[i + 1],
			 "%s: %s: stopping: no new work; records in flight may finish for %.3gs, "
			 "then stay pending; a second signal exits now\n",
			 tool, i ? "SIGTERM" : "SIGINT", (double)atomic_load(&grace_ms) / 1000);
		stop_line[i] = lines[i + 1];
	}
}

void app_init(struct app *a, const char *tool, const char *const *sections,
	      int argc, char **argv, const struct app_flag *flags, app_flag_fn cb,
	      void *ud, const char *usage)
{
	memset(a, 0, sizeof *a);
	a->tool = tool;
	a->section = sections[0];
	a->t_start = now_ms();
	log_init(tool);
	json_init();
	struct cmdline cl = {0};
	parse_cmdline(a, &cl, argc, argv, flags, cb, ud, usage);
	char *tun_default = load_settings(a, sections, &cl);
	a->max_line = (size_t)sec_int(a, "max_line");
	a->max_failure_ratio = sec_float(a, "max_failure_ratio");
	if (cl.print_config)
		print_config_exit(a, sections, cl.tun_path, tun_default != NULL);
	free(tun_default);
	atomic_store(&grace_ms, sec_int(a, "stop_grace_ms"));
	stop_lines(tool);
	if (a->rejects_path) {
		a->rejects = fopen(a->rejects_path, "ab");
		if (!a->rejects) {
			log_error("cannot open rejects file %s: %s", a->rejects_path, strerror(errno));
			exit(EXIT_USAGE);
		}
	}
	install_signals();
}

void app_size_pool(struct app *a, int auto_workers)
{
	long w = sec_int(a, "workers");
	a->workers = w > 0 ? (int)w : (auto_workers > 0 ? auto_workers : cpu_count());
	long f = sec_int(a, "inflight");
	size_t batch = a->batch ? a->batch : 1;
	size_t n = (size_t)(2 * a->workers + 4) * batch;
	/* big batches times many workers: a cap, still a few batches each */
	if (n > APP_INFLIGHT_AUTO_MAX)
		n = APP_INFLIGHT_AUTO_MAX > 4 * batch ? APP_INFLIGHT_AUTO_MAX : 4 * batch;
	a->inflight = f > 0 ? (size_t)f : n;
}

size_t app_inflight_jobs(const struct app *a)
{
	size_t jobs = a->inflight / (a->batch ? a->batch : 1);
	return jobs ? jobs : 1;
}

void app_log_start(struct app *a, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* "sequential" only when the user asked for one worker: a tool that
	 * sizes itself to one worker beside its writer thread is not */
	long asked = sec_int(a, "workers");
	const char *how = asked == 1 ? " (sequential)" : asked == 0 ? " (auto)" : "";
	/* threads are started as jobs need them (pool.h): N is a ceiling */
	log_event("start: workers=%s%d%s inflight=%zu%s%s%s", a->workers > 1 ? "up to " : "",
		  a->workers, how, a->inflight,
		  a->unordered ? " unordered" : "", b.len ? " " : "", b.len ? b.p : "");
	buf_free(&b);
}

static void fmt_counts(struct app *a, struct buf *b, double secs)
{
	long read = atomic_load(&a->st.read);
	double rate = secs > 0 ? (double)read / secs : 0;
	buf_printf(b, "read %ld, ok %ld, skipped %ld, failed %ld, retried %ld, rejected %ld",
		   read, atomic_load(&a->st.ok), atomic_load(&a->st.skipped),
		   atomic_load(&a->st.failed), atomic_load(&a->st.retried),
		   atomic_load(&a->st.rejected));
	buf_printf(b, ", %.1f/s", rate);
}

void app_fmt_duration(struct buf *b, double secs)
{
	long s = secs < 0 ? 0 : secs > 1e9 ? 1000000000L : (long)(secs + 0.5);
	if (s < 60)
		buf_printf(b, "%lds", s);
	else if (s < 3600)
		buf_printf(b, "%ldm%02lds", s / 60, s % 60);
	else
		buf_printf(b, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

/* The progress line: each counter where it is counted, so that a reader
 * sees where records wait (lanes(7) Logs). The counters are loaded from
 * the last stage to the first (written, answered, read): each only grows,
 * so the line never shows a record answered that it does not show read,
 * or written that it does not show answered. */
static void fmt_progress(struct app *a, struct buf *b, double secs)
{
	long written = atomic_load(&a->st.written);
	long ok = atomic_load(&a->st.ok), skipped = atomic_load(&a->st.skipped);
	long failed = atomic_load(&a->st.failed);
	long answered = atomic_load(&a->st.answered);
	long rejected = atomic_load(&a->st.rejected);
	long read = atomic_load(&a->st.read);
	double rate = secs > 0 ? (double)answered / secs : 0;
	buf_printf(b, "read %ld, answered %ld", read, answered);
	if (a->total > 0)
		buf_printf(b, "/%ld", a->total);
	buf_printf(b, " (ok %ld, skipped %ld, failed %ld), %s %ld, retried %ld, rejected %ld, %.1f/s",
		   ok, skipped, failed, a->written_as ? a->written_as : "written", written,
		   atomic_load(&a->st.retried), rejected, rate);
	if (a->total > 0 && answered > 0 && answered < a->total) {
		buf_puts(b, ", ETA ");
		app_fmt_duration(b, secs * (double)(a->total - answered) / (double)answered);
	}
}

static void *reporter_main(void *arg)
{
	struct app *a = arg;
	char key[128];
	const char *mode = tun_str(a->tun, sec_name(a, "progress", key, sizeof key));
	int tty = !strcmp(mode, "always") || (!strcmp(mode, "auto") && isatty(2));
	long interval = sec_int(a, "stats_interval");
	if (!tty && interval <= 0)
		return NULL;
	double period = tty ? 1000 : (double)interval * 1000;
	lock_take(a->reporter_lock);
	while (!a->reporter_stop) {
		lock_wait_ms(a->reporter_lock, period);
		if (a->reporter_stop)
			break;
		double secs = (now_ms() - a->t_start) / 1000;
		struct buf b = {0};
		fmt_progress(a, &b, secs);
		if (a->progress_extra) {
			char extra[256] = "";
			a->progress_extra(extra, sizeof extra, a->progress_ud);
			if (*extra)
				buf_printf(&b, ", %s", extra);
		}
		if (tty) {
			struct buf line = {0};
			buf_printf(&line, "\r\033[K%s: %s", a->tool, b.p);
			log_set_progress_active(1);
			ssize_t w = write(2, line.p, line.len);
			(void)w;
			buf_free(&line);
		} else {
			log_event("progress: %s", b.p);
		}
		buf_free(&b);
	}
	lock_give(a->reporter_lock);
	if (tty) {
		ssize_t w = write(2, "\r\033[K", 4);
		(void)w;
		log_set_progress_active(0);
	}
	return NULL;
}

void app_start_reporting(struct app *a)
{
	a->reporter_lock = lock_new();
	a->reporter = thread_start(reporter_main, a);
}

void app_reject(struct app *a, const char *where, long lineno, const char *msg,
		const char *line, size_t len)
{
	atomic_fetch_add(&a->st.rejected, 1);
	log_error("%s:%ld: %s", where, lineno, msg);
	if (a->rejects && line) {
		if (fwrite(line, 1, len, a->rejects) != len || fputc('\n', a->rejects) == EOF)
			log_error("cannot write rejects file %s: %s", a->rejects_path, strerror(errno));
	}
}

/* The summary's word for how the run ended. */
static const char *ending(const struct app *a)
{
	if (atomic_load(&app_stop) > 0)
		return "interrupted";
	if (a->write_errno)
		return "write error";
	if (a->output_closed)
		return "output closed";
	if (a->read_error)
		return "read error";
	return "done";
}

int app_finish(struct app *a)
{
	if (a->reporter) {
		lock_take(a->reporter_lock);
		a->reporter_stop = 1;
		lock_signal(a->reporter_lock);
		lock_give(a->reporter_lock);
		thread_join(a->reporter);
		lock_free(a->reporter_lock);
		a->reporter = NULL;
	}
	if (a->rejects && fclose(a->rejects)) {
		log_error("cannot write rejects file %s: %s", a->rejects_path, strerror(errno));
		a->run_errors++;
	}
	a->rejects = NULL;
	if (a->write_errno)
		log_error("write error on standard output: %s", strerror(a->write_errno));

	double secs = (now_ms() - a->t_start) / 1000;
	long read = atomic_load(&a->st.read);
	long bad = atomic_load(&a->st.failed) + atomic_load(&a->st.rejected);
	int code = EXIT_DONE;
	if (read > 0 && (double)bad > a->max_failure_ratio * (double)read)
		code = EXIT_FAILURES;
	if (a->write_errno || a->read_error || a->run_errors)
		code = EXIT_FAILURES;
	int sig = atomic_load(&app_stop);
	if (sig == SIGINT)
		code = EXIT_SIGINT;
	else if (sig == SIGTERM)
		code = EXIT_SIGTERM;

	struct buf b = {0};
	fmt_counts(a, &b, secs);
	const char *how = ending(a);
	if (a->tokens)
		buf_printf(&b, ", tokens %ld prompt + %ld completion", a->prompt_tokens,
			   a->completion_tokens);
	log_event("%s: %s, %s %ld in %.2fs%s", how, b.p, a->written_as ? a->written_as : "wrote",
		  atomic_load(&a->st.written), secs,
		  code == EXIT_FAILURES && bad > 0 && (double)bad > a->max_failure_ratio * (double)read
			  ? " (FAILED: more failures than max_failure_ratio allows)" : "");
	buf_free(&b);

	if (a->summary_json) {
		struct buf j = {0};
		buf_printf(&j, "{\"tool\":\"%s\",\"read\":%ld,\"ok\":%ld,\"skipped\":%ld,"
			       "\"failed\":%ld,\"retried\":%ld,\"rejected\":%ld,\"written\":%ld,"
			       "\"seconds\":%.3f,\"rate\":%.3f,\"status\":\"%s\",\"exit\":%d}\n",
			   a->tool, read, atomic_load(&a->st.ok), atomic_load(&a->st.skipped),
			   atomic_load(&a->st.failed), atomic_load(&a->st.retried),
			   atomic_load(&a->st.rejected), atomic_load(&a->st.written), secs,
			   secs > 0 ? (double)read / secs : 0.0, how, code);
		if (a->tokens) {
			/* the same object with the tokens before its closing brace */
			j.len -= 2;
			buf_printf(&j, ",\"prompt_tokens\":%ld,\"completion_tokens\":%ld}\n",
				   a->prompt_tokens, a->completion_tokens);
		}
		if (!strcmp(a->summary_json, "-")) {
			ssize_t w = write(2, j.p, j.len);
			(void)w;
		} else {
			FILE *f = fopen(a->summary_json, "wb");
			int ok = f && fwrite(j.p, 1, j.len, f) == j.len;
			if (f && fclose(f))
				ok = 0;
			if (!ok) {
				log_error("cannot write summary %s: %s", a->summary_json, strerror(errno));
				if (code == EXIT_DONE)
					code = EXIT_FAILURES;
			}
		}
		buf_free(&j);
	}
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}
