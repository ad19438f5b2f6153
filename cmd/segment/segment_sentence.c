/* segment_sentence: the sentence scanner. It walks a range of text once,
 * finds sentence ends and paragraph breaks (the rules are in man/segment.1,
 * SPLITTING RULES: Sentences) and hands each sentence to the packer. */
#include "segment_sentence.h"
#include "segment_text.h"

#include <stdint.h>
#include <string.h>

/* Bytes that may end a sentence or a paragraph: . ! ? \n and the lead
 * bytes of … (E2) 。 (E3) ！？ (EF). The scan skips everything else. */
static const unsigned char scan_tbl[256] = {
	['.'] = 1, ['!'] = 1, ['?'] = 1, ['\n'] = 1,
	[0xe2] = 1, [0xe3] = 1, [0xef] = 1,
};

/* Skips bytes that cannot end a sentence or a paragraph, eight at a time
 * while a word holds only ASCII other than . ! ? \n (the zero-byte test
 * of each compare may flag a byte too many, never too few; the table
 * settles it). */
static size_t skip_plain(const unsigned char *d, size_t i, size_t b)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	for (;;) {
		while (i + 8 <= b) {
			uint64_t w, m, x;
			memcpy(&w, d + i, 8);
			m = w & high;
			x = w ^ (ones * '.');
			m |= (x - ones) & ~x;
			x = w ^ (ones * '!');
			m |= (x - ones) & ~x;
			x = w ^ (ones * '?');
			m |= (x - ones) & ~x;
			x = w ^ (ones * '\n');
			m |= (x - ones) & ~x;
			if (m & high)
				break;
			i += 8;
		}
		size_t lim = i + 8 < b ? i + 8 : b;
		while (i < lim && !scan_tbl[d[i]])
			i++;
		if (i < lim || i >= b)
			return i;
	}
}

/* Length of a sentence terminator at d[i], or 0; *cjk is set for the
 * full-width ones, which end a sentence with no space after them. */
static size_t term_len(const unsigned char *d, size_t i, size_t b, int *cjk)
{
	unsigned char ch = d[i];
	*cjk = 0;
	if (ch == '.' || ch == '!' || ch == '?')
		return 1;
	if (i + 2 >= b)
		return 0;
	if (ch == 0xe2 && d[i + 1] == 0x80 && d[i + 2] == 0xa6) /* … */
		return 3;
	if ((ch == 0xe3 && d[i + 1] == 0x80 && d[i + 2] == 0x82) || /* 。 */
	    (ch == 0xef && d[i + 1] == 0xbc && (d[i + 2] == 0x81 || d[i + 2] == 0x9f))) { /* ！？ */
		*cjk = 1;
		return 3;
	}
	return 0;
}

/* Skips closing quotes and brackets: " ' ) ] } » ’ ” › 」 』 】 ）. */
static size_t skip_closers(const unsigned char *d, size_t k, size_t b)
{
	for (;;) {
		if (k >= b)
			return k;
		unsigned char ch = d[k];
		if (ch == '"' || ch == '\'' || ch == ')' || ch == ']' || ch == '}') {
			k++;
			continue;
		}
		if (ch == 0xc2 && k + 1 < b && d[k + 1] == 0xbb) {
			k += 2;
			continue;
		}
		if (k + 2 >= b)
			return k;
		if ((ch == 0xe2 && d[k + 1] == 0x80 &&
		     (d[k + 2] == 0x99 || d[k + 2] == 0x9d || d[k + 2] == 0xba)) ||
		    (ch == 0xe3 && d[k + 1] == 0x80 &&
		     (d[k + 2] == 0x8d || d[k + 2] == 0x8f || d[k + 2] == 0x91)) ||
		    (ch == 0xef && d[k + 1] == 0xbc && d[k + 2] == 0x89)) {
			k += 3;
			continue;
		}
		return k;
	}
}

/* Lower-case words, by length, that are usually followed by a period
 * without ending the sentence. Kept short on purpose: "Inc." or "No." end
 * sentences too often to be listed. */
static const char *const abbrevs[7] = {
	"",
	"",
	"al cf ch dr jr lt mr ms mt pp sr st vs ",
	("apr aug col dec etc feb fig gen gov hon jan jul jun mar mrs nov oct rep rev "
	 "sen sep sgt vol "),
	"capt dept figs prof sept ",
	"",
	"approx ",
};

/* Whether the period at d[i], followed by whitespace, does not end a
 * sentence: after an abbreviation (Mr. e.g. U.S.), a single capital
 * initial (J. Smith), or a number opening a line (a "1." list marker). */
static int period_continues(const unsigned char *d, size_t a, size_t i)
{
	size_t x = i;
	while (x > a && !seg_text_is_space(d[x - 1])) {
		if (i - x >= 24)
			return 0;
		x--;
	}
	size_t w = x;
	for (;;) {
		if (w < i && (d[w] == '(' || d[w] == '[' || d[w] == '{' || d[w] == '"' || d[w] == '\''))
			w++;
		else if (w + 2 < i && d[w] == 0xe2 && d[w + 1] == 0x80 &&
			 (d[w + 2] == 0x9c || d[w + 2] == 0x98)) /* “ ‘ */
			w += 3;
		else
			break;
	}
	size_t n = i - w;
	if (n == 0)
		return 0;
	if (n == 1 && d[w] >= 'A' && d[w] <= 'Z')
		return 1;
	size_t digits = 0, dots = 0, run = 0, short_runs = 1;
	for (size_t k = w; k < i; k++) {
		unsigned char ch = d[k];
		if (seg_text_is_digit(ch)) {
			digits++;
		} else if (ch == '.') {
			dots++;
			if (run == 0 || run > 2)
				short_runs = 0;
			run = 0;
			continue;
		} else if (!((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')) {
			short_runs = 0;
		}
		run++;
	}
	if (run == 0 || run > 2)
		short_runs = 0;
	if (digits == n) {
		size_t y = x;
		while (y > a && (d[y - 1] == ' ' || d[y - 1] == '\t'))
			y--;
		return y == a || d[y - 1] == '\n';
	}
	if (dots && short_runs && !digits)
		return 1;
	if (n > 6 || dots)
		return 0;
	char low[8];
	for (size_t k = 0; k < n; k++)
		low[k] = (char)(d[w + k] >= 'A' && d[w + k] <= 'Z' ? d[w + k] | 0x20 : d[w + k]);
	for (const char *ab = abbrevs[n]; *ab; ab += n + 1) {
		size_t k = 0;
		while (k < n && ab[k] == low[k])
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}

/* Splits doc[a..b) into sentences and paragraphs and adds them as pieces;
 * flags go to the first piece. */
void seg_sentence_scan(struct seg_pack *p, size_t a, size_t b, unsigned flags)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	size_t s = a, i = a;
	while (i < b && !p->stopped) {
		i = skip_plain(d, i, b);
		if (i >= b)
			break;
		if (d[i] == '\n') {
			size_t j = i + 1, l;
			while (j < b && d[j] != '\n' && (l = seg_text_ws_len(d, j, b)))
				j += l;
			if (j < b && d[j] != '\n') {
				i = j;
				continue;
			}
			/* a blank line (or the end): a paragraph break */
			if (seg_pack_text(p, s, i, flags))
				flags = 0;
			flags |= SEG_PARA;
			s = i = j;
			continue;
		}
		int cjk, more;
		size_t t = term_len(d, i, b, &cjk);
		if (!t) {
			i++;
			continue;
		}
		size_t k = i + t, t2;
		int multi = 0;
		while (k < b && (t2 = term_len(d, k, b, &more))) {
			k += t2;
			cjk |= more;
			multi = 1;
		}
		k = skip_closers(d, k, b);
		if (!cjk && k < b && !seg_text_ws_len(d, k, b)) {
			i = k;
			continue;
		}
		if (d[i] == '.' && !multi && k < b && period_continues(d, a, i)) {
			i = k;
			continue;
		}
		if (seg_pack_text(p, s, k, flags))
			flags = 0;
		s = i = k;
	}
	seg_pack_text(p, s, b, flags);
}
