/* Unit tests of the shared hash embedder (common/embedder_hash.c): its
 * definition as in man/embed.1, features, similarity, normalisation, UTF-8. */
#include "embedder_hash.h"
#include "t.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double cosine(const char *a, const char *b, int dim)
{
	float *x = xcalloc((size_t)dim, sizeof *x), *y = xcalloc((size_t)dim, sizeof *y);
	embedder_hash(a, strlen(a), dim, x);
	embedder_hash(b, strlen(b), dim, y);
	double s = 0;
	for (int i = 0; i < dim; i++)
		s += (double)x[i] * y[i];
	free(x);
	free(y);
	return s;
}

static double norm_of(const char *t, int dim)
{
	float *v = xcalloc((size_t)dim, sizeof *v);
	embedder_hash(t, strlen(t), dim, v);
	double s = 0;
	for (int i = 0; i < dim; i++)
		s += (double)v[i] * v[i];
	free(v);
	return sqrt(s);
}

/* The definition of man/embed.1 written out again for ASCII texts: words
 * are runs of [A-Za-z0-9] lower-cased; features are "w"+word, "b"+w1+" "+w2,
 * "c"+n-gram of "<word>" (n = 3..5); value 1 + ln tf into bucket h mod dim,
 * negative when bit 63 of h is set; then L2-normalised. */
#define REF_MAX 256
struct ref_feat {
	uint64_t h;
	int tf;
};

static void ref_add(struct ref_feat *f, int *n, char tag, const char *s, size_t len)
{
	uint64_t h = fnv64(FNV64_INIT, &tag, 1);
	h = fnv64(h, s, len);
	for (int i = 0; i < *n; i++)
		if (f[i].h == h) {
			f[i].tf++;
			return;
		}
	f[*n].h = h;
	f[*n].tf = 1;
	(*n)++;
}

static void ref_embed(const char *text, int dim, double *out)
{
	char words[16][32];
	int nw = 0;
	for (const char *p = text; *p;) {
		while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			p++;
		size_t k = 0;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
			words[nw][k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			p++;
		}
		words[nw][k] = '\0';
		if (k)
			nw++;
	}
	struct ref_feat f[REF_MAX];
	int nf = 0;
	for (int i = 0; i < nw; i++) {
		ref_add(f, &nf, 'w', words[i], strlen(words[i]));
		if (i) {
			char bg[80];
			int n = snprintf(bg, sizeof bg, "%s %s", words[i - 1], words[i]);
			ref_add(f, &nf, 'b', bg, (size_t)n);
		}
		char pad[40];
		int pl = snprintf(pad, sizeof pad, "<%s>", words[i]);
		for (int n = 3; n <= 5; n++)
			for (int s = 0; s + n <= pl; s++)
				ref_add(f, &nf, 'c', pad + s, (size_t)n);
	}
	for (int i = 0; i < dim; i++)
		out[i] = 0;
	for (int i = 0; i < nf; i++) {
		double x = 1 + log(f[i].tf);
		out[f[i].h % (uint64_t)dim] += (f[i].h >> 63) ? -x : x;
	}
	double s = 0;
	for (int i = 0; i < dim; i++)
		s += out[i] * out[i];
	if (s == 0 && nf > 0) {
		/* all cancelled: 1 at the bucket of the first word */
		out[f[0].h % (uint64_t)dim] = 1;
		s = 1;
	}
	for (int i = 0; i < dim; i++)
		out[i] /= sqrt(s);
}

static void test_definition(void)
{
	const char *texts[] = {"Hello, hello world", "a", "The cat sat on the mat. THE CAT!",
			       "x1 y2 z3 x1 y2"};
	int dims[] = {8, 64, 384, 1000};
	for (size_t t = 0; t < ARRAY_LEN(texts); t++)
		for (size_t d = 0; d < ARRAY_LEN(dims); d++) {
			double ref[1000];
			float v[1000];
			ref_embed(texts[t], dims[d], ref);
			T_EQ_INT(embedder_hash(texts[t], strlen(texts[t]), dims[d], v), 0, "has features");
			double worst = 0;
			for (int i = 0; i < dims[d]; i++)
				worst = fmax(worst, fabs(ref[i] - v[i]));
			T_OK(worst < 1e-6, "'%s' dim %d follows the documented definition (max diff %g)",
			     texts[t], dims[d], worst);
		}
}

static void count_feature(int kind, const char *bytes, size_t len, void *ud)
{
	(void)kind, (void)bytes, (void)len;
	(*(int *)ud)++;
}

struct utf8_probe {
	int bad;
	int chars;
};

static void check_feature(int kind, const char *bytes, size_t len, void *ud)
{
	struct utf8_probe *p = ud;
	if (utf8_check(bytes, len) != -1)
		p->bad++;
	if (kind == EMBEDDER_HASH_CHAR)
		p->chars++;
}

static void test_features(void)
{
	int n = 0;
	T_EQ_INT(embedder_hash_features("a", 1, count_feature, &n), 2, "'a': the word and '<a>'");
	n = 0;
	/* hi: word + <hi <hi> hi> ; there: word + 5+4+3 char grams; bigram */
	T_EQ_INT(embedder_hash_features("hi there", 8, count_feature, &n), 1 + 3 + 1 + 12 + 1,
		 "'hi there': 2 words, 1 bigram, 15 n-grams");
	T_EQ_INT(embedder_hash_features("", 0, count_feature, &n), 0, "empty text: no features");
	T_EQ_INT(embedder_hash_features(" \t\n ", 4, count_feature, &n), 0, "white space: no features");
	T_OK(embedder_hash_features("?!", 2, count_feature, &n) > 0, "punctuation only still has features");

	const char *multi = "naïve CAFÉ 日本語のテキスト Ωμέγα 😀 x\xff\xfe y \xe2\x82";
	struct utf8_probe p = {0, 0};
	embedder_hash_features(multi, strlen(multi), check_feature, &p);
	T_OK(p.chars > 20, "multibyte text has character n-grams (%d)", p.chars);
	T_EQ_INT(p.bad, 0, "no feature splits a code point, even from invalid input");
}

static void test_similarity(void)
{
	const char *near[][2] = {
		{"The quick brown fox jumps over the lazy dog.",
		 "The quick brown fox jumped over the lazy dog!"},
		{"Invoices must be paid within thirty days of receipt.",
		 "Invoices must be paid within 30 days of receipt."},
		{"Please reset my password, I cannot log in to my account.",
		 "Please reset my pasword, I can not log in to my account"},
		{"The meeting was moved to Thursday afternoon at three.",
		 "The meeting has been moved to Thursday afternoon at 3 pm."},
	};
	const char *far[][2] = {
		{"The quick brown fox jumps over the lazy dog.",
		 "Quarterly revenue grew by eight percent in Europe."},
		{"Please reset my password, I cannot log in to my account.",
		 "The weather in the mountains is cold and windy in winter."},
		{"The meeting was moved to Thursday afternoon at three.",
		 "Photosynthesis converts light energy into chemical energy in plants."},
		{"Kubernetes schedules containers onto nodes in a cluster.",
		 "Grandma's apple pie needs cinnamon, butter and sugar."},
	};
	for (size_t i = 0; i < ARRAY_LEN(near); i++) {
		double c = cosine(near[i][0], near[i][1], 384);
		T_OK(c > 0.8, "near-duplicates: cosine %.3f > 0.8 (%s)", c, near[i][1]);
	}
	for (size_t i = 0; i < ARRAY_LEN(far); i++) {
		double c = cosine(far[i][0], far[i][1], 384);
		T_OK(c < 0.3, "unrelated: cosine %.3f < 0.3 (%s)", c, far[i][1]);
	}
	T_OK(fabs(cosine("Hello World", "hello world", 384) - 1) < 1e-6, "ASCII case is folded");
	T_OK(fabs(cosine("ÉCOLE ÇA Ωμέγα ПРИВЕТ Łódź", "école ça ωμέγα привет łódź", 384) - 1) < 1e-6,
	     "Latin-1, Latin Extended-A, Greek and Cyrillic case is folded");
	T_OK(fabs(cosine("hello,   world!", "hello world", 384) - 1) < 1e-6,
	     "punctuation and spacing between words do not count");
}

static void test_vectors(void)
{
	const char *texts[] = {"a", "b", "Hello world", "日本語", "?!", "naïve café"};
	int dims[] = {8, 384, 4096};
	for (size_t t = 0; t < ARRAY_LEN(texts); t++)
		for (size_t d = 0; d < ARRAY_LEN(dims); d++) {
			double n = norm_of(texts[t], dims[d]);
			T_OK(fabs(n - 1) < 1e-5, "'%s' dim %d has norm 1 (%.7f)", texts[t], dims[d], n);
		}
	float a[384], b[384];
	embedder_hash("same text, same vector", 22, 384, a);
	embedder_hash("same text, same vector", 22, 384, b);
	T_OK(!memcmp(a, b, sizeof a), "deterministic");
	float z[16];
	T_EQ_INT(embedder_hash("   ", 3, 16, z), -1, "white space only: -1");
	int zeros = 1;
	for (int i = 0; i < 16; i++)
		zeros &= z[i] == 0;
	T_OK(zeros, "white space only: all zeros");

	size_t big = (3u << 20) + 7;
	char *t = xmalloc(big + 1);
	for (size_t i = 0; i < big; i++)
		t[i] = "abcdefgh é"[i % 11];
	t[big] = '\0';
	float *v = xmalloc(64 * sizeof *v);
	T_EQ_INT(embedder_hash(t, big, 64, v), 0, "a 3 MiB text is embedded (from its first MiB)");
	free(v);
	free(t);
}

int main(void)
{
	test_definition();
	test_features();
	test_similarity();
	test_vectors();
	return t_done();
}
