/* embedder_hash: the offline feature-hashing embedder (`--model hash`). The
 * text is decoded as UTF-8, lower-cased, cut into words; each word, each
 * pair of adjacent words and each character 3-, 4- and 5-gram of "<word>"
 * is hashed (FNV-1a 64) to a signed bucket; a feature seen tf times adds
 * 1 + ln tf; the vector is L2-normalised. man/embed.1 has the
 * exact definition; keep the two in step. */
#include "embedder_hash.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longer texts are embedded from their first MAX_BYTES bytes (cut at a
 * code point), so memory stays bounded whatever the record. */
#define MAX_BYTES (1u << 20)
#define REPLACEMENT 0xfffdu

/* Decodes one code point at s[*i]; an invalid or cut sequence counts as
 * U+FFFD and consumes one byte. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	uint32_t cp;
	size_t len = utf8_decode((const char *)s + *i, n - *i, &cp);
	*i += len ? len : 1;
	return len ? cp : REPLACEMENT;
}

static void utf8_put(struct buf *b, uint32_t cp)
{
	char o[4];
	buf_append(b, o, utf8_encode(cp, o));
}

/* Simple lower-case mapping of ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic capitals (final sigma folds to sigma). */
static uint32_t lower(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130)
			return 'i';
		if (c == 0x178)
			return 0xff;
		if ((c <= 0x137 || (c >= 0x14a && c <= 0x177)) && !(c & 1))
			return c + 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && (c & 1))
			return c + 1;
		return c;
	}
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 37;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 63;
	if (c == 0x3c2)
		return 0x3c3;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

static int is_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Letters, digits and everything outside the listed punctuation and symbol
 * blocks make words. */
static int is_word(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	static const uint32_t sep[][2] = {
		{0x80, 0xbf}, {0xd7, 0xd7}, {0xf7, 0xf7}, {0x2000, 0x206f}, {0x20a0, 0x20cf},
		{0x2190, 0x2bff}, {0x2e00, 0x2e7f}, {0x3000, 0x303f}, {0xfe10, 0xfe6f},
		{0xfeff, 0xfeff}, {0xff01, 0xff0f}, {0xff1a, 0xff20}, {0xff3b, 0xff40},
		{0xff5b, 0xff65}, {0xfffd, 0xfffd}, {0x1f000, 0x1faff},
	};
	for (size_t i = 0; i < ARRAY_LEN(sep); i++)
		if (c >= sep[i][0] && c <= sep[i][1])
			return 0;
	return 1;
}

/* Writes into out the lower-cased words of text separated by single
 * spaces. Words are runs of word characters; a text without any is cut at
 * white space instead (so "?!" still has a feature). */
static void normalise(const char *text, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	if (len > MAX_BYTES)
		len = utf8_floor(text, MAX_BYTES);
	int words = 0;
	for (size_t i = 0; i < len && !words;)
		words = is_word(utf8_next(s, len, &i));
	buf_reset(out);
	int in_word = 0;
	for (size_t i = 0; i < len;) {
		uint32_t c = utf8_next(s, len, &i);
		int w = words ? is_word(c) : !is_space(c);
		if (w) {
			if (!in_word && out->len)
				buf_putc(out, ' ');
			utf8_put(out, lower(c));
		}
		in_word = w;
	}
}

uint64_t embedder_hash_feature(int kind, const char *bytes, size_t len)
{
	unsigned char tag = (unsigned char)kind;
	return fnv64(fnv64(FNV64_INIT, &tag, 1), bytes, len);
}

/* Character n-grams of "<word>", n = 3..5, never splitting a code point. */
static size_t char_grams(const char *w, size_t wlen, struct buf *pad, size_t **offs,
			 size_t *offcap, embedder_hash_feature_fn fn, void *ud)
{
	buf_reset(pad);
	buf_putc(pad, '<');
	buf_append(pad, w, wlen);
	buf_putc(pad, '>');
	size_t k = 0;
	for (size_t i = 0; i <= pad->len; i++) {
		if (i < pad->len && ((unsigned char)pad->p[i] & 0xc0) == 0x80)
			continue;
		if (k == *offcap) {
			*offcap = *offcap ? 2 * *offcap : 64;
			*offs = xrealloc(*offs, *offcap * sizeof **offs);
		}
		(*offs)[k++] = i; /* start of each code point, then the end */
	}
	size_t ncp = k - 1, count = 0;
	for (size_t n = 3; n <= 5; n++)
		for (size_t i = 0; i + n <= ncp; i++) {
			fn(EMBEDDER_HASH_CHAR, pad->p + (*offs)[i], (*offs)[i + n] - (*offs)[i], ud);
			count++;
		}
	return count;
}

size_t embedder_hash_features(const char *text, size_t len, embedder_hash_feature_fn fn, void *ud)
{
	struct buf norm = {0}, pad = {0};
	size_t *offs = NULL, offcap = 0, count = 0;
	normalise(text, len, &norm);
	size_t prev = 0;
	int have_prev = 0;
	for (size_t i = 0; i < norm.len;) {
		size_t e = i;
		while (e < norm.len && norm.p[e] != ' ')
			e++;
		fn(EMBEDDER_HASH_WORD, norm.p + i, e - i, ud);
		count++;
		if (have_prev) {
			/* the two words and the one space between them */
			fn(EMBEDDER_HASH_BIGRAM, norm.p + prev, e - prev, ud);
			count++;
		}
		count += char_grams(norm.p + i, e - i, &pad, &offs, &offcap, fn, ud);
		prev = i, have_prev = 1;
		i = e + 1;
	}
	buf_free(&norm);
	buf_free(&pad);
	free(offs);
	return count;
}

struct feats {
	uint64_t *v;
	size_t n, cap;
};

static void collect(int kind, const char *bytes, size_t len, void *ud)
{
	struct feats *f = ud;
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->v = xrealloc(f->v, f->cap * sizeof *f->v);
	}
	f->v[f->n++] = embedder_hash_feature(kind, bytes, len);
}

static int by_hash(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int embedder_hash(const char *text, size_t len, int dim, float *v)
{
	struct feats f = {0};
	embedder_hash_features(text, len, collect, &f);
	double *acc = xcalloc((size_t)dim, sizeof *acc);
	uint64_t first = f.n ? f.v[0] : 0; /* the first word's feature */
	if (f.n)
		qsort(f.v, f.n, sizeof *f.v, by_hash);
	for (size_t i = 0; i < f.n;) {
		size_t j = i;
		while (j < f.n && f.v[j] == f.v[i])
			j++;
		/* sublinear tf: a word said ten times is not ten times the topic */
		double x = 1 + log((double)(j - i));
		uint64_t h = f.v[i];
		acc[h % (uint64_t)dim] += (h >> 63) ? -x : x;
		i = j;
	}
	double sum = 0;
	for (int i = 0; i < dim; i++)
		sum += acc[i] * acc[i];
	double norm = sqrt(sum);
	if (norm == 0 && f.n) {
		/* every bucket cancelled out (a tiny text in few dimensions):
		 * still a unit vector, and still a function of the text */
		acc[first % (uint64_t)dim] = 1;
		norm = 1;
	}
	for (int i = 0; i < dim; i++)
		v[i] = norm > 0 ? (float)(acc[i] / norm) : 0.0f;
	free(acc);
	free(f.v);
	return norm > 0 ? 0 : -1;
}
