/* pool: the only module that touches pthreads (pigz yarn.c style). Workers
 * started as they are needed, up to a fixed number; one writer that emits
 * results in input order (a thread of its own, or the worker that finished
 * the job the writer waits for); and a cap on jobs in flight so that
 * reading waits when the writer is behind. Nothing here can fail: a broken
 * mutex aborts with file:line. */
#ifndef LANES_POOL_H
#define LANES_POOL_H

#include <stddef.h>

/* Runs in a worker; worker is 0..workers-1, so callers can keep per-worker
 * state (a curl handle, a scratch buffer) in an array. */
typedef void (*pool_work_fn)(void *job, int worker, void *ud);
/* Runs in the writer, one job at a time (never two at once, whichever
 * thread): in submission order unless the pool is unordered. The job
 * belongs to emit from then on. */
typedef void (*pool_emit_fn)(void *job, void *ud);
/* Called by the writer when it has nothing ready to emit (a good moment to
 * flush buffered output), never at the same time as emit. May be NULL. */
typedef void (*pool_idle_fn)(void *ud);

struct pool;
/* Up to workers worker threads: one is started when a job is queued while
 * every worker started is busy (the first with the first job), so a pool
 * that never has more than k jobs waiting runs k threads at most. */
struct pool *pool_new(int workers, size_t max_inflight, int ordered,
		      pool_work_fn work, pool_emit_fn emit, pool_idle_fn idle,
		      void *ud);
/* need(ud): how many workers are useful now (e.g. the requests a server
 * takes in flight, plus the work around them); no thread beyond it is
 * started, though threads already running stay. Asked under the pool's
 * lock (need must not call the pool), only when a thread might be started.
 * NULL (the default): every worker may be useful. */
void pool_set_need(struct pool *p, int (*need)(void *ud), void *ud);
/* Called in a job by a worker about to wait a while with nothing to do
 * (an LLM call waiting to try again) after the need counted it: one more
 * worker takes a queued job, if the need allows. No-op on a thread that is
 * not a pool's worker. */
void pool_worker_waits(void);
/* Before the first pool_submit: no writer thread; the worker that finishes
 * the job next in order emits it and those ready after it (and calls
 * idle), while the other workers go on. For a cheap emit (writing a line)
 * it spares a thread hand-off per job; an emit that waits (a database
 * commit) is better left to the writer thread, beside the workers. */
void pool_set_inline_emit(struct pool *p);
/* Worker threads started so far. */
int pool_threads(struct pool *p);
/* Queues a job; blocks while max_inflight jobs are submitted but not yet
 * emitted (backpressure). */
void pool_submit(struct pool *p, void *job);
/* Jobs submitted and not yet emitted. */
size_t pool_inflight(struct pool *p);
/* Waits until every submitted job is emitted, stops the threads, frees. */
void pool_finish(struct pool *p);

/* Mutex plus condition variable. */
struct lock;
struct lock *lock_new(void);
void lock_free(struct lock *l);
void lock_take(struct lock *l);
void lock_give(struct lock *l);
/* Waits on l's condition (l must be held); returns with l held. */
void lock_wait(struct lock *l);
/* As lock_wait, at most ms milliseconds. Returns 0 if woken, 1 on timeout. */
int lock_wait_ms(struct lock *l, double ms);
void lock_signal(struct lock *l);
void lock_broadcast(struct lock *l);

/* Detached helper threads (stats reporter, ...). */
struct thread;
struct thread *thread_start(void *(*fn)(void *), void *arg);
void *thread_join(struct thread *t);

/* Number of online CPUs (at least 1). */
int cpu_count(void);

#endif
