/* llm_servers: the servers of an LLM client, the choice among them, taking
 * them out and probing them back in, and their figures (llm_servers.h). */
#include "llm_servers.h"
#include "llm_slots.h"
#include "llm_wire.h"
#include "log.h"
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_FIRST_MS 1000.0

struct llm_servers {
	struct llm_server *v;         /* every endpoint once */
	int n;
	struct llm_server_set use[2]; /* LLM_USE_CHAT, LLM_USE_EMBED */
	int max_concurrency;          /* a server's capacity when it states none */
	double probe_max_ms;          /* longest wait between probes */
	struct lock *dl;              /* the dispatch figures (inflight, out, ...) */
	struct lock *sl;              /* started_at */
	double *started_at;           /* start of each model request in flight, 0 = free */
	int nstarted;
};

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int same_endpoint(const struct llm_endpoint *a, const struct llm_endpoint *b)
{
	return !strcmp(a->url, b->url) && a->backend == b->backend && same_str(a->model, b->model) &&
	       same_str(a->api_key, b->api_key);
}

/* ---- the servers of a configuration ---- */

/* The endpoints of a configuration without lists (a caller that filled
 * llm_config by hand): base_url alone for both uses. */
static void default_endpoints(const struct llm_config *cfg, struct llm_endpoints *tmp)
{
	memset(tmp, 0, sizeof *tmp);
	tmp->v = xcalloc(1, sizeof *tmp->v);
	tmp->n = 1;
	tmp->v[0].url = cfg->base_url;
	tmp->v[0].shown_url = cfg->shown_url;
	tmp->v[0].backend = cfg->backend;
	tmp->v[0].backend_why = cfg->backend_why;
	tmp->v[0].weight = 1;
	snprintf(tmp->from, sizeof tmp->from, "llm.base_url");
}

/* Fills e from the endpoint le, with its transport and slots; returns the
 * connections it may keep. */
static int server_init(struct llm_server *e, const struct llm_endpoint *le,
		       const struct llm_config *cfg, const struct llm_http_limits *lim)
{
	e->e.url = xstrdup(le->url);
	e->e.shown_url = xstrdup(le->shown_url ? le->shown_url : le->url);
	e->e.backend = le->backend;
	e->e.backend_why = le->backend_why ? le->backend_why : "llm.backend";
	e->e.model = le->model ? xstrdup(le->model) : NULL;
	e->e.capacity = le->capacity;
	e->e.api_key = le->api_key ? xstrdup(le->api_key) : NULL;
	e->e.api_key_file = le->api_key_file ? xstrdup(le->api_key_file) : NULL;
	e->e.weight = le->weight > 0 ? le->weight : 1;
	e->wire = le->backend == LLM_OPENAI ? &llm_openai_wire : &llm_ollama_wire;
	int max = le->capacity > 0 ? le->capacity : cfg->max_concurrency;
	int fixed = cfg->concurrency <= 0 ? 0 : cfg->concurrency < max ? cfg->concurrency : max;
	e->http = llm_http_new(e->e.url, e->e.api_key ? e->e.api_key : cfg->api_key, lim, max + 1);
	e->slots = llm_slots_new(fixed, max);
	e->probe_ms = PROBE_FIRST_MS;
	return max + 1;
}

struct llm_servers *llm_servers_new(const struct llm_config *cfg,
				    const struct llm_http_limits *lim)
{
	struct llm_servers *sv = xcalloc(1, sizeof *sv);
	sv->max_concurrency = cfg->max_concurrency;
	sv->probe_max_ms = fmax(cfg->backoff_max_ms, PROBE_FIRST_MS);
	struct llm_endpoints tmp;
	int by_hand = cfg->ep[0].n == 0 || cfg->ep[1].n == 0;
	if (by_hand)
		default_endpoints(cfg, &tmp);
	const struct llm_endpoints *lists[2] = {by_hand ? &tmp : &cfg->ep[0],
						 by_hand ? &tmp : &cfg->ep[1]};
	sv->v = xcalloc((size_t)(lists[0]->n + lists[1]->n), sizeof *sv->v);
	for (int u = 0; u < 2; u++) {
		sv->use[u].v = xcalloc((size_t)lists[u]->n, sizeof *sv->use[u].v);
		for (int i = 0; i < lists[u]->n; i++) {
			const struct llm_endpoint *le = &lists[u]->v[i];
			struct llm_server *e = NULL;
			for (int k = 0; k < sv->n && !e; k++)
				if (same_endpoint(&sv->v[k].e, le))
					e = &sv->v[k];
			if (!e) {
				e = &sv->v[sv->n++];
				sv->nstarted += server_init(e, le, cfg, lim);
			}
			sv->use[u].v[sv->use[u].n++] = e;
		}
	}
	if (by_hand)
		free(tmp.v);
	sv->dl = lock_new();
	sv->sl = lock_new();
	sv->started_at = xcalloc((size_t)sv->nstarted, sizeof *sv->started_at);
	return sv;
}

void llm_servers_free(struct llm_servers *sv)
{
	if (!sv)
		return;
	for (int i = 0; i < sv->n; i++) {
		struct llm_server *e = &sv->v[i];
		llm_http_free(e->http);
		llm_slots_free(e->slots);
		free(e->e.url);
		free(e->e.shown_url);
		free(e->e.model);
		if (e->e.api_key) {
			memset(e->e.api_key, 0, strlen(e->e.api_key));
			free(e->e.api_key);
		}
		free(e->e.api_key_file);
	}
	free(sv->v);
	free(sv->use[0].v);
	free(sv->use[1].v);
	lock_free(sv->dl);
	lock_free(sv->sl);
	free(sv->started_at);
	free(sv);
}

const struct llm_server_set *llm_servers_use(struct llm_servers *sv, enum llm_use use)
{
	return &sv->use[use];
}

int llm_servers_same_uses(struct llm_servers *sv)
{
	const struct llm_server_set *a = &sv->use[0], *b = &sv->use[1];
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->v[i] != b->v[i])
			return 0;
	return 1;
}

/* ---- choice, taking out, probing back in ---- */

static int ups(const struct llm_server_set *s)
{
	int n = 0;
	for (int i = 0; i < s->n; i++)
		n += !s->v[i]->out;
	return n;
}

static void back_in(struct llm_server *e)
{
	e->out = 0;
	e->fails = 0;
	e->probe_ms = PROBE_FIRST_MS;
	log_event("%s: back in (it answers again)", e->e.shown_url);
}

/* Probes a server that was taken out with a model list request (under
 * sv->dl, let go of while it runs). */
static void probe(struct llm_servers *sv, struct llm_server *e)
{
	e->probing = 1;
	lock_give(sv->dl);
	struct llm_http_resp r;
	memset(&r, 0, sizeof r);
	llm_http_do(e->http, e->wire->models_path, NULL, 0, 0, &r);
	int ok = r.curl == CURLE_OK && r.status >= 200 && r.status < 300;
	llm_http_resp_free(&r);
	lock_take(sv->dl);
	e->probing = 0;
	if (ok) {
		back_in(e);
		lock_broadcast(sv->dl);
	} else {
		e->probe_ms = fmin(e->probe_ms * 2, sv->probe_max_ms);
		e->probe_at = now_ms() + e->probe_ms;
	}
}

/* The server of s with the fewest requests in flight for its limit and
 * weight and room for one more (under sv->dl), avoid last; NULL if none
 * has room. */
static struct llm_server *least_busy(const struct llm_server_set *s, struct llm_server *avoid)
{
	int in = ups(s);
	for (int pass = 0; pass < 2; pass++) {
		struct llm_server *best = NULL;
		double best_score = 0;
		for (int i = 0; i < s->n; i++) {
			struct llm_server *e = s->v[i];
			if ((e->out && in > 0) || (pass == 0 && e == avoid))
				continue;
			int lim = llm_slots_limit(e->slots);
			if (e->inflight >= lim)
				continue;
			double score = (e->inflight + 1) / ((double)lim * e->e.weight);
			if (!best || score < best_score)
				best = e, best_score = score;
		}
		if (best)
			return best;
	}
	return NULL;
}

struct llm_server *llm_servers_pick(struct llm_servers *sv, const struct llm_server_set *s,
				    struct llm_server *avoid, int (*stop)(void *), void *ud)
{
	if (s->n == 1) {
		struct llm_server *e = s->v[0];
		atomic_store(&e->used, 1);
		return llm_slots_acquire(e->slots, stop, ud) ? NULL : e;
	}
	struct llm_server *best = NULL;
	lock_take(sv->dl);
	for (;;) {
		double now = now_ms();
		for (int i = 0; i < s->n; i++) {
			struct llm_server *e = s->v[i];
			if (e->out && !e->probing && now >= e->probe_at && ups(s) > 0)
				probe(sv, e);
		}
		best = least_busy(s, avoid);
		if (best || stop(ud))
			break;
		lock_wait_ms(sv->dl, 100);
	}
	if (best) {
		best->inflight++;
		atomic_store(&best->used, 1);
	}
	lock_give(sv->dl);
	if (best && llm_slots_acquire(best->slots, stop, ud)) {
		lock_take(sv->dl);
		best->inflight--;
		lock_broadcast(sv->dl);
		lock_give(sv->dl);
		return NULL;
	}
	return best;
}

int llm_servers_done(struct llm_servers *sv, const struct llm_server_set *s,
		     struct llm_server *e, double rtt, int overload, int measured, int gone,
		     int failed, const char *why)
{
	llm_slots_release(e->slots, rtt, overload, measured);
	if (s->n == 1)
		return 0;
	lock_take(sv->dl);
	e->inflight--;
	if (!gone && !failed) {
		if (e->out)
			back_in(e); /* sent while every server was out, it came back */
		e->fails = 0;
	} else if (!e->out && (gone || ++e->fails >= LLM_SERVERS_FAIL_OUT)) {
		e->out = 1;
		e->probe_at = now_ms() + e->probe_ms;
		atomic_fetch_add(&e->outs, 1);
		log_warn("%s: taken out (%s); %s, probing it again in %.0f s", e->e.shown_url, why,
			 ups(s) ? "its requests go to the other endpoints" : "no endpoint is left",
			 e->probe_ms / 1000);
	}
	int moved = e->out && ups(s) > 0;
	lock_broadcast(sv->dl);
	lock_give(sv->dl);
	return moved;
}

/* ---- requests in flight, for their age in the progress line ---- */

int llm_servers_started(struct llm_servers *sv)
{
	int i = -1;
	lock_take(sv->sl);
	for (int k = 0; k < sv->nstarted && i < 0; k++)
		if (sv->started_at[k] == 0)
			i = k;
	if (i >= 0)
		sv->started_at[i] = now_ms();
	lock_give(sv->sl);
	return i;
}

void llm_servers_finished(struct llm_servers *sv, int mark)
{
	if (mark < 0)
		return;
	lock_take(sv->sl);
	sv->started_at[mark] = 0;
	lock_give(sv->sl);
}

/* ---- figures ---- */

void llm_servers_describe(struct llm_servers *sv, enum llm_use use, struct buf *out)
{
	const struct llm_server_set *s = &sv->use[use];
	if (s->n == 1) {
		buf_printf(out, "url=%s", s->v[0]->e.shown_url);
		return;
	}
	buf_printf(out, "endpoints=");
	for (int i = 0; i < s->n; i++) {
		const struct llm_server *e = s->v[i];
		buf_printf(out, "%s%s (%s", i ? "," : "", e->e.shown_url, e->wire->name);
		if (e->e.model)
			buf_printf(out, ", model %s", e->e.model);
		buf_printf(out, ", capacity %d, weight %g)",
			   e->e.capacity ? e->e.capacity : sv->max_concurrency, e->e.weight);
	}
}

/* The servers whose figures count: those checked or sent to (all when
 * none is yet). */
static int counted(const struct llm_servers *sv, const struct llm_server *e)
{
	for (int i = 0; i < sv->n; i++)
		if (atomic_load(&sv->v[i].used))
			return atomic_load(&e->used);
	return 1;
}

int llm_servers_limit(struct llm_servers *sv)
{
	int total = 0;
	for (int i = 0; i < sv->n; i++)
		if (counted(sv, &sv->v[i]))
			total += llm_slots_limit(sv->v[i].slots);
	return total;
}

void llm_servers_figures(struct llm_servers *sv, struct llm_servers_figures *f)
{
	memset(f, 0, sizeof *f);
	double lat_n = 0;
	for (int i = 0; i < sv->n; i++) {
		if (!counted(sv, &sv->v[i]))
			continue;
		struct llm_slots_figures sf;
		llm_slots_figures(sv->v[i].slots, &sf);
		f->inflight += sf.inflight;
		f->limit += sf.limit;
		f->peak_inflight += sf.peak_inflight;
		if (sf.latency_ms > 0)
			f->latency_ms += sf.latency_ms, lat_n++;
		f->connections += llm_http_connections(sv->v[i].http);
		f->counted++;
	}
	if (lat_n > 0)
		f->latency_ms /= lat_n;
	double now = now_ms(), oldest = now;
	lock_take(sv->sl);
	for (int i = 0; i < sv->nstarted; i++)
		if (sv->started_at[i] > 0 && sv->started_at[i] < oldest)
			oldest = sv->started_at[i];
	lock_give(sv->sl);
	f->oldest_ms = now - oldest;
}

static int ncounted(const struct llm_servers *sv)
{
	int n = 0;
	for (int i = 0; i < sv->n; i++)
		n += counted(sv, &sv->v[i]);
	return n;
}

/* Each server that counts in out, when two or more do: its progress
 * ("; URL 3/4 out") or its summary line (report). */
static void per_server(struct llm_servers *sv, struct buf *out, int report)
{
	if (ncounted(sv) < 2)
		return;
	for (int i = 0; i < sv->n; i++) {
		struct llm_server *e = &sv->v[i];
		if (!counted(sv, e))
			continue;
		struct llm_slots_figures f;
		llm_slots_figures(e->slots, &f);
		if (report) {
			buf_printf(out, "%s%s: %ld requests, %ld failed calls, taken out %ld times, "
				   "peak %d in flight, final limit %d", out->len ? "\n" : "",
				   e->e.shown_url, atomic_load(&e->requests),
				   atomic_load(&e->failures), atomic_load(&e->outs), f.peak_inflight,
				   f.limit);
			continue;
		}
		lock_take(sv->dl);
		int out_now = e->out;
		lock_give(sv->dl);
		buf_printf(out, "; %s %d/%d%s", e->e.shown_url, f.inflight, f.limit,
			   out_now ? " out" : "");
	}
}

void llm_servers_progress(struct llm_servers *sv, struct buf *out)
{
	per_server(sv, out, 0);
}

void llm_servers_report(struct llm_servers *sv, struct buf *out)
{
	per_server(sv, out, 1);
}
