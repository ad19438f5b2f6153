/* pool: worker threads, an ordered writer, backpressure; lock and thread
 * wrappers for the rest of lanes. */
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(call)                                                            \
	do {                                                                   \
		int rc_ = (call);                                              \
		if (rc_) {                                                     \
			fprintf(stderr, "lanes: %s:%d: %s: %s\n", __FILE__,    \
				__LINE__, #call, strerror(rc_));              \
			abort();                                               \
		}                                                              \
	} while (0)

struct lock {
	pthread_mutex_t m;
	pthread_cond_t c;
};

struct lock *lock_new(void)
{
	struct lock *l = xmalloc(sizeof *l);
	pthread_condattr_t ca;
	CHECK(pthread_mutex_init(&l->m, NULL));
	CHECK(pthread_condattr_init(&ca));
	CHECK(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	CHECK(pthread_cond_init(&l->c, &ca));
	CHECK(pthread_condattr_destroy(&ca));
	return l;
}

void lock_free(struct lock *l)
{
	if (!l)
		return;
	CHECK(pthread_mutex_destroy(&l->m));
	CHECK(pthread_cond_destroy(&l->c));
	free(l);
}

void lock_take(struct lock *l) { CHECK(pthread_mutex_lock(&l->m)); }
void lock_give(struct lock *l) { CHECK(pthread_mutex_unlock(&l->m)); }
void lock_wait(struct lock *l) { CHECK(pthread_cond_wait(&l->c, &l->m)); }
void lock_signal(struct lock *l) { CHECK(pthread_cond_signal(&l->c)); }
void lock_broadcast(struct lock *l) { CHECK(pthread_cond_broadcast(&l->c)); }

int lock_wait_ms(struct lock *l, double ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
	ts.tv_sec += (time_t)(ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	int rc = pthread_cond_timedwait(&l->c, &l->m, &ts);
	if (rc == ETIMEDOUT)
		return 1;
	CHECK(rc);
	return 0;
}

struct thread {
	pthread_t id;
};

struct thread *thread_start(void *(*fn)(void *), void *arg)
{
	struct thread *t = xmalloc(sizeof *t);
	CHECK(pthread_create(&t->id, NULL, fn, arg));
	return t;
}

void *thread_join(struct thread *t)
{
	void *ret = NULL;
	CHECK(pthread_join(t->id, &ret));
	free(t);
	return ret;
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* A submitted job waits in `todo` (FIFO) for a worker; when done it goes to
 * slot[seq % cap] (ordered) or the `done` FIFO (unordered) for the writer.
 *
 * One mutex guards it all, with a condition per kind of waiter (workers for
 * a job, the writer for the next result, submitters for room), and each is
 * signalled only when someone waits there and can go on: a finished job
 * wakes the writer only if it is the one the writer waits for, the writer
 * takes every result that is ready in one go, a waiting submitter is woken
 * when a quarter of the cap is free rather than at each emitted job, and
 * worker threads are started only when a job waits and no worker is free.
 * On 2 cores each needless wake-up costs about as much as a small request
 * to a server on the same machine. */
struct item {
	void *job;
	size_t seq;
	struct item *next;
};

struct pool {
	pthread_mutex_t m;      /* guards everything below */
	pthread_cond_t work_c;  /* workers wait for a job */
	pthread_cond_t ready_c; /* the writer waits for the next result */
	pthread_cond_t room_c;  /* submitters wait for room, pool_finish for the end */
	pool_work_fn work;
	pool_emit_fn emit;
	pool_idle_fn idle;
	void *ud;
	int (*need)(void *);
	void *need_ud;
	int ordered;
	int inline_emit;      /* workers emit; no writer thread */
	int emitting;         /* somebody has the writer's turn */
	int nworkers;         /* threads at most */
	int nthreads;         /* threads started */
	int idle_workers;     /* waiting on work_c */
	int wakes;            /* of them, signalled and not yet up */
	int writer_waiting;
	int room_waiting;     /* submitters and pool_finish on room_c */
	size_t cap;
	size_t room_wake;     /* free places that wake a waiting submitter */
	size_t next_seq;      /* next submission number */
	size_t next_emit;     /* ordered: next seq to emit */
	size_t inflight;
	struct item *todo_head, *todo_tail;
	struct item *done_head, *done_tail; /* unordered */
	struct item **slot;                 /* ordered, cap entries */
	int closing;
	struct thread **workers;
	struct thread *writer;
};

struct worker_arg {
	struct pool *p;
	int index;
};

/* Whether the writer has something to emit (p->m held). */
static int ready(const struct pool *p)
{
	return p->ordered ? p->slot[p->next_emit % p->cap] != NULL : p->done_head != NULL;
}

/* Takes the results ready to emit, in order, as a list (p->m held). */
static struct item *writer_take(struct pool *p)
{
	struct item *head = NULL, **tail = &head;
	if (p->ordered) {
		for (;;) {
			size_t k = p->next_emit % p->cap;
			struct item *it = p->slot[k];
			if (!it)
				break;
			p->slot[k] = NULL;
			p->next_emit++;
			*tail = it;
			tail = &it->next;
		}
		*tail = NULL;
	} else {
		head = p->done_head;
		p->done_head = p->done_tail = NULL;
	}
	return head;
}

/* The writer's turn (p->m held, p->emitting set by the caller): emits what
 * is ready, and calls idle once when nothing is, until nothing is ready
 * after it; p->m is let go of around emit and idle. */
static void write_ready(struct pool *p, int *idle_called)
{
	for (;;) {
		struct item *it = writer_take(p);
		if (it) {
			CHECK(pthread_mutex_unlock(&p->m));
			size_t n = 0;
			while (it) {
				struct item *next = it->next;
				p->emit(it->job, p->ud);
				free(it);
				it = next;
				n++;
			}
			*idle_called = 0;
			CHECK(pthread_mutex_lock(&p->m));
			p->inflight -= n;
			if (p->room_waiting && (p->cap - p->inflight >= p->room_wake || !p->inflight))
				CHECK(pthread_cond_broadcast(&p->room_c));
			continue;
		}
		if (*idle_called || !p->idle)
			return;
		CHECK(pthread_mutex_unlock(&p->m));
		p->idle(p->ud);
		*idle_called = 1;
		CHECK(pthread_mutex_lock(&p->m));
	}
}

/* Workers useful now, at least 1 (p->m held). */
static int need_now(struct pool *p)
{
	int n = p->need ? p->need(p->need_ud) : p->nworkers;
	return n < 1 ? 1 : n;
}

/* A worker about to take a job is one more than useful (the need went
 * down): it waits instead, and a busy one takes the job (p->m held). */
static int over_need(struct pool *p)
{
	return p->need && p->nthreads - p->idle_workers > need_now(p);
}

static void dispatch(struct pool *p);

/* The pool of a worker thread (NULL on other threads). */
static _Thread_local struct pool *worker_pool;

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int index = wa->index;
	free(wa);
	worker_pool = p;
	CHECK(pthread_mutex_lock(&p->m));
	for (;;) {
		while ((!p->todo_head && !p->closing) || (p->todo_head && over_need(p))) {
			p->idle_workers++;
			CHECK(pthread_cond_wait(&p->work_c, &p->m));
			p->idle_workers--;
			if (p->wakes > 0)
				p->wakes--;
		}
		struct item *it = p->todo_head;
		if (!it)
			break;
		p->todo_head = it->next;
		/* more work queued: one more worker for it, if useful now (the
		 * need may have grown since it was queued: a raised limit is
		 * filled within a few jobs, not one thread per finished job) */
		if (p->todo_head)
			dispatch(p);
		if (!p->todo_head) {
			p->todo_tail = NULL;
			/* the workers left waiting over the need may end now */
			if (p->closing && p->idle_workers)
				CHECK(pthread_cond_broadcast(&p->work_c));
		}
		CHECK(pthread_mutex_unlock(&p->m));

		p->work(it->job, index, p->ud);

		it->next = NULL;
		CHECK(pthread_mutex_lock(&p->m));
		int wake;
		if (p->ordered) {
			p->slot[it->seq % p->cap] = it;
			wake = it->seq == p->next_emit;
		} else {
			if (p->done_tail)
				p->done_tail->next = it;
			else
				p->done_head = it;
			p->done_tail = it;
			wake = 1;
		}
		if (!wake)
			continue;
		if (p->inline_emit) {
			/* this worker takes the writer's turn unless another
			 * has it (that one sees this result before it lets go) */
			if (!p->emitting) {
				int idle_called = 0;
				p->emitting = 1;
				write_ready(p, &idle_called);
				p->emitting = 0;
			}
		} else if (p->writer_waiting) {
			CHECK(pthread_cond_signal(&p->ready_c));
		}
	}
	CHECK(pthread_mutex_unlock(&p->m));
	return NULL;
}

static void *writer_main(void *arg)
{
	struct pool *p = arg;
	int idle_called = 0;
	CHECK(pthread_mutex_lock(&p->m));
	for (;;) {
		p->emitting = 1;
		write_ready(p, &idle_called);
		p->emitting = 0;
		if (p->closing && p->inflight == 0)
			break;
		if (ready(p))
			continue;
		p->writer_waiting = 1;
		CHECK(pthread_cond_wait(&p->ready_c, &p->m));
		p->writer_waiting = 0;
	}
	CHECK(pthread_mutex_unlock(&p->m));
	return NULL;
}

static void cond_init(pthread_cond_t *c)
{
	CHECK(pthread_cond_init(c, NULL));
}

struct pool *pool_new(int workers, size_t max_inflight, int ordered,
		      pool_work_fn work, pool_emit_fn emit, pool_idle_fn idle,
		      void *ud)
{
	struct pool *p = xcalloc(1, sizeof *p);
	if (workers < 1)
		workers = 1;
	if (max_inflight < 1)
		max_inflight = 1;
	CHECK(pthread_mutex_init(&p->m, NULL));
	cond_init(&p->work_c);
	cond_init(&p->ready_c);
	cond_init(&p->room_c);
	p->work = work;
	p->emit = emit;
	p->idle = idle;
	p->ud = ud;
	p->ordered = ordered;
	p->nworkers = workers;
	p->cap = max_inflight;
	p->room_wake = max_inflight / 4 ? max_inflight / 4 : 1;
	p->slot = xcalloc(max_inflight, sizeof *p->slot);
	p->workers = xcalloc((size_t)workers, sizeof *p->workers);
	return p;
}

void pool_set_need(struct pool *p, int (*need)(void *ud), void *ud)
{
	CHECK(pthread_mutex_lock(&p->m));
	p->need = need;
	p->need_ud = ud;
	CHECK(pthread_mutex_unlock(&p->m));
}

void pool_set_inline_emit(struct pool *p)
{
	CHECK(pthread_mutex_lock(&p->m));
	if (!p->writer && !p->next_seq)
		p->inline_emit = 1;
	CHECK(pthread_mutex_unlock(&p->m));
}

/* A job was queued (p->m held): a free worker takes it, else a new thread
 * if one more is allowed and useful; else it waits for a busy worker. */
static void dispatch(struct pool *p)
{
	/* workers busy or about to be: as many as are useful, the job waits
	 * for one of them */
	int active = p->nthreads - p->idle_workers + p->wakes;
	if (active > 0 && p->need && active >= need_now(p))
		return;
	if (p->idle_workers > p->wakes) {
		p->wakes++;
		CHECK(pthread_cond_signal(&p->work_c));
		return;
	}
	if (p->nthreads >= p->nworkers)
		return;
	struct worker_arg *wa = xmalloc(sizeof *wa);
	wa->p = p;
	wa->index = p->nthreads;
	p->workers[p->nthreads++] = thread_start(worker_main, wa);
}

void pool_submit(struct pool *p, void *job)
{
	struct item *it = xmalloc(sizeof *it);
	it->job = job;
	it->next = NULL;
	CHECK(pthread_mutex_lock(&p->m));
	if (!p->writer && !p->inline_emit)
		p->writer = thread_start(writer_main, p);
	while (p->inflight >= p->cap) {
		p->room_waiting++;
		CHECK(pthread_cond_wait(&p->room_c, &p->m));
		p->room_waiting--;
	}
	it->seq = p->next_seq++;
	p->inflight++;
	if (p->todo_tail)
		p->todo_tail->next = it;
	else
		p->todo_head = it;
	p->todo_tail = it;
	dispatch(p);
	CHECK(pthread_mutex_unlock(&p->m));
}

void pool_worker_waits(void)
{
	struct pool *p = worker_pool;
	if (!p)
		return;
	CHECK(pthread_mutex_lock(&p->m));
	if (p->todo_head)
		dispatch(p);
	CHECK(pthread_mutex_unlock(&p->m));
}

size_t pool_inflight(struct pool *p)
{
	CHECK(pthread_mutex_lock(&p->m));
	size_t n = p->inflight;
	CHECK(pthread_mutex_unlock(&p->m));
	return n;
}

int pool_threads(struct pool *p)
{
	CHECK(pthread_mutex_lock(&p->m));
	int n = p->nthreads;
	CHECK(pthread_mutex_unlock(&p->m));
	return n;
}

void pool_finish(struct pool *p)
{
	CHECK(pthread_mutex_lock(&p->m));
	/* workers that emit end when the last job is emitted */
	while (p->inline_emit && p->inflight > 0) {
		p->room_waiting++;
		CHECK(pthread_cond_wait(&p->room_c, &p->m));
		p->room_waiting--;
	}
	p->closing = 1;
	CHECK(pthread_cond_broadcast(&p->work_c));
	CHECK(pthread_cond_signal(&p->ready_c));
	CHECK(pthread_mutex_unlock(&p->m));
	/* a worker may start another for the jobs still queued until it
	 * ends: the count is read again after each join */
	for (int i = 0;; i++) {
		CHECK(pthread_mutex_lock(&p->m));
		int n = p->nthreads;
		CHECK(pthread_mutex_unlock(&p->m));
		if (i >= n)
			break;
		thread_join(p->workers[i]);
	}
	if (p->writer)
		thread_join(p->writer);
	free(p->workers);
	free(p->slot);
	CHECK(pthread_mutex_destroy(&p->m));
	CHECK(pthread_cond_destroy(&p->work_c));
	CHECK(pthread_cond_destroy(&p->ready_c));
	CHECK(pthread_cond_destroy(&p->room_c));
	free(p);
}
