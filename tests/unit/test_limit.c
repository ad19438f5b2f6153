/* Unit tests of common/limit.c against a simulated lane server (virtual
 * time): L lanes, a FIFO queue, service times with jitter or a long tail.
 * The adaptive limit must reach at least 93% of the server's capacity and
 * keep its queue short, whatever the lanes and the spread of latencies. */
#include "limit.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>

#define MAXL 64

struct sim {
	int lanes;
	double busy_until[MAXL]; /* 0 = free */
	double sent_at[MAXL];    /* when the request on the lane was sent */
	double waiting[4096];    /* send times of queued requests, FIFO */
	long qhead, qtail;
	int queue;
	double now;
	unsigned seed;
	int kind; /* 0 uniform jitter, 1 exponential-ish tail, 2 none */
	double service;
};

static double service_time(struct sim *s)
{
	double u = (double)rand_r(&s->seed) / RAND_MAX;
	switch (s->kind) {
	case 0: return s->service * (0.6 + 0.8 * u);      /* +-40% */
	case 1: return s->service * (0.2 - log(1 - u * 0.999) * 0.8); /* long tail */
	default: return s->service;
	}
}

static int free_lane(struct sim *s)
{
	for (int i = 0; i < s->lanes; i++)
		if (s->busy_until[i] == 0)
			return i;
	return -1;
}

/* Runs for total ms of virtual time; returns throughput (per ms) over the
 * second half, and the mean queue length there in *mean_queue. */
static double run(int lanes, double service, int kind, double total, int max,
		  double *mean_queue, int *final_limit)
{
	/* the clock starts far from 0, like a monotonic clock */
	struct sim s = {.lanes = lanes, .service = service, .kind = kind, .seed = 12345u,
			.now = 1e9};
	double half = total / 2;
	total += s.now;
	struct limit l;
	limit_init(&l, 4, max);
	int inflight = 0;
	long done_half = 0;
	double qsum = 0, qtime = 0;
	while (s.now < total) {
		/* the client fills its limit */
		while (inflight < l.value) {
			inflight++;
			limit_sent(&l, s.now, inflight);
			int lane = free_lane(&s);
			if (lane >= 0) {
				s.busy_until[lane] = s.now + service_time(&s);
				s.sent_at[lane] = s.now;
			} else {
				s.waiting[s.qtail++ % 4096] = s.now;
				s.queue++;
			}
		}
		/* next completion */
		int next = -1;
		for (int i = 0; i < s.lanes; i++)
			if (s.busy_until[i] > 0 && (next < 0 || s.busy_until[i] < s.busy_until[next]))
				next = i;
		double t = s.busy_until[next];
		if (s.now >= total - half) {
			qsum += s.queue * (t - s.now);
			qtime += t - s.now;
		}
		s.now = t;
		s.busy_until[next] = 0;
		double rtt = s.now - s.sent_at[next];
		inflight--;
		if (s.now >= total - half)
			done_half++;
		if (s.queue > 0) {
			s.queue--;
			s.busy_until[next] = s.now + service_time(&s);
			s.sent_at[next] = s.waiting[s.qhead++ % 4096];
		}
		limit_done(&l, s.now, rtt, 0, inflight);
	}
	*mean_queue = qtime > 0 ? qsum / qtime : 0;
	*final_limit = l.value;
	return (double)done_half / half;
}

int main(void)
{
	static const int lanes[] = {1, 2, 4, 8, 16, 32};
	static const char *kinds[] = {"+-40% jitter", "long tail", "fixed"};
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++) {
			int L = lanes[i];
			double q;
			int fin;
			double mean_service = k == 1 ? 50 * (0.2 + 0.8) : 50;
			double x = run(L, 50, k, 120000, 64, &q, &fin);
			double cap = L / mean_service;
			/* long-tailed latencies (a fifth of requests over 1.5x the
			 * mean) make every estimate noisy: the controller must
			 * still neither starve the server nor flood it */
			double xmin = k == 1 ? 0.8 : 0.93;
			T_OK(x >= xmin * cap, "%d lanes, %s: throughput %.3f of capacity (limit %d)",
			     L, kinds[k], x / cap, fin);
			double qmax = k == 1 ? 3.0 + L : 2.0 + 0.35 * L;
			T_OK(q <= qmax, "%d lanes, %s: mean queue %.2f stays short (<= %.1f)", L, kinds[k], q, qmax);
		}
	}

	/* ramp-up: over a short run (10 s of 50 ms requests) the climb from 2
	 * costs little */
	for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++) {
		double q;
		int fin;
		double x = run(lanes[i], 50, 0, 20000, 64, &q, &fin);
		T_OK(x >= 0.9 * lanes[i] / 50.0, "%d lanes: second half of a 20 s run at %.3f of capacity",
		     lanes[i], x / (lanes[i] / 50.0));
	}

	/* 429/503 cut the limit at once */
	struct limit l;
	limit_init(&l, 16, 64);
	limit_done(&l, 1, 1, 1, 0);
	T_EQ_INT(l.value, 12, "overload cuts a quarter");
	limit_done(&l, 2, 1, 1, 0);
	T_EQ_INT(l.value, 9, "and again");
	for (int i = 0; i < 20; i++)
		limit_done(&l, 3, 1, 1, 0);
	T_EQ_INT(l.value, 1, "never below 1");

	/* a tool that does not fill the limit teaches it nothing */
	limit_init(&l, 4, 64);
	for (int i = 0; i < 1000; i++) {
		limit_sent(&l, i, 1);
		limit_done(&l, i + 0.5, 0.5, 0, 0);
	}
	T_EQ_INT(l.value, 4, "app-limited: the limit does not move");
	return t_done();
}
