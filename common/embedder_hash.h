/* embedder_hash: the offline embedder behind `--model hash`, part of the one
 * embedding client (embedder.c) every tool shares; consolidate also reads its
 * words. A deterministic, L2-normalised feature-hashing vector of a text's
 * words, word bigrams and character 3- to 5-grams (the exact definition is
 * in man/embed.1). Pure functions, safe from any thread. */
#ifndef LANES_EMBEDDER_HASH_H
#define LANES_EMBEDDER_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Feature kinds; the tag byte is hashed in front of the feature's bytes. */
enum embedder_hash_kind {
	EMBEDDER_HASH_WORD = 'w',   /* a word */
	EMBEDDER_HASH_BIGRAM = 'b', /* two adjacent words joined by one space */
	EMBEDDER_HASH_CHAR = 'c',   /* 3 to 5 code points of "<word>" */
};

typedef void (*embedder_hash_feature_fn)(int kind, const char *bytes, size_t len, void *ud);

/* Calls fn for every feature occurrence of text[0..len) in text order
 * (words and bigrams first, then the character n-grams of each word).
 * bytes are the normalised (lower-cased, valid UTF-8) feature text, valid
 * only during the call. Returns the number of features (0: the text is
 * empty or white space only). */
size_t embedder_hash_features(const char *text, size_t len, embedder_hash_feature_fn fn, void *ud);

/* The 64-bit hash of one feature: FNV-1a over the tag byte, then bytes. */
uint64_t embedder_hash_feature(int kind, const char *bytes, size_t len);

/* Writes the unit vector of text[0..len) into v[0..dim). Returns 0, or -1
 * when the text has no features (v is then all zeros). */
int embedder_hash(const char *text, size_t len, int dim, float *v);

#endif
