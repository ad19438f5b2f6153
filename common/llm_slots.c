/* llm_slots: the slots under the limit; common/limit.c adapts it. */
#include "llm_slots.h"
#include "limit.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>

struct llm_slots {
	struct lock *l;       /* only slot waiters wait here */
	struct limit lim;     /* lim.value: requests allowed in flight */
	atomic_int value;     /* lim.value, for readers without the lock */
	int adaptive;
	int debug;            /* LANES_DEBUG_LIMIT: log every change */
	int inflight, peak_inflight;
	double lat_ewma;
};

struct llm_slots *llm_slots_new(int fixed, int max)
{
	struct llm_slots *s = xcalloc(1, sizeof *s);
	s->l = lock_new();
	s->adaptive = fixed <= 0;
	s->debug = getenv("LANES_DEBUG_LIMIT") != NULL;
	limit_init(&s->lim, s->adaptive ? LIMIT_START : fixed, s->adaptive ? max : fixed);
	atomic_init(&s->value, s->lim.value);
	return s;
}

void llm_slots_server(struct llm_slots *s, int slots)
{
	lock_take(s->l);
	int before = s->lim.value;
	if (s->adaptive)
		limit_server_slots(&s->lim, slots);
	atomic_store(&s->value, s->lim.value);
	if (s->lim.value > before)
		lock_broadcast(s->l);
	lock_give(s->l);
}

void llm_slots_free(struct llm_slots *s)
{
	if (!s)
		return;
	lock_free(s->l);
	free(s);
}

int llm_slots_acquire(struct llm_slots *s, int (*stop)(void *), void *ud)
{
	lock_take(s->l);
	while (s->inflight >= s->lim.value) {
		if (stop && stop(ud)) {
			lock_give(s->l);
			return -1;
		}
		/* a stop request signals nobody: look again soon */
		if (stop)
			lock_wait_ms(s->l, 100);
		else
			lock_wait(s->l);
	}
	s->inflight++;
	if (s->inflight > s->peak_inflight)
		s->peak_inflight = s->inflight;
	if (s->adaptive) {
		limit_sent(&s->lim, now_ms(), s->inflight);
		atomic_store(&s->value, s->lim.value);
	}
	lock_give(s->l);
	return 0;
}

void llm_slots_release(struct llm_slots *s, double rtt, int overload, int measured)
{
	lock_take(s->l);
	s->inflight--;
	if (measured)
		s->lat_ewma = s->lat_ewma > 0 ? 0.9 * s->lat_ewma + 0.1 * rtt : rtt;
	int before = s->lim.value;
	if (s->adaptive) {
		if (measured)
			limit_done(&s->lim, now_ms(), rtt, overload, s->inflight);
		else
			limit_sent(&s->lim, now_ms(), s->inflight);
		if (s->lim.value != before && s->debug)
			log_event("llm: limit %d -> %d (round %ld, accepted level %d at %.1f req/s%s)",
				  before, s->lim.value, s->lim.rounds, s->lim.base_value,
				  s->lim.base_x * 1000, overload ? ", server overloaded" : "");
	}
	atomic_store(&s->value, s->lim.value);
	/* one freed slot wakes one waiter; a raised limit wakes them all */
	if (s->lim.value > before)
		lock_broadcast(s->l);
	else
		lock_signal(s->l);
	lock_give(s->l);
}

int llm_slots_limit(struct llm_slots *s)
{
	return atomic_load(&s->value);
}

void llm_slots_figures(struct llm_slots *s, struct llm_slots_figures *f)
{
	lock_take(s->l);
	f->inflight = s->inflight;
	f->limit = s->lim.value;
	f->peak_inflight = s->peak_inflight;
	f->latency_ms = s->lat_ewma;
	lock_give(s->l);
}
