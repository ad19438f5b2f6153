/* segment_split: sentence, Markdown and transcript splitting for segment.
 * A scanner walks the document once and hands pieces (sentences, Markdown
 * blocks, transcript cues) in order to a packer; the packer holds only the
 * pieces of the segment it is building, so memory follows the segment size,
 * never the document size, and no byte is looked at more than a few times. */
#include "segment_split.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* P_PARA: a paragraph break (blank line, Markdown block edge) comes before
 * the piece, a good place to end a segment. P_HARD: the piece must start a
 * segment (headings, a new speaker); no overlap is carried across it. */
enum { P_PARA = 1, P_HARD = 2 };

/* Sizes are differences of "virtual" positions: for text and Markdown the
 * document's own byte and code point offsets; for transcripts offsets in
 * the cue texts joined by single spaces, which is what gets emitted. */
struct piece {
	size_t b0, b1;   /* span in the document */
	size_t vb0, vb1; /* virtual byte positions */
	size_t vc0, vc1; /* virtual code point positions (== vb* for tokens) */
	unsigned flags;
	/* transcripts only */
	const char *tx;  /* text before the piece is queued */
	size_t off;      /* text in the arena once queued */
	double t0, t1;
	int has_spk;
	size_t spk, spk_len; /* speaker as a slice of the document */
};

struct ctx {
	const char *doc;
	size_t len;
	size_t target, max, overlap;
	int tokens;     /* unit is SEG_TOKENS: sizes from bytes alone */
	int transcript; /* pieces carry their own text in the arena */
	int dry;        /* transcripts: first pass, only looking for errors */
	int stopped;    /* emit asked to stop */
	seg_emit_fn emit;
	void *ud;
	char *err;
	size_t errlen;

	size_t cur_b, cur_c; /* code point cursor: cur_c code points before cur_b */

	struct piece *q; /* the segment being built */
	size_t n, cap;
	size_t nov;      /* q[0..nov) were emitted already: the overlap */

	struct buf arena; /* texts of the queued transcript pieces */
	struct buf out;   /* the joined transcript text being emitted */
	struct buf spk;   /* the speaker being emitted, NUL-terminated */
	size_t vb, vc;    /* transcripts: end of the joined stream so far */

	/* the transcript cue being read */
	int vtt;
	double t0, t1;
	struct buf cue;   /* cleaned text of the current single-speaker part */
	int cue_sp;       /* a space is due before the next visible text */
	size_t cue_b0, cue_b1;
	int has_spk;
	size_t spk_off, spk_len;
	int prev_set, prev_has; /* speaker of the last transcript piece */
	size_t prev_off, prev_len;
};

static int is_aws(unsigned char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static size_t cp_len(unsigned char lead)
{
	return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/* Length of the whitespace code point at d[i] (the document is valid
 * UTF-8 and ranges end on code point boundaries), or 0. Besides ASCII this
 * knows NEL, NBSP, the U+2000 spaces, the line/paragraph separators and
 * the ideographic space, so CJK and typeset text trim like ASCII. */
static size_t ws_len(const unsigned char *d, size_t i, size_t e)
{
	unsigned char ch = d[i];
	if (ch < 0x80)
		return is_aws(ch);
	if (ch == 0xc2)
		return i + 1 < e && (d[i + 1] == 0x85 || d[i + 1] == 0xa0) ? 2 : 0;
	if (i + 2 >= e)
		return 0;
	if (ch == 0xe2 && d[i + 1] == 0x80 &&
	    (d[i + 2] <= 0x8a || d[i + 2] == 0xa8 || d[i + 2] == 0xa9 || d[i + 2] == 0xaf))
		return 3;
	if (ch == 0xe2 && d[i + 1] == 0x81 && d[i + 2] == 0x9f)
		return 3;
	if (ch == 0xe3 && d[i + 1] == 0x80 && d[i + 2] == 0x80)
		return 3;
	return 0;
}

/* Length of the whitespace code point ending at d[e], or 0. */
static size_t ws_end(const unsigned char *d, size_t lo, size_t e)
{
	if (e <= lo)
		return 0;
	if (d[e - 1] < 0x80)
		return is_aws(d[e - 1]);
	size_t y = e - 1;
	while (y > lo && (d[y] & 0xc0) == 0x80)
		y--;
	size_t l = ws_len(d, y, e);
	return l == e - y ? l : 0;
}

static size_t skip_ws(const unsigned char *d, size_t s, size_t e)
{
	size_t l;
	while (s < e && (l = ws_len(d, s, e)))
		s += l;
	return s;
}

static size_t trim_end(const unsigned char *d, size_t s, size_t e)
{
	size_t l;
	while (e > s && (l = ws_end(d, s, e)))
		e -= l;
	return e;
}

/* Counts code points as bytes minus continuation bytes (10xxxxxx), eight
 * bytes at a time: this runs over every byte of the document in chars mode. */
static size_t cp_count(const unsigned char *s, size_t n)
{
	size_t cont = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t m = (w & ~(w << 1) & 0x8080808080808080ULL) >> 7;
		/* sums the eight 0/1 bytes into the top byte: no popcnt needed */
		cont += (size_t)((m * 0x0101010101010101ULL) >> 56);
	}
	for (; i < n; i++)
		cont += (s[i] & 0xc0) == 0x80;
	return n - cont;
}

/* Code point offset of document byte pos. Pieces come in document order,
 * so the cursor mostly moves forward and the whole document is counted
 * about once. */
static size_t cp_at(struct ctx *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	if (c->tokens)
		return pos;
	if (pos >= c->cur_b)
		c->cur_c += cp_count(d + c->cur_b, pos - c->cur_b);
	else
		c->cur_c -= cp_count(d + pos, c->cur_b - pos);
	c->cur_b = pos;
	return c->cur_c;
}

static size_t usize(const struct ctx *c, size_t bytes, size_t cps)
{
	return c->tokens ? bytes / 4 + (bytes % 4 != 0) : cps;
}

static size_t span_size(const struct ctx *c, const struct piece *a, const struct piece *z)
{
	return usize(c, z->vb1 - a->vb0, z->vc1 - a->vc0);
}

/* Where to end a piece of d[s..e) (d[s] not blank) so that d[s..cut) fits
 * in max: e when all of it fits, else the last line break in the second
 * half of what fits (code, tables, verse), else the last whitespace, else
 * the last code point boundary that fits. */
static size_t cut_point(const struct ctx *c, const unsigned char *d, size_t s, size_t e)
{
	size_t lim;
	if (c->tokens) {
		if (e - s <= 4 * c->max)
			return e;
		lim = s + 4 * c->max;
		while ((d[lim] & 0xc0) == 0x80)
			lim--;
	} else {
		if (e - s <= c->max) /* bytes >= code points */
			return e;
		size_t k = 0;
		lim = s;
		while (lim < e && k < c->max)
			lim += cp_len(d[lim]), k++;
		if (lim >= e)
			return e;
	}
	size_t half = s + (lim - s) / 2;
	for (size_t x = lim + 1; x > half; x--)
		if (d[x - 1] == '\n')
			return x - 1;
	if (ws_len(d, lim, e))
		return lim;
	for (size_t x = lim - 1; x > s; x--)
		if (ws_len(d, x, e))
			return x;
	return lim;
}

static void emit_segment(struct ctx *c, size_t k)
{
	const struct piece *a = &c->q[0], *z = &c->q[k - 1];
	struct seg_span sp = {0};
	sp.start = a->b0;
	sp.end = z->b1;
	if (!c->transcript) {
		sp.text = c->doc + a->b0;
		sp.text_len = z->b1 - a->b0;
	} else {
		buf_reset(&c->out);
		for (size_t i = 0; i < k; i++) {
			if (i)
				buf_putc(&c->out, ' ');
			buf_append(&c->out, c->arena.p + c->q[i].off, c->q[i].vb1 - c->q[i].vb0);
		}
		sp.text = c->out.p;
		sp.text_len = c->out.len;
		sp.has_time = 1;
		sp.t0 = a->t0;
		sp.t1 = z->t1;
		if (a->has_spk) {
			buf_reset(&c->spk);
			buf_append(&c->spk, c->doc + a->spk, a->spk_len);
			sp.speaker = c->spk.p;
			sp.speaker_len = a->spk_len;
		}
	}
	if (c->emit(&sp, c->ud))
		c->stopped = 1;
}

static void q_push(struct ctx *c, const struct piece *p)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->q = xrealloc(c->q, c->cap * sizeof *c->q);
	}
	struct piece *dst = &c->q[c->n++];
	*dst = *p;
	if (c->transcript) {
		dst->off = c->arena.len;
		buf_append(&c->arena, p->tx, p->vb1 - p->vb0);
		dst->tx = NULL;
	}
}

/* Removes q[0..k); the arena keeps only the texts still queued. */
static void q_drop(struct ctx *c, size_t k)
{
	if (!k)
		return;
	memmove(c->q, c->q + k, (c->n - k) * sizeof *c->q);
	c->n -= k;
	c->nov = c->nov > k ? c->nov - k : 0;
	if (!c->transcript)
		return;
	size_t base = c->n ? c->q[0].off : c->arena.len;
	memmove(c->arena.p, c->arena.p + base, c->arena.len - base);
	c->arena.len -= base;
	for (size_t i = 0; i < c->n; i++)
		c->q[i].off -= base;
}

/* The overlap when no whole sentence fits in it: the longest tail of p
 * within the overlap size that starts a word, or, when that tail holds no
 * whitespace at all (CJK, a huge token), the longest tail that fits.
 * Returns 0 when even that is the whole piece or nothing. */
static int tail_piece(struct ctx *c, const struct piece *p, struct piece *out)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	size_t x = p->b1, cps = 0, word = 0, word_c = 0, last = 0, last_c = 0;
	int saw_ws = 0;
	/* walks back code point by code point; p->b0 itself is never a start */
	while (x > p->b0) {
		size_t y = x - 1;
		if (d[y] >= 0x80)
			while ((d[y] & 0xc0) == 0x80)
				y--;
		int ws = d[y] < 0x80 ? is_aws(d[y]) : ws_len(d, y, p->b1) != 0;
		if (ws && last == x)
			word = x, word_c = cps;
		if (y == p->b0 || usize(c, p->b1 - y, cps + 1) > c->overlap)
			break;
		saw_ws |= ws;
		x = y;
		cps++;
		if (!ws)
			last = x, last_c = cps;
	}
	if (word)
		x = word, cps = word_c;
	else if (last && !saw_ws)
		x = last, cps = last_c;
	else
		return 0;
	*out = *p;
	out->b0 = out->vb0 = x;
	out->vc0 = c->tokens ? x : p->vc1 - cps;
	out->flags = 0;
	return 1;
}

/* Emits q[0..k) and keeps for the next segment the overlap (when keep)
 * followed by the pieces after k. */
static void flush(struct ctx *c, size_t k, int keep)
{
	emit_segment(c, k);
	size_t j = k;
	struct piece part;
	int have_part = 0;
	if (keep && c->overlap && !c->stopped) {
		/* q[0] stays out so a segment is never wholly repeated */
		while (j > 1 && span_size(c, &c->q[j - 1], &c->q[k - 1]) <= c->overlap)
			j--;
		if (j == k && !c->transcript)
			have_part = tail_piece(c, &c->q[k - 1], &part);
	}
	q_drop(c, j);
	c->nov = k - j;
	if (have_part) {
		q_push(c, &part);
		memmove(c->q + 1, c->q, (c->n - 1) * sizeof *c->q);
		c->q[0] = part;
		c->nov = 1;
	}
}

/* Adds one piece (no bigger than max) to the segment being built, emitting
 * segments as they fill. Greedy up to target; when the next piece does not
 * fit, the segment ends at its last paragraph break if what comes before
 * that break is at least half the target, so segments end with paragraphs
 * rather than mid-paragraph, without leaving tiny fragments. */
static void pack(struct ctx *c, const struct piece *p)
{
	if (c->stopped)
		return;
	if (p->flags & P_HARD) {
		if (c->n > c->nov)
			flush(c, c->n, 0);
		q_drop(c, c->n);
		if (c->stopped)
			return;
	}
	for (;;) {
		if (c->n == c->nov) {
			/* only overlap so far: p goes in, overlap gives way to max */
			size_t k = 0;
			while (k < c->n && span_size(c, &c->q[k], p) > c->max)
				k++;
			q_drop(c, k);
			q_push(c, p);
			return;
		}
		if (span_size(c, &c->q[0], p) <= c->target) {
			q_push(c, p);
			return;
		}
		size_t k = c->n;
		if (!(p->flags & P_PARA)) {
			for (size_t i = c->n - 1; i > c->nov; i--) {
				if (!(c->q[i].flags & P_PARA))
					continue;
				if (2 * span_size(c, &c->q[0], &c->q[i - 1]) >= c->target)
					k = i;
				break;
			}
		}
		flush(c, k, 1);
		if (c->stopped)
			return;
	}
}

static void finish(struct ctx *c)
{
	if (!c->stopped && c->n > c->nov)
		flush(c, c->n, 0);
	q_drop(c, c->n);
}

/* Adds doc[s..e) as one piece, trimmed, cut into several when bigger than
 * max. Returns 0 when it was blank (and adds nothing). */
static int text_piece(struct ctx *c, size_t s, size_t e, unsigned flags)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	s = skip_ws(d, s, e);
	e = trim_end(d, s, e);
	if (s >= e)
		return 0;
	while (s < e && !c->stopped) {
		size_t cut = cut_point(c, d, s, e);
		size_t ce = trim_end(d, s, cut);
		struct piece p = {0};
		p.b0 = p.vb0 = s;
		p.b1 = p.vb1 = ce;
		p.vc0 = cp_at(c, s);
		p.vc1 = cp_at(c, ce);
		p.flags = flags;
		flags = 0;
		pack(c, &p);
		s = skip_ws(d, cut, e);
	}
	return 1;
}

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
	while (x > a && !is_aws(d[x - 1])) {
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
		if (is_digit(ch)) {
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
static void scan_sentences(struct ctx *c, size_t a, size_t b, unsigned flags)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	size_t s = a, i = a;
	while (i < b && !c->stopped) {
		i = skip_plain(d, i, b);
		if (i >= b)
			break;
		if (d[i] == '\n') {
			size_t j = i + 1, l;
			while (j < b && d[j] != '\n' && (l = ws_len(d, j, b)))
				j += l;
			if (j < b && d[j] != '\n') {
				i = j;
				continue;
			}
			/* a blank line (or the end): a paragraph break */
			if (text_piece(c, s, i, flags))
				flags = 0;
			flags |= P_PARA;
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
		if (!cjk && k < b && !ws_len(d, k, b)) {
			i = k;
			continue;
		}
		if (d[i] == '.' && !multi && k < b && period_continues(d, a, i)) {
			i = k;
			continue;
		}
		if (text_piece(c, s, k, flags))
			flags = 0;
		s = i = k;
	}
	text_piece(c, s, b, flags);
}

static void split_text(struct ctx *c, size_t pos)
{
	scan_sentences(c, pos, c->len, 0);
}

static size_t eol(const char *d, size_t i, size_t n)
{
	const char *p = memchr(d + i, '\n', n - i);
	return p ? (size_t)(p - d) : n;
}

static int is_blank(const unsigned char *d, size_t s, size_t e)
{
	return skip_ws(d, s, e) >= e;
}

/* Leading spaces of a line, a tab counting as four. */
static size_t indent(const unsigned char *d, size_t s, size_t e, size_t *pos)
{
	size_t n = 0;
	while (s < e && (d[s] == ' ' || d[s] == '\t'))
		n += d[s++] == '\t' ? 4 : 1;
	*pos = s;
	return n;
}

static int md_atx(const unsigned char *d, size_t s, size_t e)
{
	size_t i, h = 0;
	if (indent(d, s, e, &i) > 3)
		return 0;
	while (i < e && d[i] == '#')
		i++, h++;
	return h >= 1 && h <= 6 && (i == e || d[i] == ' ' || d[i] == '\t');
}

static int md_fence_open(const unsigned char *d, size_t s, size_t e, size_t max_indent,
			 unsigned char *ch, size_t *flen)
{
	size_t i;
	if (indent(d, s, e, &i) > max_indent || i >= e || (d[i] != '`' && d[i] != '~'))
		return 0;
	size_t j = i;
	while (j < e && d[j] == d[i])
		j++;
	if (j - i < 3)
		return 0;
	if (d[i] == '`' && memchr(d + j, '`', e - j))
		return 0;
	*ch = d[i];
	*flen = j - i;
	return 1;
}

/* End of the fenced block whose body starts at pos: the end of its closing
 * line, or of the document when it is never closed; *after is where the
 * next line starts. */
static size_t md_fence_end(const unsigned char *d, size_t pos, size_t n, unsigned char ch,
			   size_t flen, size_t *after)
{
	while (pos < n) {
		size_t le = eol((const char *)d, pos, n), i;
		size_t nx = le < n ? le + 1 : n;
		indent(d, pos, le, &i);
		size_t j = i;
		while (j < le && d[j] == ch)
			j++;
		if (j - i >= flen && is_blank(d, j, le)) {
			*after = nx;
			return le;
		}
		pos = nx;
	}
	*after = n;
	return n;
}

/* A thematic break: three or more of one of - * _ and nothing else. */
static int md_rule(const unsigned char *d, size_t s, size_t e)
{
	size_t i, count = 0;
	if (indent(d, s, e, &i) > 3 || i >= e || (d[i] != '-' && d[i] != '*' && d[i] != '_'))
		return 0;
	unsigned char ch = d[i];
	for (; i < e; i++) {
		if (d[i] == ch)
			count++;
		else if (!is_aws(d[i]))
			return 0;
	}
	return count >= 3;
}

/* A setext underline: === (one or more) or --- (two or more). */
static int md_setext(const unsigned char *d, size_t s, size_t e)
{
	size_t i;
	if (indent(d, s, e, &i) > 3 || i >= e || (d[i] != '=' && d[i] != '-'))
		return 0;
	unsigned char ch = d[i];
	size_t j = i;
	while (j < e && d[j] == ch)
		j++;
	return (ch == '=' || j - i >= 2) && is_blank(d, j, e);
}

/* A list item marker: - * + or 1-9 digits and . or ), then a space.
 * Inside a paragraph only bullets and "1." start a list, as in CommonMark,
 * so a wrapped line starting "1984. " stays text. */
static int md_item(const unsigned char *d, size_t s, size_t e, int interrupt)
{
	size_t i;
	indent(d, s, e, &i);
	if (i + 1 >= e)
		return 0;
	if (d[i] == '-' || d[i] == '*' || d[i] == '+')
		return d[i + 1] == ' ' || d[i + 1] == '\t';
	size_t j = i;
	while (j < e && j - i < 9 && is_digit(d[j]))
		j++;
	if (j == i || j + 1 >= e || (d[j] != '.' && d[j] != ')') ||
	    (d[j + 1] != ' ' && d[j + 1] != '\t'))
		return 0;
	return !interrupt || (j - i == 1 && d[i] == '1');
}

/* A table row: a line starting with '|'. */
static int md_table(const unsigned char *d, size_t s, size_t e)
{
	size_t i;
	return indent(d, s, e, &i) <= 3 && i < e && d[i] == '|';
}

/* The block ends below return where the block's text ends and set *next
 * to where the following line starts; pos is the line after the block's
 * first line, first_end that line's end. */

static size_t md_table_end(const unsigned char *d, size_t pos, size_t n, size_t first_end,
			   size_t *next)
{
	size_t end = first_end;
	while (pos < n) {
		size_t le = eol((const char *)d, pos, n);
		if (!md_table(d, pos, le))
			break;
		end = le;
		pos = le < n ? le + 1 : n;
	}
	*next = pos;
	return end;
}

/* A list item runs on over its continuation lines (lazy ones too) and any
 * fenced block indented under it, up to a blank line or the next block. */
static size_t md_item_end(const unsigned char *d, size_t pos, size_t n, size_t first_end,
			  size_t *next)
{
	size_t end = first_end;
	while (pos < n) {
		size_t le = eol((const char *)d, pos, n), nx = le < n ? le + 1 : n, i, flen;
		unsigned char fch;
		if (is_blank(d, pos, le) || md_item(d, pos, le, 0) || md_atx(d, pos, le) ||
		    md_rule(d, pos, le))
			break;
		if (md_fence_open(d, pos, le, SIZE_MAX, &fch, &flen)) {
			if (indent(d, pos, le, &i) <= 3)
				break;
			end = md_fence_end(d, nx, n, fch, flen, &pos);
			continue;
		}
		end = le;
		pos = nx;
	}
	*next = pos;
	return end;
}

/* A paragraph runs up to a blank line or a line opening another block;
 * *setext is set when an underline turns it into a heading. */
static size_t md_para_end(const unsigned char *d, size_t pos, size_t n, size_t first_end,
			  size_t *next, int *setext)
{
	size_t end = first_end, flen;
	unsigned char fch;
	*setext = 0;
	while (pos < n) {
		size_t le = eol((const char *)d, pos, n), nx = le < n ? le + 1 : n;
		if (is_blank(d, pos, le))
			break;
		if (md_setext(d, pos, le)) {
			end = le;
			pos = nx;
			*setext = 1;
			break;
		}
		if (md_atx(d, pos, le) || md_fence_open(d, pos, le, 3, &fch, &flen) ||
		    md_rule(d, pos, le) || md_item(d, pos, le, 1) || md_table(d, pos, le))
			break;
		end = le;
		pos = nx;
	}
	*next = pos;
	return end;
}

/* YAML front matter at pos: its end (the closing --- or ... line), or 0. */
static size_t md_front_matter(const unsigned char *d, size_t pos, size_t n, size_t *next)
{
	size_t le = eol((const char *)d, pos, n);
	if (le - pos < 3 || memcmp(d + pos, "---", 3) != 0 || !is_blank(d, pos + 3, le))
		return 0;
	for (pos = le < n ? le + 1 : n; pos < n;) {
		le = eol((const char *)d, pos, n);
		if (le - pos >= 3 && (memcmp(d + pos, "---", 3) == 0 || memcmp(d + pos, "...", 3) == 0) &&
		    is_blank(d, pos + 3, le)) {
			*next = le < n ? le + 1 : n;
			return le;
		}
		pos = le < n ? le + 1 : n;
	}
	return 0;
}

static void split_markdown(struct ctx *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	size_t n = c->len, next, end;
	int blank = 1, in_list = 0, setext;
	/* front matter is one block, not a rule and a setext heading */
	if ((end = md_front_matter(d, pos, n, &next))) {
		text_piece(c, pos, end, P_PARA);
		pos = next;
	}
	while (pos < n && !c->stopped) {
		size_t le = eol(c->doc, pos, n), nx = le < n ? le + 1 : n, flen;
		unsigned char fch;
		int was_list = in_list;
		in_list = 0;
		if (is_blank(d, pos, le)) {
			blank = 1;
			in_list = was_list;
			pos = nx;
			continue;
		}
		if (md_rule(d, pos, le)) {
			/* a rule is markup, not text: it only separates */
			blank = 1;
			pos = nx;
			continue;
		}
		if (md_fence_open(d, pos, le, 3, &fch, &flen)) {
			end = md_fence_end(d, nx, n, fch, flen, &next);
			text_piece(c, pos, end, P_PARA);
		} else if (md_atx(d, pos, le)) {
			next = nx;
			text_piece(c, pos, le, P_HARD | P_PARA);
		} else if (md_table(d, pos, le)) {
			/* kept whole when it fits; a bigger table is cut at row
			 * ends, as cut_point prefers line breaks */
			end = md_table_end(d, nx, n, le, &next);
			text_piece(c, pos, end, P_PARA);
		} else if (md_item(d, pos, le, 0)) {
			/* a tight list's items pack without a paragraph break */
			unsigned flags = blank || !was_list ? P_PARA : 0;
			end = md_item_end(d, nx, n, le, &next);
			size_t s = skip_ws(d, pos, end), e = trim_end(d, s, end);
			size_t cs = cp_at(c, s);
			if (usize(c, e - s, cp_at(c, e) - cs) <= c->max)
				text_piece(c, s, e, flags);
			else
				scan_sentences(c, s, e, flags);
			in_list = 1;
		} else {
			end = md_para_end(d, nx, n, le, &next, &setext);
			if (setext)
				text_piece(c, pos, end, P_HARD | P_PARA);
			else
				scan_sentences(c, pos, end, P_PARA);
		}
		blank = 0;
		pos = next;
	}
}

/* Every message ends with a byte offset or a line number. */
static int fail(struct ctx *c, const char *what, size_t at)
{
	if (c->errlen)
		snprintf(c->err, c->errlen, "%s %zu", what, at);
	return -1;
}

/* Reads lines of the document; L->no is the 1-based number of the line
 * last read. */
struct lines {
	const char *d;
	size_t n, pos, no;
};

static int next_line(struct lines *L, size_t *s, size_t *e)
{
	if (L->pos >= L->n)
		return 0;
	size_t le = eol(L->d, L->pos, L->n);
	*s = L->pos;
	*e = le;
	if (*e > *s && L->d[*e - 1] == '\r')
		(*e)--;
	L->pos = le < L->n ? le + 1 : L->n;
	L->no++;
	return 1;
}

/* Parses [hh:]mm:ss[.fff] (',' too) at d[*i..e). Minutes and seconds must
 * be below 60. Returns -1 when malformed. */
static int parse_ts(const unsigned char *d, size_t *i, size_t e, double *out)
{
	unsigned long part[3];
	int np = 0;
	size_t k = *i;
	for (;;) {
		size_t st = k;
		unsigned long v = 0;
		while (k < e && is_digit(d[k]) && k - st < 9)
			v = v * 10 + (unsigned long)(d[k++] - '0');
		if (k == st || (k < e && is_digit(d[k])))
			return -1;
		part[np++] = v;
		if (np < 3 && k < e && d[k] == ':') {
			k++;
			continue;
		}
		break;
	}
	if (np < 2)
		return -1;
	double frac = 0;
	if (k < e && (d[k] == '.' || d[k] == ',')) {
		size_t st = ++k;
		unsigned long v = 0, scale = 1;
		while (k < e && is_digit(d[k])) {
			if (k - st < 9)
				v = v * 10 + (unsigned long)(d[k] - '0'), scale *= 10;
			k++;
		}
		if (k == st)
			return -1;
		frac = (double)v / (double)scale;
	}
	unsigned long h = np == 3 ? part[0] : 0, m = part[np - 2], sec = part[np - 1];
	if (m > 59 || sec > 59)
		return -1;
	*out = (double)h * 3600.0 + (double)m * 60.0 + (double)sec + frac;
	*i = k;
	return 0;
}

/* A timing line: start --> end, then optional cue settings. */
static int parse_timing(const unsigned char *d, size_t s, size_t e, double *t0, double *t1)
{
	size_t i = s;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (parse_ts(d, &i, e, t0) < 0)
		return -1;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (e - i < 3 || memcmp(d + i, "-->", 3) != 0)
		return -1;
	i += 3;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (parse_ts(d, &i, e, t1) < 0)
		return -1;
	return i == e || d[i] == ' ' || d[i] == '\t' ? 0 : -1;
}

static int has_arrow(const char *d, size_t s, size_t e)
{
	return memmem(d + s, e - s, "-->", 3) != NULL;
}

static int all_digits(const unsigned char *d, size_t s, size_t e)
{
	s = skip_ws(d, s, e);
	e = trim_end(d, s, e);
	if (s >= e)
		return 0;
	for (; s < e; s++)
		if (!is_digit(d[s]))
			return 0;
	return 1;
}

static int starts_word(const unsigned char *d, size_t s, size_t e, const char *w)
{
	size_t n = strlen(w);
	return e - s >= n && memcmp(d + s, w, n) == 0 && (e - s == n || is_aws(d[s + n]));
}

/* Turns the single-speaker part of the cue read so far into pieces: its
 * text cut to max when needed, a speaker change forcing a new segment. */
static void cue_flush(struct ctx *c)
{
	struct buf *t = &c->cue;
	if (!t->len || c->dry) {
		t->len = 0;
		c->cue_sp = 0;
		return;
	}
	/* decoded references and NBSP can still put spaces at the edges */
	const unsigned char *d = (const unsigned char *)t->p;
	size_t s = skip_ws(d, 0, t->len), e = trim_end(d, s, t->len);
	if (s >= e) {
		t->len = 0;
		c->cue_sp = 0;
		return;
	}
	unsigned flags = 0;
	if (c->prev_set &&
	    (c->prev_has != c->has_spk ||
	     (c->has_spk && (c->prev_len != c->spk_len ||
			     memcmp(c->doc + c->prev_off, c->doc + c->spk_off, c->spk_len) != 0))))
		flags = P_HARD;
	c->prev_set = 1;
	c->prev_has = c->has_spk;
	c->prev_off = c->spk_off;
	c->prev_len = c->spk_len;
	while (s < e && !c->stopped) {
		size_t cut = cut_point(c, d, s, e), ce = trim_end(d, s, cut);
		struct piece p = {0};
		p.tx = t->p + s;
		p.b0 = c->cue_b0;
		p.b1 = c->cue_b1;
		p.vb0 = c->vb;
		p.vb1 = p.vb0 + (ce - s);
		p.vc0 = c->tokens ? p.vb0 : c->vc;
		p.vc1 = c->tokens ? p.vb1 : p.vc0 + cp_count(d + s, ce - s);
		c->vb = p.vb1 + 1;
		c->vc = p.vc1 + 1;
		p.t0 = c->t0;
		p.t1 = c->t1;
		p.has_spk = c->has_spk;
		p.spk = c->spk_off;
		p.spk_len = c->spk_len;
		p.flags = flags;
		flags = 0;
		pack(c, &p);
		s = skip_ws(d, cut, e);
	}
	t->len = 0;
	c->cue_sp = 0;
}

static void cue_speaker(struct ctx *c, size_t off, size_t len)
{
	int same = c->has_spk && c->spk_len == len &&
		   memcmp(c->doc + c->spk_off, c->doc + off, len) == 0;
	if (!same)
		cue_flush(c);
	c->has_spk = 1;
	c->spk_off = off;
	c->spk_len = len;
}

static void cue_put(struct ctx *c, const void *p, size_t n, size_t db0, size_t db1)
{
	if (!c->cue.len)
		c->cue_b0 = db0;
	else if (c->cue_sp)
		buf_putc(&c->cue, ' ');
	c->cue_sp = 0;
	buf_append(&c->cue, p, n);
	c->cue_b1 = db1;
}

/* A "Name: " prefix at d[i]: one to four words of letters, digits and
 * . ' - _ (up to 40 bytes) starting with a capital or a non-ASCII letter,
 * then a colon and a space; an optional dialogue dash before it. Returns
 * where the spoken text starts, or 0. */
static size_t speaker_prefix(const unsigned char *d, size_t i, size_t e, size_t *ns, size_t *nl)
{
	size_t j = i;
	if (j + 1 < e && (d[j] == '-' || (d[j] == '>' && d[j + 1] == '>'))) {
		j += d[j] == '-' ? 1 : 2;
		while (j < e && d[j] == ' ')
			j++;
	}
	if (j >= e || !((d[j] >= 'A' && d[j] <= 'Z') || d[j] >= 0x80))
		return 0;
	size_t k = j, words = 1;
	for (; k < e && d[k] != ':'; k++) {
		unsigned char ch = d[k];
		if (k - j >= 40)
			return 0;
		if (ch == ' ') {
			if (d[k - 1] == ' ' || ++words > 4)
				return 0;
			continue;
		}
		if (!(ch >= 0x80 || is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
		      ch == '.' || ch == '\'' || ch == '-' || ch == '_'))
			return 0;
	}
	if (k >= e || d[k - 1] == ' ' || (k + 1 < e && !is_aws(d[k + 1])))
		return 0;
	*ns = j;
	*nl = k - j;
	k++;
	while (k < e && is_aws(d[k]))
		k++;
	return k;
}

/* Decodes the WebVTT character reference at d[i] ('&') into out; returns
 * its length, or 0 when it is not one (the '&' then stays as text). */
static size_t vtt_entity(const unsigned char *d, size_t i, size_t e, char out[4], size_t *olen)
{
	static const struct {
		const char *name;
		const char *text;
	} ents[] = {
		{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""},
		{"apos", "'"}, {"nbsp", " "}, {"lrm", ""}, {"rlm", ""},
	};
	size_t k = i + 1;
	while (k < e && k - i <= 8 && d[k] != ';')
		k++;
	if (k >= e || d[k] != ';')
		return 0;
	for (size_t x = 0; x < ARRAY_LEN(ents); x++) {
		size_t n = strlen(ents[x].name);
		if (k - i - 1 == n && memcmp(d + i + 1, ents[x].name, n) == 0) {
			*olen = strlen(ents[x].text);
			memcpy(out, ents[x].text, *olen);
			return k + 1 - i;
		}
	}
	if (d[i + 1] != '#' || k - i < 3)
		return 0;
	int hex = d[i + 2] == 'x' || d[i + 2] == 'X';
	uint32_t cp = 0;
	for (size_t x = i + 2 + (size_t)hex; x < k; x++) {
		unsigned char ch = d[x];
		unsigned v = is_digit(ch) ? (unsigned)(ch - '0')
			   : hex && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10u
			   : 99u;
		if (v >= (hex ? 16u : 10u))
			return 0;
		cp = cp * (hex ? 16 : 10) + v;
		if (cp > 0x10ffff)
			return 0;
	}
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp, *olen = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), *olen = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f)), *olen = 3;
	} else {
		out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
		*olen = 4;
	}
	return k + 1 - i;
}

/* Adds one line of cue text: tags dropped (a <v Name> voice tag sets the
 * speaker), {\an8}-style overrides dropped, entities decoded (WebVTT),
 * whitespace collapsed, a "Name: " prefix taken as the speaker. */
static void cue_line(struct ctx *c, size_t s, size_t e)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	s = skip_ws(d, s, e);
	e = trim_end(d, s, e);
	if (s >= e)
		return;
	if (c->cue.len)
		c->cue_sp = 1;
	int text_seen = 0, voiced = 0;
	size_t i = s;
	while (i < e) {
		unsigned char ch = d[i];
		if (ch == '<') {
			const unsigned char *gt = memchr(d + i, '>', e - i);
			if (gt) {
				size_t ts = i + 1, te = (size_t)(gt - d);
				if (te - ts >= 2 && d[ts] == 'v' &&
				    (d[ts + 1] == ' ' || d[ts + 1] == '\t' || d[ts + 1] == '.')) {
					size_t k = ts + 1;
					while (k < te && !is_aws(d[k]))
						k++;
					k = skip_ws(d, k, te);
					size_t ke = trim_end(d, k, te);
					if (ke > k) {
						cue_speaker(c, k, ke - k);
						voiced = 1;
					}
				}
				i = te + 1;
				continue;
			}
		}
		if (ch == '{' && i + 1 < e && d[i + 1] == '\\') {
			const unsigned char *cb = memchr(d + i, '}', e - i);
			if (cb) {
				i = (size_t)(cb - d) + 1;
				continue;
			}
		}
		if (is_aws(ch)) {
			if (c->cue.len)
				c->cue_sp = 1;
			i++;
			continue;
		}
		if (!text_seen) {
			/* a voice tag names the speaker; "Note: ..." after it is text */
			text_seen = 1;
			size_t ns, nl, after = voiced ? 0 : speaker_prefix(d, i, e, &ns, &nl);
			if (after) {
				cue_speaker(c, ns, nl);
				i = after;
				continue;
			}
		}
		if (ch == '&' && c->vtt) {
			char tmp[4];
			size_t olen, el = vtt_entity(d, i, e, tmp, &olen);
			if (el) {
				if (olen == 1 && tmp[0] == ' ') {
					if (c->cue.len)
						c->cue_sp = 1;
				} else if (olen) {
					cue_put(c, tmp, olen, i, i + el);
				}
				i += el;
				continue;
			}
		}
		size_t j = i + 1;
		while (j < e && !is_aws(d[j]) && d[j] != '<' && d[j] != '{' && d[j] != '&')
			j++;
		cue_put(c, d + i, j - i, i, j);
		i = j;
	}
}

static void cue_begin(struct ctx *c, double t0, double t1)
{
	c->t0 = t0;
	c->t1 = t1;
	c->cue.len = 0;
	c->cue_sp = 0;
	c->has_spk = 0;
}

static int split_srt(struct ctx *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	struct lines L = {c->doc, c->len, pos, 0};
	size_t s, e;
	for (;;) {
		do {
			if (!next_line(&L, &s, &e))
				return 0;
		} while (is_blank(d, s, e));
		size_t id_line = L.no;
		if (all_digits(d, s, e) && (!next_line(&L, &s, &e) || is_blank(d, s, e)))
			return fail(c, "missing SRT timestamp at line", id_line + 1);
		double t0, t1;
		if (parse_timing(d, s, e, &t0, &t1) < 0)
			return fail(c, "bad SRT timestamp at line", L.no);
		cue_begin(c, t0, t1);
		for (;;) {
			struct lines save = L;
			if (!next_line(&L, &s, &e) || is_blank(d, s, e))
				break;
			/* a cue number or timing right after text: the blank
			 * line before the next cue is missing */
			if (has_arrow(c->doc, s, e) && parse_timing(d, s, e, &t0, &t1) == 0) {
				L = save;
				break;
			}
			if (all_digits(d, s, e)) {
				struct lines peek = L;
				size_t s2, e2;
				if (next_line(&peek, &s2, &e2) && parse_timing(d, s2, e2, &t0, &t1) == 0) {
					L = save;
					break;
				}
			}
			cue_line(c, s, e);
		}
		cue_flush(c);
		if (c->stopped)
			return 0;
	}
}

static int split_vtt(struct ctx *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	struct lines L = {c->doc, c->len, pos, 0};
	size_t s, e;
	if (!next_line(&L, &s, &e))
		return 0;
	if (!starts_word(d, s, e, "WEBVTT"))
		return fail(c, "missing WEBVTT header at line", 1);
	while (next_line(&L, &s, &e) && !is_blank(d, s, e))
		;
	for (;;) {
		do {
			if (!next_line(&L, &s, &e))
				return 0;
		} while (is_blank(d, s, e));
		if (starts_word(d, s, e, "NOTE") || starts_word(d, s, e, "STYLE") ||
		    starts_word(d, s, e, "REGION")) {
			while (next_line(&L, &s, &e) && !is_blank(d, s, e))
				;
			continue;
		}
		size_t id_line = L.no;
		if (!has_arrow(c->doc, s, e) && (!next_line(&L, &s, &e) || is_blank(d, s, e)))
			return fail(c, "missing VTT timestamp at line", id_line + 1);
		double t0, t1;
		if (parse_timing(d, s, e, &t0, &t1) < 0)
			return fail(c, "bad VTT timestamp at line", L.no);
		cue_begin(c, t0, t1);
		for (;;) {
			struct lines save = L;
			if (!next_line(&L, &s, &e) || is_blank(d, s, e))
				break;
			if (has_arrow(c->doc, s, e)) {
				/* cue text cannot hold "-->": the blank line
				 * before this cue is missing */
				L = save;
				break;
			}
			cue_line(c, s, e);
		}
		cue_flush(c);
		if (c->stopped)
			return 0;
	}
}

static size_t skip_bom(const char *doc, size_t len)
{
	return len >= 3 && memcmp(doc, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

enum seg_format seg_detect(const char *name, const char *doc, size_t len)
{
	if (name) {
		static const struct {
			const char *ext;
			enum seg_format f;
		} exts[] = {
			{"srt", SEG_SRT}, {"vtt", SEG_VTT}, {"md", SEG_MARKDOWN},
			{"markdown", SEG_MARKDOWN}, {"mdown", SEG_MARKDOWN},
			{"mkd", SEG_MARKDOWN}, {"mkdn", SEG_MARKDOWN}, {"txt", SEG_TEXT},
			{"text", SEG_TEXT},
		};
		const char *base = strrchr(name, '/');
		const char *dot = strrchr(base ? base : name, '.');
		for (size_t i = 0; dot && i < ARRAY_LEN(exts); i++)
			if (strcasecmp(dot + 1, exts[i].ext) == 0)
				return exts[i].f;
	}
	if (!doc)
		return SEG_TEXT;
	const unsigned char *d = (const unsigned char *)doc;
	size_t pos = skip_bom(doc, len);
	pos = skip_ws(d, pos, len);
	while (pos > 0 && d[pos - 1] != '\n' && is_aws(d[pos - 1]))
		pos--;
	size_t le = eol(doc, pos, len);
	if (starts_word(d, pos, le, "WEBVTT"))
		return SEG_VTT;
	double t0, t1;
	size_t e = le > pos && d[le - 1] == '\r' ? le - 1 : le;
	if (parse_timing(d, pos, e, &t0, &t1) == 0)
		return SEG_SRT;
	if (all_digits(d, pos, le) && le < len) {
		size_t s2 = le + 1, e2 = eol(doc, s2, len);
		if (e2 > s2 && d[e2 - 1] == '\r')
			e2--;
		if (parse_timing(d, s2, e2, &t0, &t1) == 0)
			return SEG_SRT;
	}
	/* Markdown when a heading, fence or setext underline shows early */
	size_t lim = len < 65536 ? len : 65536;
	int prev_text = 0;
	while (pos < lim) {
		le = eol(doc, pos, lim);
		unsigned char fch;
		size_t flen;
		if (md_atx(d, pos, le) || md_fence_open(d, pos, le, 3, &fch, &flen))
			return SEG_MARKDOWN;
		int blank = is_blank(d, pos, le);
		if (prev_text && !blank && md_setext(d, pos, le) && d[skip_ws(d, pos, le)] == '=')
			return SEG_MARKDOWN;
		prev_text = !blank;
		pos = le + 1;
	}
	return SEG_TEXT;
}

int seg_split(const char *doc, size_t len, const struct seg_opts *o, seg_emit_fn emit,
	      void *ud, char *err, size_t errlen)
{
	struct ctx c = {0};
	c.err = err;
	c.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	const char *nul = len ? memchr(doc, '\0', len) : NULL;
	long bad = utf8_check(doc, nul ? (size_t)(nul - doc) : len);
	if (bad >= 0)
		return fail(&c, "invalid UTF-8 at byte", (size_t)bad);
	if (nul)
		return fail(&c, "NUL byte at byte", (size_t)(nul - doc));
	if (!o->target && !o->max)
		return fail(&c, "target and max are both", 0);
	c.max = o->max ? o->max : o->target;
	if (c.max > SIZE_MAX / 8)
		c.max = SIZE_MAX / 8;
	c.target = o->target && o->target < c.max ? o->target : c.max;
	c.overlap = o->overlap;
	c.tokens = o->unit == SEG_TOKENS;
	c.doc = doc;
	c.len = len;
	c.emit = emit;
	c.ud = ud;
	enum seg_format f = o->format == SEG_AUTO ? seg_detect(NULL, doc, len) : o->format;
	size_t pos = skip_bom(doc, len);
	c.cur_b = c.cur_c = pos;
	int rc = 0;
	switch (f) {
	case SEG_SRT:
	case SEG_VTT:
		c.transcript = 1;
		c.vtt = f == SEG_VTT;
		/* a dry pass first, so a bad cue late in the file fails the
		 * document before any segment of it went out */
		c.dry = 1;
		rc = c.vtt ? split_vtt(&c, pos) : split_srt(&c, pos);
		c.dry = 0;
		if (rc == 0)
			rc = c.vtt ? split_vtt(&c, pos) : split_srt(&c, pos);
		break;
	case SEG_MARKDOWN:
		split_markdown(&c, pos);
		break;
	default:
		split_text(&c, pos);
		break;
	}
	if (rc == 0)
		finish(&c);
	free(c.q);
	buf_free(&c.arena);
	buf_free(&c.out);
	buf_free(&c.spk);
	buf_free(&c.cue);
	return rc;
}
