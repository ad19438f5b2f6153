/* limit: throughput hill-climbing for the adaptive concurrency limit. */
#include "limit.h"

#include <math.h>
#include <string.h>

#define CEILING_ROUNDS 20
#define HOLD_MAX 16
/* Slow start multiplies the limit by this while it pays. */
#define GROWTH 4
/* A refusal cuts when the moving share of refusals passes the background
 * share by this much (absolute) and by half of it (relative). */
#define OV_MARGIN 0.04
/* Latency differences below this are the client's own jitter (a loopback
 * server without latency), not a queue. */
#define NOISE_MS 2.0

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static void new_round(struct limit *l, double now)
{
	l->n = 0;
	l->ov = 0;
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

void limit_server_slots(struct limit *l, int slots)
{
	if (slots <= 0)
		return;
	l->known = slots;
	l->max = imax(1, imin(l->max, slots + 2));
	l->steady = 1;
	l->probing = 0;
	l->next_dir = -1;
	l->hold = l->hold_len;
	l->base_value = 0;
	set_value(l, imin(l->max, slots + 1), l->t_last);
	l->base_value = l->value;
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
		return imin(LIMIT_SAMPLES, imax(l->value / 2, 8));
	/* a step down idles lanes while it is measured, if it does not pay:
	 * measure it briefly (when it loses, it loses a lot) */
	if (l->probing < 0)
		return imin(LIMIT_SAMPLES, imax(2 * l->value, 6));
	return imin(LIMIT_SAMPLES, imax(8 * l->value, 32));
}

/* The first answers of the first burst, all sent at once: with L lanes
 * and a FIFO queue the first L come back after one service time, the
 * others after two or more. An answer that took more than 1.5 times the
 * quickest (and NOISE_MS more) says requests queue; the answers before it count the lanes.
 * Returns the lanes so seen, or 0 while nothing is known. */
static int burst_lanes(const struct limit *l)
{
	if (l->rounds > 0 || l->steady || l->n < 2)
		return 0;
	double lo = l->rtt[0];
	for (int i = 1; i < l->n; i++)
		if (l->rtt[i] < lo)
			lo = l->rtt[i];
	double slow = 1.5 * lo + NOISE_MS;
	if (l->rtt[l->n - 1] <= slow)
		return 0;
	/* two slow answers, not one: a single late answer is as likely the
	 * client's own delay (a thread scheduled late on a busy machine, a
	 * connection opened) as a queue, and a queue that matters (the
	 * limit above lanes + 1) holds at least two */
	int fast = 0;
	for (int i = 0; i < l->n; i++)
		fast += l->rtt[i] <= slow;
	return l->n - fast >= 2 ? fast : 0;
}

static void refuse(struct limit *l, int dir, double x, double cv, double now)
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
		/* the lanes the step up showed busy (Little's law), when
		 * latencies are regular enough to tell: a knee between the
		 * base and the step is found at once, not a quarter short */
		if (cv < 0.5 && l->rtt_floor > 0) {
			int est = (int)ceil(x * l->rtt_floor - 0.25) + 1;
			if (est > l->base_value && est < l->value)
				l->base_value = est;
		}
	}
	if (l->cutting && dir > 0) {
		/* going back above the cut did not pay: the server was full */
		l->ceiling = l->cut_from;
		l->ceiling_rounds = CEILING_ROUNDS;
	}
	l->cutting = 0;
	set_value(l, l->base_value, now);
}

static void decide(struct limit *l, double x, double mean, double cv, double inflight, double now)
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
				set_value(l, GROWTH * v, now);
			if (v >= l->max)
				new_round(l, now);
			return;
		}
		/* growing did not pay: the lanes lie between the last level
		 * and v. Little's law: lanes busy = throughput x the latency
		 * of a level without a queue (the lowest round latency: the
		 * first answers'), plus one to hide the client's turnaround */
		l->steady = 1;
		int est = (int)ceil(x * l->rtt_floor - 0.25) + 1;
		/* latencies that spread widely (real models: answers of
		 * very different lengths) make a short round's floor too low:
		 * then not below the level that paid */
		est = imax(cv < 0.5 ? l->min : l->base_value, imin(v, est));
		l->next_dir = 1;
		l->hold = l->hold_len;
		l->base_value = est;
		set_value(l, est, now);
		return;
	}
	if (l->probing == 0) {
		/* a round at the accepted level refreshes its throughput */
		l->base_value = v;
		l->base_x = x;
		l->base_inflight = inflight;
		/* Little's law again: the lanes busy are the throughput times
		 * the latency without a queue; requests beyond them (and one
		 * for the turnaround) only wait at the server. Not below the
		 * level the lowest latency was seen at, which had no queue. */
		double lanes = x * l->rtt_floor;
		int fit = imax(imax(l->min, l->known), imin(l->rtt_floor_at, v));
		fit = imax(fit, (int)ceil(lanes - 0.25) + 1);
		fit = imax(fit, v / 2);
		if (!l->known && fit < v - 1 && l->rtt_floor_at < v && mean > 1.2 * l->rtt_floor + NOISE_MS &&
		    cv < 0.5) {
			l->hold = l->hold_len;
			l->next_dir = 1;
			set_value(l, fit, now);
			l->base_value = fit;
			l->base_x = 0;
			return;
		}
		if (l->hold > 0) {
			l->hold--;
			new_round(l, now);
			return;
		}
		int step = imax(1, v / 4);
		int dir = l->next_dir;
		if (l->cutting && l->cut_from > v) {
			/* a cut is tested by going back: does the level above
			 * serve more? */
			l->probing = 1;
			l->ov_test = l->ov_share;
			set_value(l, l->cut_from, now);
			return;
		}
		/* going down only pays when requests queue: if latency here is
		 * still that of a lower level, there is no queue to drain and a
		 * step down would idle lanes */
		if (dir < 0 && l->rtt_floor_at < v && mean < 1.15 * l->rtt_floor)
			dir = 1;
		int up_ok = v < l->max && !(l->ceiling && v + step >= l->ceiling);
		if (dir > 0 && !up_ok)
			dir = -1;
		/* below the slots a server states, lanes would idle */
		if (dir < 0 && (v <= l->min || v - step < l->known))
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
		refuse(l, dir, x, cv, now);
		return;
	}
	if (l->cutting && dir > 0) {
		/* the level above the cut served more: those refusals did not
		 * come from load; their share is the server's background */
		l->ov_bg = l->ov_share;
		l->hold = l->hold_len;
	}
	l->cutting = 0;
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
	double a = 1.0 / imax(16, 2 * l->value);
	l->ov_share = (1 - a) * l->ov_share + a * (overload ? 1 : 0);
	if (!overload)
		l->rtt_ewma = l->rtt_ewma > 0 ? 0.9 * l->rtt_ewma + 0.1 * rtt : rtt;
	if (overload) {
		l->ov++;
		int v = l->value;
		/* one cut per round trip; none for the background share of
		 * refusals; while a cut is tested, none unless the server
		 * refuses half of the requests, which is full whatever
		 * the cause */
		/* and never for one refusal alone: at a low limit the moving
		 * share weighs one answer in 16, above the margin */
		int over = l->ov_share > l->ov_bg * 1.5 + OV_MARGIN && l->ov_share > 1.5 * a;
		if (l->cutting && l->probing > 0) {
			/* going back above the cut brought many more refusals:
			 * the server is full there */
			if (l->ov_share > 2 * l->ov_test + 0.1) {
				l->ceiling = v;
				l->ceiling_rounds = CEILING_ROUNDS;
				l->cutting = 0;
				l->probing = 0;
				l->hold = l->hold_len;
				set_value(l, l->base_value, now);
				l->cut_until = now + l->rtt_ewma;
			}
			return;
		}
		int heavy = l->ov_share > 0.5;
		if (now < l->cut_until || v <= l->min || (l->cutting && l->rtt_ewma <= 0) ||
		    !over || (l->cutting && !heavy))
			return;
		/* a heavy share of refusals while a cut is tested: this level
		 * was full too */
		l->cut_from = v;
		l->cutting = 1;
		l->steady = 1;
		l->probing = 0;
		l->next_dir = 1;
		l->hold = 0;
		l->ceiling = 0;
		l->ceiling_rounds = 0;
		set_value(l, v - imax(1, v / 4), now);
		l->base_value = l->value;
		l->base_x = 0;
		l->cut_until = now + (l->rtt_ewma > 0 ? l->rtt_ewma : 0);
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
	int seen = burst_lanes(l);
	if (seen > 0 && seen + 1 < l->value) {
		/* the first burst queued: hold the lanes seen, plus one */
		l->rounds++;
		l->steady = 1;
		l->next_dir = 1;
		l->hold = l->hold_len;
		set_value(l, seen + 1, now);
		l->base_value = l->value;
		l->base_x = 0;
		return;
	}
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
	double var = 0;
	for (int i = 0; i < l->n; i++)
		var += (l->rtt[i] - mean) * (l->rtt[i] - mean);
	double cv = mean > 0 ? sqrt(var / l->n) / mean : 0;
	double in_flight = l->area / span;
	double x = mean > 0 ? in_flight / mean : 0;
	/* Right after slow start raised the limit, requests that will queue
	 * have not come back yet and Little's law reads the new level as
	 * served: the answers' own rate over the round tells the truth then */
	if (!l->steady && l->rounds > 0 && l->n / span < x)
		x = l->n / span;
	decide(l, x, mean, cv, in_flight, now);
}
