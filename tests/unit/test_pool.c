/* Unit tests of common/pool.c: order, backpressure, unordered completeness,
 * with a writer thread and with workers that emit; threads started only as
 * jobs need them, and no more than the need callback allows. */
#include "pool.h"
#include "t.h"
#include "util.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>

struct state {
	long next;
	long out_of_order;
	long emitted;
	size_t max_inflight_seen;
	struct pool *p;
	char *seen;
};

static void work(void *job, int worker, void *ud)
{
	(void)ud;
	(void)worker;
	long v = *(long *)job;
	/* uneven work so that completion order differs from input order */
	sleep_ms((double)((v * 7919) % 5) * 0.2);
}

static void emit(void *job, void *ud)
{
	struct state *s = ud;
	long v = *(long *)job;
	if (v != s->next)
		s->out_of_order++;
	s->next = v + 1;
	s->seen[v]++;
	s->emitted++;
	free(job);
}

static void run(int ordered, int workers, size_t cap, long n, int inline_emit)
{
	struct state s = {0};
	s.seen = xcalloc((size_t)n, 1);
	s.p = pool_new(workers, cap, ordered, work, emit, NULL, &s);
	if (inline_emit)
		pool_set_inline_emit(s.p);
	size_t peak = 0;
	for (long i = 0; i < n; i++) {
		long *job = xmalloc(sizeof *job);
		*job = i;
		pool_submit(s.p, job);
		size_t f = pool_inflight(s.p);
		if (f > peak)
			peak = f;
	}
	pool_finish(s.p);
	long once = 0;
	for (long i = 0; i < n; i++)
		once += s.seen[i] == 1;
	T_EQ_INT(s.emitted, n, ordered ? "ordered: all emitted" : "unordered: all emitted");
	T_EQ_INT(once, n, "each job emitted exactly once");
	if (ordered)
		T_EQ_INT(s.out_of_order, 0, "ordered: emitted in input order");
	T_OK(peak <= cap, "in flight never above the cap (peak %zu, cap %zu)", peak, cap);
	free(s.seen);
}

/* Threads of this process, from /proc/self/task. */
static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void quick(void *job, int worker, void *ud)
{
	(void)job;
	(void)worker;
	(void)ud;
}

static void drop(void *job, void *ud)
{
	atomic_long *emitted = ud;
	free(job);
	atomic_fetch_add(emitted, 1);
}

/* Jobs one at a time, each emitted before the next is submitted: one
 * worker is enough, however many are allowed. */
static void one_at_a_time(int inline_emit)
{
	atomic_long emitted = 0;
	int before = task_count();
	struct pool *p = pool_new(8, 20, 1, quick, drop, NULL, &emitted);
	if (inline_emit)
		pool_set_inline_emit(p);
	for (long i = 0; i < 50; i++) {
		pool_submit(p, xmalloc(1));
		while (atomic_load(&emitted) <= i)
			sleep_ms(0.05);
	}
	T_EQ_INT(pool_threads(p), 1, inline_emit ? "workers emit: one job at a time starts one worker"
			       : "one job at a time starts one worker");
	T_EQ_INT(task_count() - before, inline_emit ? 1 : 2,
		 inline_emit ? "threads: that worker, no writer" : "threads: that worker and the writer");
	pool_finish(p);
	T_EQ_INT(atomic_load(&emitted), 50, "every job emitted");
}

/* Workers held at a gate until the test opens it. */
struct gated {
	struct lock *l;
	int open;
	int started;
	int need;
	long next, out_of_order;
	atomic_long emitted;
};

static void held(void *job, int worker, void *ud)
{
	(void)job;
	(void)worker;
	struct gated *g = ud;
	lock_take(g->l);
	g->started++;
	lock_broadcast(g->l);
	while (!g->open)
		lock_wait(g->l);
	lock_give(g->l);
}

static void held_emit(void *job, void *ud)
{
	struct gated *g = ud;
	long v = *(long *)job;
	if (v != g->next)
		g->out_of_order++;
	g->next = v + 1;
	free(job);
	atomic_fetch_add(&g->emitted, 1);
}

static int need_of(void *ud)
{
	struct gated *g = ud;
	return g->need;
}

/* need 3 of 8 workers: three threads take jobs, the others wait for them;
 * order and backpressure as ever. */
static void needed(int inline_emit)
{
	struct gated g = {.l = lock_new(), .need = 3};
	struct pool *p = pool_new(8, 12, 1, held, held_emit, NULL, &g);
	pool_set_need(p, need_of, &g);
	if (inline_emit)
		pool_set_inline_emit(p);
	for (long i = 0; i < 10; i++) {
		long *job = xmalloc(sizeof *job);
		*job = i;
		pool_submit(p, job);
	}
	lock_take(g.l);
	while (g.started < 3)
		lock_wait(g.l);
	int threads = pool_threads(p);
	g.open = 1;
	lock_broadcast(g.l);
	lock_give(g.l);
	T_EQ_INT(threads, 3, "ten jobs waiting, need 3 of 8: three worker threads");
	size_t peak = 0;
	for (long i = 10; i < 200; i++) {
		long *job = xmalloc(sizeof *job);
		*job = i;
		pool_submit(p, job);
		size_t f = pool_inflight(p);
		peak = f > peak ? f : peak;
	}
	T_OK(peak <= 12, "in flight within the cap (peak %zu)", peak);
	T_OK(pool_threads(p) <= 3, "never more threads than needed (%d)", pool_threads(p));
	pool_finish(p);
	T_EQ_INT(atomic_load(&g.emitted), 200, "every job emitted");
	T_EQ_INT(g.out_of_order, 0, "in input order");
	lock_free(g.l);
}

/* Work that counts how many jobs run at once. */
struct busy {
	atomic_int now, peak;
	atomic_int need;
	atomic_long emitted;
};

static void counted(void *job, int worker, void *ud)
{
	(void)job;
	(void)worker;
	struct busy *b = ud;
	int n = atomic_fetch_add(&b->now, 1) + 1;
	int pk = atomic_load(&b->peak);
	while (n > pk && !atomic_compare_exchange_weak(&b->peak, &pk, n))
		;
	sleep_ms(0.1);
	atomic_fetch_sub(&b->now, 1);
}

static void counted_emit(void *job, void *ud)
{
	struct busy *b = ud;
	free(job);
	atomic_fetch_add(&b->emitted, 1);
}

static int busy_need(void *ud)
{
	struct busy *b = ud;
	return atomic_load(&b->need);
}

/* The need goes down from 4 to 1: the threads started stay, but only one
 * takes jobs from then on. */
static void need_falls(int inline_emit)
{
	struct busy b = {0};
	atomic_store(&b.need, 4);
	struct pool *p = pool_new(8, 20, 1, counted, counted_emit, NULL, &b);
	pool_set_need(p, busy_need, &b);
	if (inline_emit)
		pool_set_inline_emit(p);
	for (int i = 0; i < 40; i++)
		pool_submit(p, xmalloc(1));
	while (atomic_load(&b.emitted) < 40)
		sleep_ms(0.05);
	int threads = pool_threads(p);
	atomic_store(&b.need, 1);
	atomic_store(&b.peak, 0);
	for (int i = 0; i < 100; i++)
		pool_submit(p, xmalloc(1));
	pool_finish(p);
	T_OK(threads <= 4, "need 4: at most 4 threads (%d)", threads);
	T_EQ_INT(atomic_load(&b.peak), 1, "need down to 1: one job at a time");
	T_EQ_INT(atomic_load(&b.emitted), 140, "every job emitted");
}

int main(void)
{
	for (int inl = 0; inl <= 1; inl++) {
		run(1, 4, 10, 2000, inl);
		run(0, 4, 10, 2000, inl);
		run(1, 1, 1, 200, inl);
		run(1, 8, 3, 500, inl);
		one_at_a_time(inl);
		needed(inl);
		need_falls(inl);
	}
	T_OK(cpu_count() >= 1, "cpu_count");
	return t_done();
}
