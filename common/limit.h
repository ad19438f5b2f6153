/* limit: the adaptive concurrency limit of the LLM client. It keeps the
 * server's parallel lanes full without flooding its queue by climbing on
 * measured throughput: start at LIMIT_START, double while throughput
 * doubles (slow start); when a doubling stops paying, jump to the lanes
 * the answers show (throughput times the latency of a level without a
 * queue, Little's law) plus one to hide the turnaround; then probe a step
 * up or down now and then and keep a step only if it pays (up: at least
 * 35% of the proportional gain; down: less than 35% of the proportional
 * loss; no step down while latency is still that of a lower level, since
 * there is no queue to drain).
 * A server that states its slots (llama-server's /props total_slots) gets
 * them plus one at once, and never more than plus two.
 * 429/503 say "slow down" (two close together, never one alone): the limit
 * is cut by a quarter, at most once per
 * round trip, and the cut is measured like a step down: when the level
 * below serves less, the refusals did not come from load (a rate limit, a
 * flaky proxy) and the limit goes back up, counting that share of refusals
 * as the server's background from then on. 500s and dropped connections
 * say nothing about load.
 * Throughput is estimated with Little's law, mean requests in flight over
 * the mean latency of a round, so bursty completions do not read as
 * changes of rate; rounds grow with the limit to average out latencies of
 * very different lengths (real models).
 * Not thread safe: the caller serialises calls (llm.c holds its lock).
 * Clock-free: times are passed in, so tests drive it with a simulated
 * server. */
#ifndef LANES_LIMIT_H
#define LANES_LIMIT_H

#define LIMIT_SAMPLES 512
/* The adaptive limit's first level. */
#define LIMIT_START 8

struct limit {
	int value;       /* requests allowed in flight */
	int min, max;
	int steady;      /* 0 during slow start */
	int warm;        /* completions to skip after a change */
	/* the current round */
	int n;
	double rtt[LIMIT_SAMPLES];
	double t_start, t_last, area;
	int inflight;    /* as last reported */
	int started;     /* an event has set the clock origin */
	int demand;      /* the limit was reached this round */
	/* the accepted level and its throughput */
	int base_value;
	double base_x;
	double base_inflight; /* mean requests really in flight at that level */
	int probing;     /* +1 up, -1 down, 0 none */
	int next_dir;
	int hold;        /* rounds before the next probe */
	int hold_len;    /* grows while probes are refused */
	double rtt_floor; /* lowest mean latency of a round (ms) */
	int rtt_floor_at; /* the level it was measured at */
	int ceiling;     /* after a 429/503, no probe up to it for a while */
	int ceiling_rounds;
	long rounds;
	int known;       /* slots the server stated, 0 if none */
	/* refusals (429/503) */
	int ov;          /* this round */
	double ov_share; /* moving share of answers that were refusals */
	double ov_bg;    /* share that cuts showed not to come from load */
	double cut_until; /* no other cut before (one per round trip) */
	int cutting;     /* a cut is being tested */
	int cut_from;    /* the level before the cut */
	double ov_test;  /* share of refusals when the test began */
	double rtt_ewma; /* recent latency of answers (ms) */
};

void limit_init(struct limit *l, int start, int max);
/* The server stated its slots (> 0): the limit becomes slots + 1 (within
 * max) and never goes above slots + 2. */
void limit_server_slots(struct limit *l, int slots);
/* A request was sent at now (ms); inflight counts it. */
void limit_sent(struct limit *l, double now, int inflight);
/* A request sent rtt ms ago finished at now; inflight no longer counts it.
 * overload: the server answered 429 or 503. */
void limit_done(struct limit *l, double now, double rtt, int overload, int inflight);

#endif
