/* consolidate_name: keys, acronyms and initials of names, and the rules
 * that match names without embeddings (see the header). */
#include "consolidate_name.h"
#include "embedder_hash.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *const consolidate_kind_name[3] = {"person", "organisation", "term"};

/* The ASCII letters of U+00C0..U+017F, lower case ("" for × and ÷). */
static const char *const fold[192] = {
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",
	"i", "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y",
	"th", "ss", "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e",
	"i", "i", "i", "i", "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u",
	"u", "u", "y", "th", "y", "a", "a", "a", "a", "a", "a", "c", "c", "c", "c",
	"c", "c", "c", "c", "d", "d", "d", "d", "e", "e", "e", "e", "e", "e", "e",
	"e", "e", "e", "g", "g", "g", "g", "g", "g", "g", "g", "h", "h", "h", "h",
	"i", "i", "i", "i", "i", "i", "i", "i", "i", "i", "ij", "ij", "j", "j",
	"k", "k", "k", "l", "l", "l", "l", "l", "l", "l", "l", "l", "l", "n", "n",
	"n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o", "o", "o", "oe",
	"oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s", "s", "s",
	"t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u", "u",
	"u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

/* Words a name of a person goes without. */
static const char *const titles[] = {
	"dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sir", "dame",
	"madame", "mme", "mademoiselle", "mlle", "monsieur", "herr", "frau", "lord", "lady",
	"rev", "reverend", "jr", "sr", "ii", "iii", "phd", "md", "esq", "mister", "captain",
	"capt", "gen", "general", "col", "colonel", "president", "senator", "judge",
};
/* Legal forms and articles organisations go without. */
static const char *const legal[] = {
	"the", "inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "corp", "corporation",
	"co", "company", "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv", "ab", "oy", "spa", "srl",
	"kk", "pty", "se", "lp",
};
/* Articles of terms. */
static const char *const articles[] = {"the", "a", "an"};
/* Small words that initials skip. */
static const char *const small[] = {
	"of", "and", "the", "for", "de", "la", "le", "du", "des", "der", "und", "in", "on", "at",
	"to", "a", "an", "et", "y",
};

static int in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w, list[i]))
			return 1;
	return 0;
}

/* Appends word w to out with Latin accents folded. */
static void put_folded(struct buf *out, const char *w, size_t n)
{
	const unsigned char *s = (const unsigned char *)w;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp;
		if (s[i] >= 0xc3 && s[i] <= 0xc5 && utf8_decode(w + i, n - i, &cp) == 2 &&
		    fold[cp - 0xc0][0]) {
			buf_puts(out, fold[cp - 0xc0]);
			i++;
			continue;
		}
		buf_putc(out, (char)s[i]);
	}
}

struct words {
	struct buf text; /* words, each NUL-terminated */
	size_t n;
};

static void collect(int kind, const char *bytes, size_t len, void *ud)
{
	if (kind != EMBEDDER_HASH_WORD)
		return;
	/* a text without letters is cut at spaces by embedder_hash: no word */
	size_t i = 0;
	while (i < len && !isalnum((unsigned char)bytes[i]) && (unsigned char)bytes[i] < 0x80)
		i++;
	if (i == len)
		return;
	struct words *w = ud;
	put_folded(&w->text, bytes, len);
	buf_putc(&w->text, '\0');
	w->n++;
}

/* The letters of an acronym as written (capitals, digits after the first,
 * dots between, a final lower-case s: "WHO", "U.N.", "LLMs", "GPT4"), in
 * lower case; NULL when s[0..n) is not one. */
static char *acronym_of(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	struct buf b = {0};
	size_t caps = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z') {
			buf_putc(&b, (char)(c + 32));
			caps++;
		} else if (c == '.' && i > 0) {
			continue;
		} else if (c == 's' && i == n - 1 && caps >= 2) {
			continue;
		} else if (c >= '0' && c <= '9' && caps) {
			buf_putc(&b, (char)c);
		} else {
			buf_free(&b);
			return NULL;
		}
	}
	if (caps < 2 || caps > 10) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* The acronym of the chunk of s (cut at white space) that spells word,
 * as in "the WHO"; NULL when there is none. */
static char *acronym_word(const char *s, const char *word)
{
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		size_t n = 0;
		while (s[n] && !isspace((unsigned char)s[n]))
			n++;
		char *a = n ? acronym_of(s, n) : NULL;
		if (a && !strcmp(a, word))
			return a;
		free(a);
		s += n;
	}
	return NULL;
}

/* The name without its "(...)" parts into main, the inside of the first
 * one into paren (both NUL-terminated, maybe empty). */
static void split_paren(const char *name, struct buf *main, struct buf *paren)
{
	int depth = 0, first_done = 0;
	for (const char *p = name; *p; p++) {
		if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth) {
			if (--depth == 0 && paren->len)
				first_done = 1;
		} else if (!depth) {
			buf_putc(main, *p);
		} else if (depth == 1 && !first_done) {
			buf_putc(paren, *p);
		}
	}
	buf_putc(main, '\0');
	main->len--;
	buf_putc(paren, '\0');
	paren->len--;
}

static int ends(const char *w, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n > m && !memcmp(w + n - m, suffix, m);
}

/* Makes a term's word singular: -ies to -y (latencies), -es after ss, x
 * and z (processes, boxes), else a final -s (LLMs, embeddings, caches),
 * but not in -ss, -us, -is, -as (process, corpus, analysis, bias). */
static void singular(char *w)
{
	size_t n = strlen(w);
	if (n > 4 && ends(w, n, "ies")) {
		w[n - 3] = 'y';
		w[n - 2] = '\0';
	} else if (n > 4 && (ends(w, n, "sses") || ends(w, n, "xes") || ends(w, n, "zes"))) {
		w[n - 2] = '\0';
	} else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' &&
		   w[n - 2] != 'i' && w[n - 2] != 'a') {
		w[n - 1] = '\0';
	}
}

/* Appends a word to the squashed key with spelling variants made one:
 * British -ise, -isation, -our, -re as -ize, -ization, -or, -er, the
 * German ae, oe, ue as the vowel alone (Mueller, Müller), and a final e
 * of a longer word dropped (cache and caches, batch and batches). */
static void put_spelling(struct buf *b, const char *w)
{
	static const char *const from[] = {"isations", "isation", "ising", "ised", "iser", "ises",
					   "ise", "yse", "our", "tre"};
	static const char *const to[] = {"izations", "ization", "izing", "ized", "izer", "izes",
					 "ize", "yze", "or", "ter"};
	struct buf t = {0};
	size_t n = strlen(w);
	buf_puts(&t, w);
	for (size_t i = 0; i < ARRAY_LEN(from); i++) {
		size_t m = strlen(from[i]);
		if (n > m + 1 && ends(w, n, from[i])) {
			t.len = n - m;
			buf_puts(&t, to[i]);
			break;
		}
	}
	if (t.len > 4 && t.p[t.len - 1] == 'e')
		t.len--;
	for (size_t i = 0; i < t.len; i++) {
		buf_putc(b, t.p[i]);
		if (i + 1 < t.len && t.p[i + 1] == 'e' && (t.p[i] == 'a' || t.p[i] == 'o' || t.p[i] == 'u'))
			i++;
	}
	buf_free(&t);
}

int consolidate_name_parse(const char *name, enum consolidate_kind kind,
			   struct consolidate_name *n)
{
	memset(n, 0, sizeof *n);
	struct buf main = {0}, paren = {0};
	split_paren(name, &main, &paren);
	struct words w = {0};
	embedder_hash_features(main.p, main.len, collect, &w);
	if (!w.n && paren.len) /* "(WHO)" alone */
		embedder_hash_features(paren.p, paren.len, collect, &w);
	n->acronym = acronym_of(main.p, main.len);
	if (!n->acronym && paren.len)
		n->acronym = acronym_of(paren.p, paren.len);
	char **tok = xcalloc(w.n + 1, sizeof *tok);
	size_t nt = 0;
	for (size_t off = 0; off < w.text.len; off += strlen(w.text.p + off) + 1)
		tok[nt++] = w.text.p + off;
	/* drop what does not tell entities apart, unless nothing is left */
	char *dropped = xcalloc(nt + 1, 1);
	size_t left = 0;
	for (size_t i = 0; i < nt; i++) {
		if (kind == CONSOLIDATE_PERSON)
			dropped[i] = (char)in_list(tok[i], titles, ARRAY_LEN(titles));
		else if (kind == CONSOLIDATE_ORG)
			dropped[i] = (char)in_list(tok[i], legal, ARRAY_LEN(legal));
		else
			dropped[i] = (char)(i == 0 && in_list(tok[i], articles, ARRAY_LEN(articles)));
		left += !dropped[i];
	}
	size_t keep = 0;
	for (size_t i = 0; i < nt; i++)
		if (!left || !dropped[i])
			tok[keep++] = tok[i];
	free(dropped);
	nt = keep;
	if (kind == CONSOLIDATE_TERM)
		for (size_t i = 0; i < nt; i++)
			singular(tok[i]);
	if (!n->acronym && nt == 1)
		n->acronym = acronym_word(main.p, tok[0]);
	if (n->acronym && kind == CONSOLIDATE_TERM)
		singular(n->acronym);
	buf_free(&main);
	buf_free(&paren);
	if (!nt) {
		free(tok);
		buf_free(&w.text);
		free(n->acronym);
		n->acronym = NULL;
		return -1;
	}
	struct buf key = {0}, squash = {0}, ini = {0};
	size_t big = 0;
	for (size_t i = 0; i < nt; i++) {
		if (i)
			buf_putc(&key, ' ');
		buf_puts(&key, tok[i]);
		put_spelling(&squash, tok[i]);
		if (!in_list(tok[i], small, ARRAY_LEN(small))) {
			buf_putc(&ini, tok[i][0]);
			big++;
		}
	}
	n->key = buf_steal(&key, NULL);
	n->squash = buf_steal(&squash, NULL);
	if (big >= 2)
		n->initials = buf_steal(&ini, NULL);
	else
		buf_free(&ini);
	/* the words, re-pointed into one block that key's copy owns */
	n->tok = xcalloc(nt + 1, sizeof *n->tok);
	n->ntok = (int)nt;
	char *p = xstrdup(n->key);
	for (size_t i = 0; i < nt; i++) {
		n->tok[i] = p;
		p += strlen(tok[i]);
		if (*p)
			*p++ = '\0';
	}
	free(tok);
	buf_free(&w.text);
	return 0;
}

void consolidate_name_free(struct consolidate_name *n)
{
	if (n->tok)
		free(n->tok[0]);
	free(n->tok);
	free(n->key);
	free(n->squash);
	free(n->acronym);
	free(n->initials);
	memset(n, 0, sizeof *n);
}

/* Words that may stand for each other: equal, or one an initial of the
 * other. */
static int word_match(const char *x, const char *y)
{
	if (!strcmp(x, y))
		return 1;
	return (x[1] == '\0' || y[1] == '\0') && x[0] == y[0];
}

/* Every word of s matches a word of l, in order. */
static int subsequence(const struct consolidate_name *s, const struct consolidate_name *l)
{
	int j = 0;
	for (int i = 0; i < s->ntok; i++) {
		while (j < l->ntok && !word_match(s->tok[i], l->tok[j]))
			j++;
		if (j == l->ntok)
			return 0;
		j++;
	}
	return 1;
}

static int person_compatible(const struct consolidate_name *a, const struct consolidate_name *b)
{
	const struct consolidate_name *s = a->ntok <= b->ntok ? a : b;
	const struct consolidate_name *l = s == a ? b : a;
	if (s->ntok == 1) {
		/* one word: the surname, or the first name of a full name; a
		 * lone initial names nobody */
		if (!s->tok[0][1])
			return 0;
		return !strcmp(s->tok[0], l->tok[l->ntok - 1]) ||
		       (l->ntok >= 2 && !strcmp(s->tok[0], l->tok[0]));
	}
	return word_match(s->tok[s->ntok - 1], l->tok[l->ntok - 1]) && subsequence(s, l);
}

int consolidate_name_compatible(const struct consolidate_name *a,
				const struct consolidate_name *b, enum consolidate_kind kind)
{
	if (!strcmp(a->squash, b->squash))
		return 1;
	if (kind == CONSOLIDATE_PERSON)
		return person_compatible(a, b);
	if (a->acronym && b->initials && !strcmp(a->acronym, b->initials))
		return 1;
	if (b->acronym && a->initials && !strcmp(b->acronym, a->initials))
		return 1;
	return a->acronym && b->acronym && !strcmp(a->acronym, b->acronym);
}

int consolidate_name_covers(const struct consolidate_name *a, const struct consolidate_name *b)
{
	return a->ntok >= b->ntok && subsequence(b, a);
}
