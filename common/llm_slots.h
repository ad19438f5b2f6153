/* llm_slots: requests in flight under the concurrency limit. A model
 * request waits for a slot while the limit is reached; the limit is fixed
 * (llm.concurrency) or adapted to the server by common/limit.c from the
 * latency and the overload answers (429, 503) of finished requests. Thread
 * safe. */
#ifndef LANES_LLM_SLOTS_H
#define LANES_LLM_SLOTS_H

struct llm_slots;

/* fixed > 0: that many slots, always; else adaptive from LIMIT_START (8)
 * up to max.
 * Never fails. */
struct llm_slots *llm_slots_new(int fixed, int max);
/* The server stated its slots (llama-server /props total_slots): an
 * adaptive limit takes them plus one, never more than plus two. */
void llm_slots_server(struct llm_slots *s, int slots);
void llm_slots_free(struct llm_slots *s);
/* Waits for a slot and takes it: returns 0. Gives up when stop(ud) (asked
 * at least every 100 ms; may be NULL) says so: returns -1. */
int llm_slots_acquire(struct llm_slots *s, int (*stop)(void *), void *ud);
/* Gives the slot back after a request that took rtt ms. overload: the
 * server answered 429 or 503; measured 0: no answer came (a refused
 * connection or a transport error says nothing about the server's
 * capacity). */
void llm_slots_release(struct llm_slots *s, double rtt, int overload, int measured);

/* The limit now, without taking the slots' lock (it may change at once). */
int llm_slots_limit(struct llm_slots *s);

struct llm_slots_figures {
	int inflight, limit, peak_inflight;
	double latency_ms; /* moving average of measured requests */
};
void llm_slots_figures(struct llm_slots *s, struct llm_slots_figures *f);

#endif
