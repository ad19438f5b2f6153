/* llmd_state.c: llmd's shared state behind one mutex: runtime tunables, the
 * FIFO lane queue, the fault generator, the counters of /_double/stats and
 * the list of open connections (so that shutdown can unblock them). */
#include "llmd.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct waiter {
	pthread_cond_t cv;
	int granted;
	struct waiter *next;
};

struct count {
	char *key;
	long long n;
};

#define MAX_PATHS 64 /* distinct paths counted; the rest go to "other" */

static void free_counts(struct count **c, size_t *n);

static struct {
	pthread_mutex_t mu;
	pthread_cond_t stop_cv; /* CLOCK_MONOTONIC: sleepers, shutdown */
	struct llmd_tunables t;
	uint64_t rng;
	int stopping;

	/* lanes */
	long in_use;
	long queued;
	struct waiter *head, *tail;
	/* the model's work (compute_begin .. compute_end) */
	long computing;
	unsigned long long compute_started;

	/* counters */
	long long requests, chat_requests, embed_requests, embed_inputs;
	long long http_requests, rejected;
	long long connections;
	long open_connections;
	long peak_concurrency, peak_queue;
	long long faults[FAULT_COUNT];
	long long by_status[600];
	struct count *paths;
	size_t npaths;
	struct count *answered; /* model answers sent whole, by path */
	size_t nanswered;
	struct count *scripted; /* scripted replies sent, by name */
	size_t nscripted;
	struct count *batches; /* key unused: n per size in sizes[] */
	long *sizes;
	size_t nbatches;
	double *model_used;

	/* connections */
	int *fds;
	size_t nfds, capfds;
} st = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void lock(void)
{
	int e = pthread_mutex_lock(&st.mu);
	if (e)
		log_fatal("%s:%d: pthread_mutex_lock: %s", __FILE__, __LINE__, strerror(e));
}

static void unlock(void)
{
	pthread_mutex_unlock(&st.mu);
}

static const char *const fault_names[FAULT_COUNT] = {
	"none", "429", "500", "503", "drop", "truncate", "badjson", "slow", "other",
};

const char *fault_name(enum fault f)
{
	return fault_names[f];
}

int fault_parse_list(const char *list, unsigned *mask, struct buf *err)
{
	unsigned m = 0;
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int found = 0;
		if (n == 3 && !strncmp(p, "all", 3)) {
			m |= FAULT_ALL_MASK;
			found = 1;
		}
		for (int f = FAULT_429; f <= FAULT_SLOW && !found; f++) {
			if (strlen(fault_names[f]) == n && !strncmp(p, fault_names[f], n)) {
				m |= 1u << f;
				found = 1;
			}
		}
		if (!found && n) {
			buf_printf(err, "unknown fault '%.*s' (want a comma list of "
				   "429,500,503,drop,truncate,badjson,slow or all)", (int)n, p);
			return -1;
		}
		p += n + (e != NULL);
	}
	*mask = m;
	return 0;
}

int fail_all_parse(const char *s, int *out)
{
	long v;
	if (!*s || !strcmp(s, "none") || !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (!strcmp(s, "drop")) {
		*out = FAIL_ALL_DROP;
		return 0;
	}
	if (parse_long(s, 100, 599, &v))
		return -1;
	*out = (int)v;
	return 0;
}

void state_init(const struct llmd_tunables *t)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st.stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	st.t = *t;
	st.rng = llmd.seed;
	st.model_used = xcalloc(llmd.nmodels ? llmd.nmodels : 1, sizeof *st.model_used);
}

void state_free(void)
{
	lock();
	free_counts(&st.paths, &st.npaths);
	free_counts(&st.answered, &st.nanswered);
	free_counts(&st.scripted, &st.nscripted);
	free(st.batches);
	free(st.sizes);
	free(st.model_used);
	free(st.fds);
	st.batches = NULL;
	st.sizes = NULL;
	st.model_used = NULL;
	st.fds = NULL;
	st.npaths = st.nbatches = st.nfds = st.capfds = 0;
	unlock();
	pthread_cond_destroy(&st.stop_cv);
}

void state_tunables(struct llmd_tunables *out)
{
	lock();
	*out = st.t;
	unlock();
}

/* splitmix64 */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double state_rand01(void)
{
	lock();
	uint64_t r = next_rand(&st.rng);
	unlock();
	return (double)(r >> 11) / 9007199254740992.0;
}

enum fault state_pick_fault(const struct llmd_tunables *t, int chat)
{
	if (t->fail_all == FAIL_ALL_DROP)
		return FAULT_DROP;
	switch (t->fail_all) {
	case 0: break;
	case 429: return FAULT_429;
	case 500: return FAULT_500;
	case 503: return FAULT_503;
	default: return FAULT_OTHER;
	}
	unsigned mask = t->faults & FAULT_ALL_MASK;
	if (!chat)
		mask &= ~(1u << FAULT_BADJSON);
	if (t->fault_rate <= 0 || !mask)
		return FAULT_NONE;
	lock();
	uint64_t r1 = next_rand(&st.rng), r2 = next_rand(&st.rng);
	unlock();
	if ((double)(r1 >> 11) / 9007199254740992.0 >= t->fault_rate)
		return FAULT_NONE;
	int kinds[FAULT_COUNT], n = 0;
	for (int f = FAULT_429; f <= FAULT_SLOW; f++)
		if (mask & (1u << f))
			kinds[n++] = f;
	return (enum fault)kinds[r2 % (uint64_t)n];
}

/* ---- lanes: a FIFO of waiters, each with its own condition ---- */
static void grant_waiters(void)
{
	while (st.head && st.in_use < st.t.lanes) {
		struct waiter *w = st.head;
		st.head = w->next;
		if (!st.head)
			st.tail = NULL;
		st.queued--;
		st.in_use++;
		w->granted = 1;
		pthread_cond_signal(&w->cv);
	}
	if (st.in_use > st.peak_concurrency)
		st.peak_concurrency = st.in_use;
}

enum lane_result lane_acquire(void)
{
	lock();
	if (st.stopping) {
		unlock();
		return LANE_STOPPING;
	}
	if (!st.head && st.in_use < st.t.lanes) {
		st.in_use++;
		if (st.in_use > st.peak_concurrency)
			st.peak_concurrency = st.in_use;
		unlock();
		return LANE_OK;
	}
	if (st.queued >= st.t.queue_max) {
		st.rejected++;
		unlock();
		return LANE_FULL;
	}
	struct waiter w = {.granted = 0};
	pthread_cond_init(&w.cv, NULL);
	if (st.tail)
		st.tail->next = &w;
	else
		st.head = &w;
	st.tail = &w;
	st.queued++;
	if (st.queued > st.peak_queue)
		st.peak_queue = st.queued;
	while (!w.granted && !st.stopping)
		pthread_cond_wait(&w.cv, &st.mu);
	enum lane_result r = LANE_OK;
	if (!w.granted) {
		/* stopping: leave the queue */
		struct waiter **pp = &st.head, *prev = NULL;
		while (*pp && *pp != &w)
			prev = *pp, pp = &(*pp)->next;
		if (*pp) {
			*pp = w.next;
			if (st.tail == &w)
				st.tail = prev;
			st.queued--;
		}
		r = LANE_STOPPING;
	}
	unlock();
	pthread_cond_destroy(&w.cv);
	return r;
}

void lane_release(void)
{
	lock();
	st.in_use--;
	grant_waiters();
	unlock();
}

void compute_begin(struct compute_mark *m)
{
	lock();
	m->computing = ++st.computing;
	m->started = ++st.compute_started;
	unlock();
}

long compute_end(const struct compute_mark *m)
{
	lock();
	/* those at work when it began, and those that began since */
	long beside = m->computing - 1 + (long)(st.compute_started - m->started);
	st.computing--;
	unlock();
	return beside;
}

int state_sleep(double ms)
{
	if (ms <= 0)
		return state_stopping() ? -1 : 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	long long ns = (long long)(ms * 1e6);
	dl.tv_sec += (time_t)(ns / 1000000000LL);
	dl.tv_nsec += (long)(ns % 1000000000LL);
	if (dl.tv_nsec >= 1000000000L)
		dl.tv_sec++, dl.tv_nsec -= 1000000000L;
	lock();
	int e = 0;
	while (!st.stopping && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&st.stop_cv, &st.mu, &dl);
	int r = st.stopping ? -1 : 0;
	unlock();
	return r;
}

int state_stopping(void)
{
	lock();
	int s = st.stopping;
	unlock();
	return s;
}

/* ---- runtime configuration ---- */
static int cfg_num(const cJSON *v, const char *key, double min, double max,
		   double *out, struct buf *err)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max) {
		buf_printf(err, "%s: want a number in [%g, %g]", key, min, max);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

int state_configure(const cJSON *obj, struct buf *err)
{
	if (!cJSON_IsObject(obj)) {
		buf_puts(err, "want a JSON object");
		return -1;
	}
	lock();
	struct llmd_tunables t = st.t;
	uint64_t seed = st.rng;
	int reseed = 0;
	unlock();
	const cJSON *v;
	double x;
	cJSON_ArrayForEach(v, obj) {
		const char *k = v->string;
		int bad = 0;
		if (!strcmp(k, "lanes")) {
			bad = cfg_num(v, k, 1, 1e6, &x, err);
			t.lanes = (long)x;
		} else if (!strcmp(k, "queue_max")) {
			bad = cfg_num(v, k, 0, 1e9, &x, err);
			t.queue_max = (long)x;
		} else if (!strcmp(k, "latency_ms")) {
			bad = cfg_num(v, k, 0, 1e9, &t.latency_ms, err);
		} else if (!strcmp(k, "per_item_ms")) {
			bad = cfg_num(v, k, 0, 1e9, &t.per_item_ms, err);
		} else if (!strcmp(k, "jitter_ms")) {
			bad = cfg_num(v, k, 0, 1e9, &t.jitter_ms, err);
		} else if (!strcmp(k, "slow_ms")) {
			bad = cfg_num(v, k, 0, 1e9, &t.slow_ms, err);
		} else if (!strcmp(k, "fault_rate")) {
			bad = cfg_num(v, k, 0, 1, &t.fault_rate, err);
		} else if (!strcmp(k, "retry_after")) {
			bad = cfg_num(v, k, 0, 1e9, &x, err);
			t.retry_after = (long)x;
		} else if (!strcmp(k, "retry_after_date")) {
			t.retry_after_date = cJSON_IsTrue(v);
			bad = !cJSON_IsBool(v);
			if (bad)
				buf_printf(err, "%s: want true or false", k);
		} else if (!strcmp(k, "max_batch")) {
			bad = cfg_num(v, k, 0, 1e9, &x, err);
			t.max_batch = (long)x;
		} else if (!strcmp(k, "batch_noise")) {
			bad = cfg_num(v, k, 0, 1e6, &t.batch_noise, err);
		} else if (!strcmp(k, "batch_flip")) {
			bad = cfg_num(v, k, 0, 1, &t.batch_flip, err);
		} else if (!strcmp(k, "seed")) {
			bad = cfg_num(v, k, 0, 9007199254740992.0, &x, err);
			seed = (uint64_t)x;
			reseed = 1;
		} else if (!strcmp(k, "faults")) {
			if (cJSON_IsString(v)) {
				bad = fault_parse_list(v->valuestring, &t.faults, err);
			} else if (cJSON_IsArray(v)) {
				struct buf list = {0};
				const cJSON *e;
				cJSON_ArrayForEach(e, v) {
					if (list.len)
						buf_putc(&list, ',');
					if (cJSON_IsString(e))
						buf_puts(&list, e->valuestring);
					else if (cJSON_IsNumber(e))
						buf_printf(&list, "%d", e->valueint);
					else
						buf_puts(&list, "?");
				}
				bad = fault_parse_list(list.p ? list.p : "", &t.faults, err);
				buf_free(&list);
			} else {
				bad = 1;
				buf_printf(err, "%s: want a comma list or an array", k);
			}
		} else if (!strcmp(k, "fail_all")) {
			char num[32];
			const char *s = num;
			if (cJSON_IsNull(v) || cJSON_IsFalse(v))
				s = "none";
			else if (cJSON_IsNumber(v))
				snprintf(num, sizeof num, "%d", v->valueint);
			else if (cJSON_IsString(v))
				s = v->valuestring;
			else
				s = "?";
			bad = fail_all_parse(s, &t.fail_all);
			if (bad)
				buf_printf(err, "%s: want an HTTP status, \"drop\" or null", k);
		} else {
			bad = 1;
			buf_printf(err, "unknown setting '%s'", k);
		}
		if (bad)
			return -1;
	}
	lock();
	st.t = t;
	if (reseed)
		st.rng = seed;
	grant_waiters();
	unlock();
	return 0;
}

void state_config_json(struct buf *out)
{
	struct llmd_tunables t;
	state_tunables(&t);
	buf_printf(out, "{\"lanes\":%ld,\"queue_max\":%ld,\"latency_ms\":%g,"
		   "\"per_item_ms\":%g,\"jitter_ms\":%g,\"slow_ms\":%g,"
		   "\"fault_rate\":%g,\"faults\":[",
		   t.lanes, t.queue_max, t.latency_ms, t.per_item_ms, t.jitter_ms,
		   t.slow_ms, t.fault_rate);
	int first = 1;
	for (int f = FAULT_429; f <= FAULT_SLOW; f++) {
		if (!(t.faults & (1u << f)))
			continue;
		buf_printf(out, "%s\"%s\"", first ? "" : ",", fault_names[f]);
		first = 0;
	}
	buf_puts(out, "],\"fail_all\":");
	if (t.fail_all == FAIL_ALL_DROP)
		buf_puts(out, "\"drop\"");
	else if (t.fail_all)
		buf_printf(out, "%d", t.fail_all);
	else
		buf_puts(out, "null");
	buf_printf(out, ",\"retry_after\":%ld,\"retry_after_date\":%s,\"max_batch\":%ld,"
		   "\"batch_noise\":%g,\"batch_flip\":%g,\"dim\":%ld,\"api_key\":%s}\n",
		   t.retry_after, t.retry_after_date ? "true" : "false", t.max_batch,
		   t.batch_noise, t.batch_flip, llmd.dim, llmd.api_key ? "true" : "false");
}

/* ---- counters ---- */
/* Adds one to key's count (the lock held); past MAX_PATHS keys, to
 * "other". */
static void count_key(struct count **c, size_t *n, const char *key)
{
	size_t i;
	for (i = 0; i < *n; i++)
		if (!strcmp((*c)[i].key, key))
			break;
	if (i == *n && *n >= MAX_PATHS) {
		for (i = 0; i < *n; i++)
			if (!strcmp((*c)[i].key, "other"))
				break;
	}
	if (i == *n) {
		*c = xrealloc(*c, (*n + 1) * sizeof **c);
		(*c)[i].key = xstrdup(*n + 1 >= MAX_PATHS ? "other" : key);
		(*c)[i].n = 0;
		(*n)++;
	}
	(*c)[i].n++;
}

static void put_counts(struct buf *out, const struct count *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		buf_json_str(out, c[i].key, strlen(c[i].key));
		buf_printf(out, ":%lld", c[i].n);
	}
}

static void free_counts(struct count **c, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*c)[i].key);
	free(*c);
	*c = NULL;
	*n = 0;
}

void stats_http(const char *path, int status)
{
	lock();
	st.http_requests++;
	if (status >= 100 && status < 600)
		st.by_status[status]++;
	count_key(&st.paths, &st.npaths, path);
	unlock();
}

void stats_answered(const char *path)
{
	lock();
	count_key(&st.answered, &st.nanswered, path);
	unlock();
}

void stats_scripted(const char *name)
{
	lock();
	count_key(&st.scripted, &st.nscripted, name);
	unlock();
}

void stats_model_request(int chat)
{
	lock();
	st.requests++;
	if (chat)
		st.chat_requests++;
	else
		st.embed_requests++;
	unlock();
}

void stats_fault(enum fault f)
{
	lock();
	st.faults[f]++;
	unlock();
}

void stats_embed_batch(long inputs)
{
	lock();
	st.embed_inputs += inputs;
	size_t i;
	for (i = 0; i < st.nbatches; i++)
		if (st.sizes[i] == inputs)
			break;
	if (i == st.nbatches) {
		/* keep sizes sorted for a readable histogram */
		st.sizes = xrealloc(st.sizes, (st.nbatches + 1) * sizeof *st.sizes);
		st.batches = xrealloc(st.batches, (st.nbatches + 1) * sizeof *st.batches);
		for (i = st.nbatches; i > 0 && st.sizes[i - 1] > inputs; i--) {
			st.sizes[i] = st.sizes[i - 1];
			st.batches[i] = st.batches[i - 1];
		}
		st.sizes[i] = inputs;
		st.batches[i].key = NULL;
		st.batches[i].n = 0;
		st.nbatches++;
	}
	st.batches[i].n++;
	unlock();
}

void stats_model_used(const struct llmd_model *m)
{
	size_t i = (size_t)(m - llmd.models);
	lock();
	if (i < llmd.nmodels)
		st.model_used[i] = wall_time();
	unlock();
}

double stats_model_last_used(size_t i)
{
	lock();
	double t = i < llmd.nmodels ? st.model_used[i] : 0;
	unlock();
	return t;
}

long stats_in_flight(void)
{
	lock();
	long n = st.in_use;
	unlock();
	return n;
}

void stats_json(struct buf *out)
{
	lock();
	buf_printf(out, "{\"requests\":%lld,\"chat_requests\":%lld,"
		   "\"embed_requests\":%lld,\"embed_inputs\":%lld,"
		   "\"http_requests\":%lld,\"rejected\":%lld,"
		   "\"connections\":%lld,\"open_connections\":%ld,"
		   "\"lanes\":%ld,\"in_flight\":%ld,\"queued\":%ld,"
		   "\"peak_concurrency\":%ld,\"peak_queue\":%ld,\"by_path\":{",
		   st.requests, st.chat_requests, st.embed_requests, st.embed_inputs,
		   st.http_requests, st.rejected, st.connections, st.open_connections,
		   st.t.lanes, st.in_use, st.queued, st.peak_concurrency, st.peak_queue);
	put_counts(out, st.paths, st.npaths);
	buf_puts(out, "},\"answered\":{");
	put_counts(out, st.answered, st.nanswered);
	buf_puts(out, "},\"scripted\":{");
	put_counts(out, st.scripted, st.nscripted);
	buf_puts(out, "},\"by_status\":{");
	int first = 1;
	for (int s = 100; s < 600; s++) {
		if (!st.by_status[s])
			continue;
		buf_printf(out, "%s\"%d\":%lld", first ? "" : ",", s, st.by_status[s]);
		first = 0;
	}
	buf_puts(out, "},\"faults\":{");
	for (int f = FAULT_429; f < FAULT_COUNT; f++)
		buf_printf(out, "%s\"%s\":%lld", f == FAULT_429 ? "" : ",",
			   fault_names[f], st.faults[f]);
	buf_puts(out, "},\"batch_sizes\":{");
	for (size_t i = 0; i < st.nbatches; i++)
		buf_printf(out, "%s\"%ld\":%lld", i ? "," : "", st.sizes[i], st.batches[i].n);
	buf_puts(out, "}}\n");
	unlock();
}

void stats_reset(void)
{
	lock();
	st.requests = st.chat_requests = st.embed_requests = st.embed_inputs = 0;
	st.http_requests = st.rejected = st.connections = 0;
	st.peak_concurrency = st.in_use;
	st.peak_queue = st.queued;
	memset(st.faults, 0, sizeof st.faults);
	memset(st.by_status, 0, sizeof st.by_status);
	free_counts(&st.paths, &st.npaths);
	free_counts(&st.answered, &st.nanswered);
	free_counts(&st.scripted, &st.nscripted);
	free(st.batches);
	free(st.sizes);
	st.batches = NULL;
	st.sizes = NULL;
	st.nbatches = 0;
	unlock();
}

/* ---- connections ---- */
void conn_register(int fd)
{
	lock();
	if (st.nfds == st.capfds) {
		st.capfds = st.capfds ? st.capfds * 2 : 64;
		st.fds = xrealloc(st.fds, st.capfds * sizeof *st.fds);
	}
	st.fds[st.nfds++] = fd;
	st.connections++;
	st.open_connections++;
	if (st.stopping)
		shutdown(fd, SHUT_RDWR);
	unlock();
}

void conn_unregister(int fd)
{
	lock();
	for (size_t i = 0; i < st.nfds; i++) {
		if (st.fds[i] == fd) {
			st.fds[i] = st.fds[--st.nfds];
			break;
		}
	}
	st.open_connections--;
	if (st.stopping)
		pthread_cond_broadcast(&st.stop_cv);
	unlock();
}

long state_stop(double timeout_ms)
{
	lock();
	st.stopping = 1;
	for (struct waiter *w = st.head; w; w = w->next)
		pthread_cond_signal(&w->cv);
	for (size_t i = 0; i < st.nfds; i++)
		shutdown(st.fds[i], SHUT_RDWR);
	pthread_cond_broadcast(&st.stop_cv);
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	long long ns = (long long)(timeout_ms * 1e6);
	dl.tv_sec += (time_t)(ns / 1000000000LL);
	dl.tv_nsec += (long)(ns % 1000000000LL);
	if (dl.tv_nsec >= 1000000000L)
		dl.tv_sec++, dl.tv_nsec -= 1000000000L;
	int e = 0;
	while (st.open_connections > 0 && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&st.stop_cv, &st.mu, &dl);
	long left = st.open_connections;
	unlock();
	return left;
}
