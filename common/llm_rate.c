/* llm_rate: token buckets and the shared pause. */
#include "llm_rate.h"
#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

struct llm_rate {
	struct lock *l;
	long rpm, tpm;
	double req_tokens, tok_tokens, last_refill, paused_until;
};

struct llm_rate *llm_rate_new(long rpm, long tpm)
{
	struct llm_rate *r = xcalloc(1, sizeof *r);
	r->l = lock_new();
	r->rpm = rpm;
	r->tpm = tpm;
	r->last_refill = now_ms();
	r->req_tokens = rpm > 0 ? fmax(1, (double)rpm / 60) : 0;
	r->tok_tokens = tpm > 0 ? (double)tpm / 60 : 0;
	return r;
}

void llm_rate_free(struct llm_rate *r)
{
	if (!r)
		return;
	lock_free(r->l);
	free(r);
}

int llm_rate_wait(struct llm_rate *r, long tokens, int (*stop)(void *), void *ud)
{
	int rc = 0;
	lock_take(r->l);
	for (;;) {
		double now = now_ms();
		double dt = now - r->last_refill;
		r->last_refill = now;
		if (r->rpm > 0)
			r->req_tokens = fmin(fmax(1, (double)r->rpm / 60),
					     r->req_tokens + dt * (double)r->rpm / 60000);
		if (r->tpm > 0)
			r->tok_tokens = fmin((double)r->tpm / 60,
					     r->tok_tokens + dt * (double)r->tpm / 60000);
		double wait = 0;
		if (r->paused_until > now)
			wait = r->paused_until - now;
		if (r->rpm > 0 && r->req_tokens < 1)
			wait = fmax(wait, (1 - r->req_tokens) * 60000 / (double)r->rpm);
		double need = fmin((double)tokens, (double)r->tpm / 60);
		if (r->tpm > 0 && r->tok_tokens < need)
			wait = fmax(wait, (need - r->tok_tokens) * 60000 / (double)r->tpm);
		if (wait <= 0) {
			if (r->rpm > 0)
				r->req_tokens -= 1;
			if (r->tpm > 0)
				r->tok_tokens -= need;
			break;
		}
		if (stop && stop(ud)) {
			rc = -1;
			break;
		}
		/* a stop request signals nobody: look again soon */
		lock_wait_ms(r->l, stop ? fmin(wait, 100) : wait);
	}
	lock_give(r->l);
	return rc;
}

void llm_rate_pause(struct llm_rate *r, double ms)
{
	lock_take(r->l);
	double until = now_ms() + ms;
	if (until > r->paused_until)
		r->paused_until = until;
	lock_give(r->l);
}
