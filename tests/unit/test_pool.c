/* Unit tests of common/pool.c: order, backpressure, unordered completeness. */
#include "pool.h"
#include "t.h"
#include "util.h"

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

static void run(int ordered, int workers, size_t cap, long n)
{
	struct state s = {0};
	s.seen = xcalloc((size_t)n, 1);
	s.p = pool_new(workers, cap, ordered, work, emit, NULL, &s);
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

int main(void)
{
	run(1, 4, 10, 2000);
	run(0, 4, 10, 2000);
	run(1, 1, 1, 200);
	run(1, 8, 3, 500);
	T_OK(cpu_count() >= 1, "cpu_count");
	return t_done();
}
