/* limit: throughput hill-climbing for the adaptive concurrency limit. */
#include "limit.h"

#include <string.h>

#define CEILING_ROUNDS 20
#define HOLD_MAX 16

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static void new_round(struct limit *l, double now)
{
	l->n = 0;
	l->area = 0;
	l->t_start = now;
	l->t_last = now;
	l->demand = l->inflight >= l->value;
}

static void set_value(struct limit *l, int v, double now)
{
	v = imax(l->min, imin(l->max, v));
	/* the requests already under way belong to the old level */
	l->warm = l->inflight;
	l->value = v;
	new_round(l, now);
}

void limit_init(struct limit *l, int start, int max)
{
	memset(l, 0, sizeof *l);
	l->min = 1;
	l->max = imax(1, max);
	l->value = imax(1, imin(start, l->max));
	l->next_dir = 1;
	l->hold_len = 2;
}

static void advance(struct limit *l, double now)
{
	if (!l->started) {
		/* times are on the caller's clock: the first event starts it */
		l->started = 1;
		new_round(l, now);
		return;
	}
	if (now > l->t_last) {
		l->area += (double)l->inflight * (now - l->t_last);
		l->t_last = now;
	}
}

void limit_sent(struct limit *l, double now, int inflight)
{
	advance(l, now);
	l->inflight = inflight;
	if (inflight >= l->value)
		l->demand = 1;
}

/* Slow start only asks whether doubling doubled anything, which a short
 * round tells; probes compare steps of a quarter and need more samples. */
static int round_size(const struct limit *l)
{
	if (!l->steady)
		return imin(LIMIT_SAMPLES, imax(l->value / 2, 4));
	/* a step down idles lanes while it is measured, if it does not pay:
	 * measure it briefly (when it loses, it loses a lot) */
	if (l->probing < 0)
		return imin(LIMIT_SAMPLES, imax(2 * l->value, 6));
	return imin(LIMIT_SAMPLES, imax(8 * l->value, 32));
}

static void refuse(struct limit *l, int dir, double now)
{
	l->next_dir = -dir;
	l->hold = l->hold_len;
	l->hold_len = imin(HOLD_MAX, l->hold_len * 2);
	/* a step up that did not pay puts the knee at the base. If the client
	 * itself could not keep the base's requests in flight (it takes time
	 * to turn an answer into the next request), lanes idled for that
	 * shortfall: allow it on top */
	if (dir > 0) {
		double shortfall = l->base_value - l->base_inflight;
		if (shortfall > 0.5)
			l->base_value = imin(l->max, l->base_value + (int)(shortfall + 0.99));
	}
	set_value(l, l->base_value, now);
}

static void decide(struct limit *l, double x, double mean, double inflight, double now)
{
	int v = l->value;
	l->rounds++;
	/* the lowest round latency and the level it was seen at */
	if (l->rtt_floor <= 0 || mean < l->rtt_floor) {
		l->rtt_floor = mean;
		l->rtt_floor_at = v;
	}
	if (l->ceiling_rounds > 0 && --l->ceiling_rounds == 0)
		l->ceiling = 0;
	if (!l->steady) {
		if (l->base_value == 0 ||
		    x >= l->base_x * (1 + 0.5 * ((double)v / l->base_value - 1))) {
			l->base_value = v;
			l->base_x = x;
			l->base_inflight = inflight;
			if (v >= l->max)
				l->steady = 1;
			else
				set_value(l, 2 * v, now);
			if (v >= l->max)
				new_round(l, now);
			return;
		}
		/* doubling did not pay: the knee lies between the last level
		 * and v, so climb towards it in steps, unless the first level
		 * was already past it */
		l->steady = 1;
		l->next_dir = l->rounds > 2 ? 1 : -1;
		l->hold = 0;
		set_value(l, l->base_value, now);
		return;
	}
	if (l->probing == 0) {
		/* a round at the accepted level refreshes its throughput */
		l->base_value = v;
		l->base_x = x;
		l->base_inflight = inflight;
		if (l->hold > 0) {
			l->hold--;
			new_round(l, now);
			return;
		}
		int step = imax(1, v / 4);
		int dir = l->next_dir;
		/* going down only pays when requests queue: if latency here is
		 * still that of a lower level, there is no queue to drain and a
		 * step down would idle lanes */
		if (dir < 0 && l->rtt_floor_at < v && mean < 1.15 * l->rtt_floor)
			dir = 1;
		int up_ok = v < l->max && !(l->ceiling && v + step >= l->ceiling);
		if (dir > 0 && !up_ok)
			dir = -1;
		if (dir < 0 && v <= l->min)
			dir = up_ok ? 1 : 0;
		if (dir == 0) {
			l->hold = l->hold_len;
			new_round(l, now);
			return;
		}
		l->probing = dir;
		set_value(l, v + dir * step, now);
		return;
	}
	double ratio = (double)v / l->base_value;
	int dir = l->probing;
	/* 0.35 of the proportional change: tuned on simulated servers with
	 * jittered and long-tailed latencies (tests/unit/test_limit.c) so
	 * that noise neither ratchets the limit down nor up */
	int accept = dir > 0 ? x >= l->base_x * (1 + 0.35 * (ratio - 1))
			     : x >= l->base_x * (1 - 0.35 * (1 - ratio));
	l->probing = 0;
	if (!accept) {
		refuse(l, dir, now);
		return;
	}
	/* keep going the same way */
	l->base_value = v;
	l->base_x = x;
	l->base_inflight = inflight;
	l->next_dir = dir;
	l->hold = 0;
	l->hold_len = 2;
	new_round(l, now);
}

void limit_done(struct limit *l, double now, double rtt, int overload, int inflight)
{
	advance(l, now);
	l->inflight = inflight;
	if (overload) {
		int v = l->value;
		l->ceiling = v;
		l->ceiling_rounds = CEILING_ROUNDS;
		l->steady = 1;
		l->probing = 0;
		l->next_dir = -1;
		l->hold = l->hold_len;
		set_value(l, v - imax(1, v / 4), now);
		l->base_value = l->value;
		l->base_x = 0;
		return;
	}
	if (l->warm > 0) {
		l->warm--;
		if (l->warm == 0)
			new_round(l, now);
		return;
	}
	if (l->n < LIMIT_SAMPLES)
		l->rtt[l->n++] = rtt;
	if (l->n < round_size(l))
		return;
	double span = l->t_last - l->t_start;
	if (!l->demand || span <= 0) {
		/* the tool did not fill the limit: nothing learnt about it */
		new_round(l, now);
		return;
	}
	double sum = 0;
	for (int i = 0; i < l->n; i++)
		sum += l->rtt[i];
	double mean = sum / l->n;
	double in_flight = l->area / span;
	double x = mean > 0 ? in_flight / mean : 0;
	decide(l, x, mean, in_flight, now);
}
