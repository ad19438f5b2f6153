/* Unit tests of embed's own modules: the dedup cache (also from several
 * threads) and the record helpers. */
#include "embed_cache.h"
#include "embed_record.h"
#include "pool.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void test_cache(void)
{
	struct embed_cache *c = embed_cache_new(1 << 20);
	struct embed_entry *e1, *e2;
	float *vec = NULL;
	int dim = 0;
	const char *t = "some text";
	uint64_t h = fnv64(FNV64_INIT, t, strlen(t));
	T_EQ_INT(embed_cache_claim(c, t, strlen(t), h, &e1, &vec, &dim), EMBED_MINE, "first claim: mine");
	T_EQ_INT(embed_cache_claim(c, t, strlen(t), h, &e2, &vec, &dim), EMBED_WAIT, "second claim: wait");
	/* same hash, another text: full comparison */
	T_EQ_INT(embed_cache_claim(c, "other", 5, h, &e2, &vec, &dim), EMBED_MINE,
		 "a hash collision is told apart by the text");
	struct embed_entry *other = e2;
	float v[3] = {1, 2, 3};
	embed_cache_fill(c, e1, v, 3);
	struct embedder_err err;
	T_EQ_INT(embed_cache_wait(c, e1, &vec, &dim, &err), 0, "waiter gets the vector");
	T_OK(dim == 3 && vec[2] == 3, "vector copied");
	free(vec);
	T_EQ_INT(embed_cache_claim(c, t, strlen(t), h, &e2, &vec, &dim), EMBED_HIT, "then: hit");
	free(vec);
	struct embed_entry *w;
	T_EQ_INT(embed_cache_claim(c, "other", 5, h, &w, &vec, &dim), EMBED_WAIT, "pending other: wait");
	struct embedder_err fe = {"http_500", "boom", 6};
	embed_cache_fail(c, other, &fe);
	T_EQ_INT(embed_cache_wait(c, w, &vec, &dim, &err), -1, "waiter gets the failure");
	T_EQ_STR(err.code, "http_500", "with its code");
	T_EQ_INT(err.attempts, 6, "and attempts");
	struct embed_entry *again;
	T_EQ_INT(embed_cache_claim(c, "other", 5, h, &again, &vec, &dim), EMBED_MINE,
		 "a failed text is tried again later");
	embed_cache_fill(c, again, v, 3);
	struct embed_cache_stats s;
	embed_cache_stats(c, &s);
	T_EQ_INT(s.hits, 1, "hits counted");
	T_EQ_INT(s.waits, 2, "waits counted");
	T_EQ_INT(s.misses, 3, "misses counted");
	embed_cache_free(c);

	/* bounded: 100 vectors of 1000 floats in a 64 KiB cache */
	c = embed_cache_new(64 << 10);
	float *big = xcalloc(1000, sizeof *big);
	for (int i = 0; i < 100; i++) {
		char k[16];
		int n = snprintf(k, sizeof k, "t%d", i);
		struct embed_entry *e;
		embed_cache_claim(c, k, (size_t)n, fnv64(FNV64_INIT, k, (size_t)n), &e, &vec, &dim);
		embed_cache_fill(c, e, big, 1000);
	}
	embed_cache_stats(c, &s);
	T_OK(s.bytes <= 64 << 10, "cache stays within its bound (%zu bytes)", s.bytes);
	T_OK(s.evicted >= 84, "oldest entries evicted (%ld)", s.evicted);
	struct embed_entry *e;
	T_EQ_INT(embed_cache_claim(c, "t99", 3, fnv64(FNV64_INIT, "t99", 3), &e, &vec, &dim), EMBED_HIT,
		 "the newest entry is still there");
	free(vec);
	free(big);
	embed_cache_free(c);
}

/* Threads claim the same 10 texts in various orders: each is embedded once. */
struct racer {
	struct embed_cache *c;
	int id;
	long mine, bad;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	for (int round = 0; round < 50; round++) {
		struct embed_entry *es[10];
		enum embed_claim cl[10];
		float *vec[10] = {0};
		int dim[10] = {0};
		char txt[10][16];
		for (int k = 0; k < 10; k++) {
			int t = (k * 7 + r->id + round) % 10;
			int n = snprintf(txt[k], sizeof txt[k], "text %d", t);
			cl[k] = embed_cache_claim(r->c, txt[k], (size_t)n, fnv64(FNV64_INIT, txt[k], (size_t)n),
						 &es[k], &vec[k], &dim[k]);
		}
		for (int k = 0; k < 10; k++)
			if (cl[k] == EMBED_MINE) {
				float v[4] = {(float)txt[k][5], 0, 0, 1};
				embed_cache_fill(r->c, es[k], v, 4);
				r->mine++;
			}
		for (int k = 0; k < 10; k++) {
			struct embedder_err err;
			if (cl[k] == EMBED_WAIT && embed_cache_wait(r->c, es[k], &vec[k], &dim[k], &err))
				r->bad++;
			if (cl[k] != EMBED_MINE && (dim[k] != 4 || vec[k][0] != (float)txt[k][5]))
				r->bad++;
			free(vec[k]);
		}
	}
	return NULL;
}

static void test_cache_threads(void)
{
	struct embed_cache *c = embed_cache_new(1 << 20);
	struct racer r[8];
	struct thread *th[8];
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){c, i, 0, 0};
		th[i] = thread_start(race, &r[i]);
	}
	long mine = 0, bad = 0;
	for (int i = 0; i < 8; i++) {
		thread_join(th[i]);
		mine += r[i].mine;
		bad += r[i].bad;
	}
	T_EQ_INT(mine, 10, "8 threads x 50 rounds x 10 texts: each text embedded once");
	T_EQ_INT(bad, 0, "every thread got the right vector for every text");
	embed_cache_free(c);
}

static void test_record(void)
{
	float v[5] = {0.1f, -1.0f / 3, 1e-30f, 0.999999940f, -0.0f};
	struct buf b = {0};
	embed_put_vector(&b, v, 5);
	cJSON *arr = cJSON_Parse(b.p);
	int same = cJSON_GetArraySize(arr) == 5;
	for (int i = 0; i < 5 && same; i++)
		same = (float)cJSON_GetArrayItem(arr, i)->valuedouble == v[i];
	T_OK(same, "%%.9g gives back the same float32: %s", b.p);
	cJSON_Delete(arr);
	buf_free(&b);

	struct rec r = {0};
	r.line = xstrdup("{\"id\":1,\"text\":\"x\",\"errors\":{\"mine\":{\"code\":\"a\"},\"embed\":{\"code\":\"http_500\"}}}");
	r.len = strlen(r.line);
	r.json = cJSON_Parse(r.line);
	float one[2] = {0.6f, 0.8f};
	struct stage_stamp stamp = {"m", "d1", NULL, NULL};
	embed_record_ok(&r, one, 2, &stamp);
	T_EQ_STR(r.out.p, "{\"id\":1,\"text\":\"x\",\"errors\":{\"mine\":{\"code\":\"a\"}},"
		 "\"embedding\":[0.6,0.8],\"embedding_model\":\"m\","
		 "\"embedding_digest\":\"d1\"}\n", "output: fields added, errors.embed gone, others kept");
	T_EQ_INT(r.outcome, REC_OK, "outcome ok");
	const char *text, *code;
	size_t len;
	char msg[128];
	T_EQ_INT(embed_record_text(&r, "text", &text, &len, &code, msg, sizeof msg), 0, "text found");
	T_EQ_INT(embed_record_text(&r, "body", &text, &len, &code, msg, sizeof msg), -1, "no body field");
	T_EQ_STR(code, "no_text", "code no_text");
	free(r.line);
	cJSON_Delete(r.json);
	buf_free(&r.out);
}

int main(void)
{
	test_cache();
	test_cache_threads();
	test_record();
	return t_done();
}
