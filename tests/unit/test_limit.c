/* Unit tests of common/limit.c against a simulated lane server (virtual
 * time, so nothing here depends on the machine's speed): L lanes, a FIFO
 * queue (503 past queue_max), service times with jitter or a long tail,
 * and faults drawn from a seeded generator (429 and 503 answered at once,
 * 500 after the service time, dropped connections that teach nothing).
 * The adaptive limit must find the lanes within a few rounds, hold them
 * with a short queue, not collapse under faults that do not say "full",
 * back off when the server does refuse for load, and settle at the slot
 * count a server states. */
#include "limit.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>

#define MAXL 64
#define QCAP 8192

enum kind { JITTER10, JITTER40, TAIL, FIXED };

struct sim {
	/* the server */
	int lanes;
	int queue_max;        /* 503 when this many wait; 0: no cap */
	enum kind kind;
	double service;
	double p429, p500, p503, pdrop; /* fault draws per request */
	/* the client */
	int fixed;            /* > 0: a fixed limit instead of limit.c */
	int start;            /* adaptive start */
	int max;
	int known;            /* > 0: the server states its slots */
	long records;         /* 0: endless */
	double total;         /* ms of virtual time (endless runs) */
	double ramp;          /* ms after which the queue peak is "after ramp-up" */
	/* results */
	double x_half;        /* completions per ms over the second half */
	double end;           /* ms until the last record (finite runs) */
	double mean_queue;    /* over the second half */
	int peak_queue_after; /* after ramp */
	int final_limit, min_limit_after, max_limit_after;
	long overloads;
};

struct lane { double until, sent; int fault; };

struct state {
	struct lane lane[MAXL];
	double waiting[QCAP];
	long qhead, qtail;
	double retry_at[QCAP]; /* refused requests waiting to be sent again */
	int nretry;
	unsigned seed;
};

static double urand(struct state *st)
{
	return (double)rand_r(&st->seed) / ((double)RAND_MAX + 1);
}

static double service_time(struct sim *s, struct state *st)
{
	double u = urand(st);
	switch (s->kind) {
	case JITTER10: return s->service * (0.95 + 0.1 * u);
	case JITTER40: return s->service * (0.6 + 0.8 * u);
	case TAIL: return s->service * (0.2 - log(1 - u * 0.999) * 0.8);
	default: return s->service;
	}
}

static int pick_fault(struct sim *s, struct state *st)
{
	double u = urand(st);
	if ((u -= s->p429) < 0)
		return 429;
	if ((u -= s->p503) < 0)
		return 503;
	if ((u -= s->p500) < 0)
		return 500;
	if ((u -= s->pdrop) < 0)
		return -1;
	return 0;
}

static void run(struct sim *s)
{
	struct state st = {.seed = 12345u};
	double t0 = 1e9; /* far from 0, like a monotonic clock */
	double now = t0;
	double stop = s->records ? 1e300 : t0 + s->total;
	double half = s->records ? 0 : t0 + s->total / 2;
	struct limit l;
	limit_init(&l, s->fixed > 0 ? s->fixed : s->start, s->fixed > 0 ? s->fixed : s->max);
	if (s->known > 0)
		limit_server_slots(&l, s->known);
	int inflight = 0, queue = 0, busy = 0;
	long sent = 0, done = 0, done_half = 0;
	double qsum = 0, qtime = 0;
	s->peak_queue_after = 0;
	s->min_limit_after = 1 << 30;
	s->max_limit_after = 0;
	s->overloads = 0;
	while (now < stop) {
		int value = s->fixed > 0 ? s->fixed : l.value;
		/* the client fills its limit: retries first, then new records */
		while (inflight < value) {
			if (!s->records || sent < s->records) {
				sent++;
			} else {
				break;
			}
			inflight++;
			if (s->fixed <= 0)
				limit_sent(&l, now, inflight);
			int f = pick_fault(s, &st);
			if (f == 429 || f == 503 ||
			    (s->queue_max > 0 && busy == s->lanes && queue >= s->queue_max)) {
				/* refused at once, sent again later (the record is
				 * not done) */
				inflight--;
				sent--;
				s->overloads++;
				if (s->fixed <= 0)
					limit_done(&l, now, 0.1, 1, inflight);
				break; /* sent again at the next answer */
			}
			int k = -1;
			for (int i = 0; i < s->lanes && k < 0; i++)
				if (st.lane[i].until == 0)
					k = i;
			if (k >= 0) {
				st.lane[k].until = now + service_time(s, &st);
				st.lane[k].sent = now;
				st.lane[k].fault = f;
				busy++;
			} else {
				st.waiting[st.qtail++ % QCAP] = now;
				queue++;
			}
		}
		if (now - t0 >= s->ramp) {
			if (queue > s->peak_queue_after)
				s->peak_queue_after = queue;
			if (value < s->min_limit_after)
				s->min_limit_after = value;
			if (value > s->max_limit_after)
				s->max_limit_after = value;
		}
		int next = -1;
		for (int i = 0; i < s->lanes; i++)
			if (st.lane[i].until > 0 && (next < 0 || st.lane[i].until < st.lane[next].until))
				next = i;
		if (next < 0) {
			if (s->records && done >= s->records)
				break;
			now += 1; /* everything refused: the client backs off */
			continue;
		}
		double t = st.lane[next].until;
		if (!s->records && t >= half) {
			double from = now > half ? now : half;
			qsum += queue * (t - from);
			qtime += t - from;
		}
		now = t;
		struct lane done_lane = st.lane[next];
		st.lane[next].until = 0;
		busy--;
		double rtt = now - done_lane.sent;
		inflight--;
		if (queue > 0) {
			queue--;
			st.lane[next].until = now + service_time(s, &st);
			st.lane[next].sent = st.waiting[st.qhead++ % QCAP];
			st.lane[next].fault = pick_fault(s, &st);
			if (st.lane[next].fault == 429 || st.lane[next].fault == 503)
				st.lane[next].fault = 0; /* drawn at the door only */
			busy++;
		}
		int ok = done_lane.fault == 0;
		if (ok) {
			done++;
			if (!s->records && now >= half)
				done_half++;
		} else {
			sent--; /* the record will be sent again */
		}
		if (s->fixed <= 0) {
			if (done_lane.fault == -1)
				limit_sent(&l, now, inflight); /* no answer: no sample */
			else
				limit_done(&l, now, rtt, 0, inflight);
		}
		if (s->records && done >= s->records)
			break;
	}
	s->end = now - t0;
	s->x_half = s->records ? 0 : done_half / (s->total / 2);
	s->mean_queue = qtime > 0 ? qsum / qtime : 0;
	s->final_limit = s->fixed > 0 ? s->fixed : l.value;
}

/* Whole-run records/s of the adaptive client over a finite run, as a share
 * of the best fixed client at lanes, lanes+1 or lanes+2. */
static double short_run_share(struct sim *base, double *best_end)
{
	struct sim s = *base;
	run(&s);
	double best = 1e300;
	for (int f = base->lanes; f <= base->lanes + 2; f++) {
		struct sim p = *base;
		p.fixed = f;
		run(&p);
		if (p.end < best)
			best = p.end;
	}
	*base = s;
	*best_end = best;
	return best / s.end;
}

static const int lanes_list[] = {1, 2, 4, 8, 16, 32};
#define NLANES (sizeof lanes_list / sizeof lanes_list[0])

static void steady_state(void)
{
	static const char *kinds[] = {"+-5% jitter", "+-40% jitter", "long tail", "fixed"};
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < NLANES; i++) {
			int L = lanes_list[i];
			double mean_service = k == TAIL ? 50 * (0.2 + 0.8) : 50;
			struct sim s = {.lanes = L, .kind = k, .service = 50, .start = LIMIT_START,
					.max = 64, .total = 120000, .ramp = 1000};
			run(&s);
			double cap = L / mean_service;
			/* long-tailed latencies (a fifth of requests over 1.5x the
			 * mean) make every estimate noisy: the controller must
			 * still neither starve the server nor flood it */
			double xmin = k == TAIL ? 0.8 : k == JITTER40 ? 0.93 : 0.97;
			T_OK(s.x_half >= xmin * cap, "%d lanes, %s: steady throughput %.3f of capacity "
			     "(>= %.2f; limit %d)", L, kinds[k], s.x_half / cap, xmin, s.final_limit);
			double qmax = k == TAIL ? 3.0 + L : 2.0 + 0.35 * L;
			T_OK(s.mean_queue <= qmax, "%d lanes, %s: mean queue %.2f stays short (<= %.1f)",
			     L, kinds[k], s.mean_queue, qmax);
			if (k == JITTER10)
				T_OK(s.peak_queue_after <= 2 * L, "%d lanes, %s: peak queue after ramp-up "
				     "%d <= %d", L, kinds[k], s.peak_queue_after, 2 * L);
		}
	}
}

/* Issue 12: runs of 30 rounds reach 0.95 of the best fixed client. */
static void ramp_up(void)
{
	for (size_t i = 0; i < NLANES; i++) {
		int L = lanes_list[i];
		struct sim s = {.lanes = L, .kind = JITTER10, .service = 50, .start = LIMIT_START,
				.max = 64, .records = 30L * L, .ramp = 1e300};
		double best;
		double share = short_run_share(&s, &best);
		T_OK(share >= 0.95, "%d lanes, 30 rounds: %.3f of the best fixed client "
		     "(%.0f ms against %.0f ms; limit %d)", L, share, s.end, best, s.final_limit);
	}
}

/* Issue 12: 20% mixed faults (429, 503, 500, drops in equal parts) against
 * 8 fast lanes: 429/503 that come whatever the load must not bring the
 * limit down to 1. */
static void random_faults(void)
{
	static const double rates[] = {0.1, 0.2, 0.5};
	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		double p = rates[i] / 4;
		struct sim s = {.lanes = 8, .kind = JITTER10, .service = 10, .start = LIMIT_START,
				.max = 64, .total = 60000, .ramp = 5000,
				.p429 = p, .p503 = p, .p500 = p, .pdrop = p};
		run(&s);
		struct sim f = s;
		f.fixed = 9;
		run(&f);
		T_OK(s.x_half >= 0.9 * f.x_half, "%.0f%% faults, 8 lanes: %.3f of a fixed 9 "
		     "(limit %d, %d..%d after ramp-up)", rates[i] * 100, s.x_half / f.x_half,
		     s.final_limit, s.min_limit_after, s.max_limit_after);
		T_OK(s.min_limit_after >= 4, "%.0f%% faults: the limit stays near the lanes "
		     "(lowest %d after ramp-up)", rates[i] * 100, s.min_limit_after);
	}
}

/* Issue 12: lone 429s (5% of answers, whatever the load) against 8 lanes
 * of 20 ms: each waits its own Retry-After; one refusal alone never cuts
 * the limit, and the cuts that two close together make are tested and
 * undone. */
static void lone_refusals(void)
{
	struct sim s = {.lanes = 8, .kind = JITTER10, .service = 20, .start = LIMIT_START,
			.max = 64, .total = 60000, .ramp = 5000, .p429 = 0.05};
	run(&s);
	struct sim f = s;
	f.fixed = 9;
	run(&f);
	T_OK(s.x_half >= 0.9 * f.x_half, "5%% lone 429s, 8 lanes: %.3f of a fixed 9 (limit %d, "
	     "%d..%d after ramp-up)", s.x_half / f.x_half, s.final_limit, s.min_limit_after,
	     s.max_limit_after);
	T_OK(s.min_limit_after >= 4, "5%% lone 429s: the limit does not collapse (lowest %d)",
	     s.min_limit_after);
}

/* A server that refuses for load (503 past a short queue) is full: the
 * limit comes down to lanes + queue and stays near it. */
static void real_overload(void)
{
	struct sim s = {.lanes = 4, .queue_max = 2, .kind = JITTER10, .service = 50,
			.start = 32, .max = 64, .total = 60000, .ramp = 5000};
	run(&s);
	T_OK(s.max_limit_after <= 9, "503 past a queue of 2 on 4 lanes: the limit stays at "
	     "most 9 after ramp-up (%d..%d)", s.min_limit_after, s.max_limit_after);
	T_OK(s.x_half >= 0.95 * 4 / 50.0, "and the lanes stay full (%.3f of capacity)",
	     s.x_half / (4 / 50.0));
	long per_s = (long)(s.overloads / 60);
	T_OK(per_s < 20, "refusals are rare (%ld per second of 80 answers)", per_s);
}

/* A server that states its slots (llama-server /props total_slots): the
 * limit settles at the slots plus at most 2, the queue near zero. */
static void stated_slots(void)
{
	static const int slots[] = {1, 4, 16};
	for (size_t i = 0; i < 3; i++) {
		int n = slots[i];
		struct sim s = {.lanes = n, .kind = JITTER10, .service = 50, .start = LIMIT_START,
				.max = 64, .known = n, .total = 60000, .ramp = 0};
		run(&s);
		T_OK(s.max_limit_after <= n + 2 && s.min_limit_after >= n,
		     "%d stated slots: the limit stays in %d..%d (%d..%d)", n, n, n + 2,
		     s.min_limit_after, s.max_limit_after);
		T_OK(s.x_half >= 0.97 * n / 50.0, "%d stated slots: lanes full (%.3f)", n,
		     s.x_half / (n / 50.0));
		T_OK(s.peak_queue_after <= 2, "%d stated slots: peak queue %d <= 2", n,
		     s.peak_queue_after);
	}
	/* slots stated beyond the client's maximum: the maximum */
	struct limit l;
	limit_init(&l, LIMIT_START, 8);
	limit_server_slots(&l, 32);
	T_EQ_INT(l.value, 8, "stated 32 slots, max 8: 8");
}

static void units(void)
{
	/* 429/503 cut the limit by a quarter, once per round trip */
	struct limit l;
	limit_init(&l, 16, 64);
	limit_sent(&l, 0, 16);
	limit_done(&l, 1, 1, 1, 15);
	T_EQ_INT(l.value, 16, "one refusal in 32 answers is not the server being full");
	struct limit one;
	limit_init(&one, 8, 64);
	limit_sent(&one, 0, 8);
	limit_done(&one, 1, 1, 1, 7);
	T_EQ_INT(one.value, 8, "at a limit of 8, one refusal alone does not cut either");
	limit_done(&l, 1, 1, 1, 14);
	T_EQ_INT(l.value, 12, "two cut a quarter");
	limit_done(&l, 2, 1, 1, 13);
	T_EQ_INT(l.value, 12, "not again for answers to requests sent before the cut");

	/* a tool that does not fill the limit teaches it nothing */
	limit_init(&l, 4, 64);
	for (int i = 0; i < 1000; i++) {
		limit_sent(&l, i, 1);
		limit_done(&l, i + 0.5, 0.5, 0, 0);
	}
	T_EQ_INT(l.value, 4, "app-limited: the limit does not move");
}

int main(void)
{
	units();
	steady_state();
	ramp_up();
	random_faults();
	lone_refusals();
	real_overload();
	stated_slots();
	return t_done();
}
