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
 * slot[seq % cap] (ordered) or the `done` FIFO (unordered) for the writer. */
struct item {
	void *job;
	size_t seq;
	struct item *next;
};

struct pool {
	struct lock *l;       /* guards everything below */
	struct lock *wl;      /* writer's wake-ups, same data */
	pool_work_fn work;
	pool_emit_fn emit;
	pool_idle_fn idle;
	void *ud;
	int ordered;
	int nworkers;
	size_t cap;
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

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int index = wa->index;
	free(wa);
	for (;;) {
		lock_take(p->l);
		while (!p->todo_head && !p->closing)
			lock_wait(p->l);
		struct item *it = p->todo_head;
		if (!it) {
			lock_give(p->l);
			return NULL;
		}
		p->todo_head = it->next;
		if (!p->todo_head)
			p->todo_tail = NULL;
		lock_give(p->l);

		p->work(it->job, index, p->ud);

		lock_take(p->wl);
		it->next = NULL;
		if (p->ordered) {
			p->slot[it->seq % p->cap] = it;
		} else {
			if (p->done_tail)
				p->done_tail->next = it;
			else
				p->done_head = it;
			p->done_tail = it;
		}
		lock_signal(p->wl);
		lock_give(p->wl);
	}
}

static struct item *writer_take(struct pool *p)
{
	struct item *it;
	if (p->ordered) {
		size_t k = p->next_emit % p->cap;
		it = p->slot[k];
		if (it) {
			p->slot[k] = NULL;
			p->next_emit++;
		}
	} else {
		it = p->done_head;
		if (it) {
			p->done_head = it->next;
			if (!p->done_head)
				p->done_tail = NULL;
		}
	}
	return it;
}

static void *writer_main(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		lock_take(p->wl);
		struct item *it = writer_take(p);
		if (!it) {
			int idle_called = 0;
			while (!(it = writer_take(p))) {
				lock_take(p->l);
				int finished = p->closing && p->inflight == 0;
				lock_give(p->l);
				if (finished) {
					lock_give(p->wl);
					return NULL;
				}
				if (!idle_called && p->idle) {
					lock_give(p->wl);
					p->idle(p->ud);
					idle_called = 1;
					lock_take(p->wl);
					continue;
				}
				lock_wait_ms(p->wl, 200);
			}
		}
		lock_give(p->wl);

		p->emit(it->job, p->ud);
		free(it);

		lock_take(p->l);
		p->inflight--;
		lock_broadcast(p->l); /* a submitter may wait for room */
		lock_give(p->l);
	}
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
	p->l = lock_new();
	p->wl = lock_new();
	p->work = work;
	p->emit = emit;
	p->idle = idle;
	p->ud = ud;
	p->ordered = ordered;
	p->nworkers = workers;
	p->cap = max_inflight;
	p->slot = xcalloc(max_inflight, sizeof *p->slot);
	p->workers = xcalloc((size_t)workers, sizeof *p->workers);
	for (int i = 0; i < workers; i++) {
		struct worker_arg *wa = xmalloc(sizeof *wa);
		wa->p = p;
		wa->index = i;
		p->workers[i] = thread_start(worker_main, wa);
	}
	p->writer = thread_start(writer_main, p);
	return p;
}

void pool_submit(struct pool *p, void *job)
{
	struct item *it = xmalloc(sizeof *it);
	it->job = job;
	it->next = NULL;
	lock_take(p->l);
	while (p->inflight >= p->cap)
		lock_wait(p->l);
	it->seq = p->next_seq++;
	p->inflight++;
	if (p->todo_tail)
		p->todo_tail->next = it;
	else
		p->todo_head = it;
	p->todo_tail = it;
	lock_broadcast(p->l);
	lock_give(p->l);
}

size_t pool_inflight(struct pool *p)
{
	lock_take(p->l);
	size_t n = p->inflight;
	lock_give(p->l);
	return n;
}

void pool_finish(struct pool *p)
{
	lock_take(p->l);
	p->closing = 1;
	lock_broadcast(p->l);
	lock_give(p->l);
	lock_take(p->wl);
	lock_signal(p->wl);
	lock_give(p->wl);
	for (int i = 0; i < p->nworkers; i++)
		thread_join(p->workers[i]);
	thread_join(p->writer);
	free(p->workers);
	free(p->slot);
	lock_free(p->l);
	lock_free(p->wl);
	free(p);
}
