/* llm_rate: the client's rate limiter, shared by all threads of a tool:
 * token buckets for requests and tokens per minute (llm.rpm, llm.tpm, one
 * second's worth of burst), and a pause every request honours after the
 * server said to wait (a 429, an exhausted x-ratelimit-remaining-*). */
#ifndef LANES_LLM_RATE_H
#define LANES_LLM_RATE_H

struct llm_rate;

/* rpm, tpm: per minute, 0 = unlimited. Never fails. */
struct llm_rate *llm_rate_new(long rpm, long tpm);
void llm_rate_free(struct llm_rate *r);
/* Waits until a request of about tokens tokens may go, and takes its
 * share of both buckets: returns 0. Gives up when stop(ud) (asked at least
 * every 100 ms; may be NULL) says so: returns -1, nothing taken. */
int llm_rate_wait(struct llm_rate *r, long tokens, int (*stop)(void *), void *ud);
/* Holds every request for ms milliseconds from now (a longer pause already
 * set stays). */
void llm_rate_pause(struct llm_rate *r, double ms);

#endif
