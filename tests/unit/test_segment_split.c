/* test_segment_split: unit tests of segment's splitting rules (sentences,
 * packing, max, overlap, Markdown, SRT/WebVTT, errors) plus invariants
 * checked over a generated document with many option combinations. */
#include "segment_split.h"
#include "t.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>

struct seg {
	size_t start, end;
	char *text;
	size_t len;
	int has_time;
	double t0, t1;
	char *speaker;
};

struct col {
	struct seg *s;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
};

static int collect(const struct seg_span *sp, void *ud)
{
	struct col *c = ud;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->s = xrealloc(c->s, c->cap * sizeof *c->s);
	}
	struct seg *s = &c->s[c->n++];
	s->start = sp->start;
	s->end = sp->end;
	s->text = xstrndup(sp->text, sp->text_len);
	s->len = sp->text_len;
	s->has_time = sp->has_time;
	s->t0 = sp->t0;
	s->t1 = sp->t1;
	s->speaker = sp->speaker ? xstrndup(sp->speaker, sp->speaker_len) : NULL;
	return c->stop_after && c->n >= c->stop_after;
}

static void col_free(struct col *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->s[i].text);
		free(c->s[i].speaker);
	}
	free(c->s);
	memset(c, 0, sizeof *c);
}

static char err[256];

static int split(struct col *c, const char *doc, size_t target, size_t max, size_t overlap,
		 enum seg_unit unit, enum seg_format fmt)
{
	struct seg_opts o = {target, max, overlap, unit, fmt};
	col_free(c);
	return seg_split(doc, strlen(doc), &o, collect, c, err, sizeof err);
}

static size_t cps(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

static int is_sp(char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static void test_empty(void)
{
	struct col c = {0};
	T_EQ_INT(split(&c, "", 100, 200, 0, SEG_CHARS, SEG_TEXT), 0, "empty doc: ok");
	T_EQ_INT(c.n, 0, "empty doc: no segments");
	T_EQ_INT(split(&c, " \n\n\t  \r\n \n", 100, 200, 0, SEG_CHARS, SEG_TEXT), 0, "blank doc: ok");
	T_EQ_INT(c.n, 0, "whitespace-only doc: no segments");
	T_EQ_INT(split(&c, "\n\n  \n", 100, 200, 0, SEG_CHARS, SEG_MARKDOWN), 0, "blank md: ok");
	T_EQ_INT(c.n, 0, "whitespace-only markdown: no segments");
	T_EQ_INT(split(&c, "\xef\xbb\xbf \n", 100, 200, 0, SEG_CHARS, SEG_TEXT), 0, "BOM only: ok");
	T_EQ_INT(c.n, 0, "BOM + whitespace: no segments");
	T_EQ_INT(split(&c, "WEBVTT\n\nNOTE nothing\n", 100, 200, 0, SEG_CHARS, SEG_VTT), 0, "vtt no cue");
	T_EQ_INT(c.n, 0, "VTT without cues: no segments");
	col_free(&c);
}

/* target 1 with a big max puts each sentence in a segment of its own */
static void check_sentences(const char *doc, const char *const *want, size_t nwant,
			    const char *what)
{
	struct col c = {0};
	int rc = split(&c, doc, 1, 10000, 0, SEG_CHARS, SEG_TEXT);
	T_EQ_INT(rc, 0, what);
	T_EQ_INT(c.n, nwant, what);
	for (size_t i = 0; i < c.n && i < nwant; i++)
		T_EQ_STR(c.s[i].text, want[i], what);
	col_free(&c);
}

static void test_sentences(void)
{
	const char *a[] = {"Mr. Smith met Dr. Jones at 3.14 p.m. yesterday.", "They talked!",
			   "Was it fun?", "Yes."};
	check_sentences("Mr. Smith met Dr. Jones at 3.14 p.m. yesterday. They talked! Was it fun? Yes.",
			a, ARRAY_LEN(a), "abbreviations, decimals, ! and ?");
	const char *b[] = {"Use tools, e.g. hammers, i.e. heavy ones, etc. for work.",
			   "J. R. R. Tolkien wrote it.", "The end."};
	check_sentences("Use tools, e.g. hammers, i.e. heavy ones, etc. for work. J. R. R. Tolkien wrote it. The end.",
			b, ARRAY_LEN(b), "e.g. i.e. etc. and initials");
	const char *c[] = {"He said \"Stop.\"", "(See above.)", "Then \xe2\x80\x9cgo!\xe2\x80\x9d",
			   "Fine."};
	check_sentences("He said \"Stop.\" (See above.) Then \xe2\x80\x9cgo!\xe2\x80\x9d Fine.", c,
			ARRAY_LEN(c), "closing quotes and brackets");
	const char *d[] = {"Version 2.0 is out.", "Wait\xe2\x80\xa6", "what?!", "Ok..."};
	check_sentences("Version 2.0 is out. Wait\xe2\x80\xa6 what?! Ok...", d, ARRAY_LEN(d),
			"ellipsis and runs of terminators");
	const char *e[] = {"\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82", "\xe6\x88\x91\xe6\x98\xaf\xef\xbc\x81",
			   "\xe4\xbd\xa0\xe5\x91\xa2\xef\xbc\x9f\xe3\x80\x8d", "\xe5\xa5\xbd"};
	check_sentences("\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe6\x88\x91\xe6\x98\xaf\xef\xbc\x81"
			"\xe4\xbd\xa0\xe5\x91\xa2\xef\xbc\x9f\xe3\x80\x8d\xe5\xa5\xbd",
			e, ARRAY_LEN(e), "CJK terminators need no space after them");
	const char *f[] = {"one line\nwraps here.", "no terminator", "last"};
	check_sentences("  one line\nwraps here. no terminator\n \t\n\n last  \n", f, ARRAY_LEN(f),
			"single newline joins, blank line breaks, trimmed");
	const char *g[] = {"Steps:\n1. Mix.", "2. Bake.", "Done in 2020.", "Yes."};
	check_sentences("Steps:\n1. Mix.\n  2. Bake. Done in 2020. Yes.", g, ARRAY_LEN(g),
			"a number opening a line is a list marker, elsewhere it ends");
	const char *h[] = {"a.b.c is a name.", "x.y"};
	check_sentences("a.b.c is a name. x.y", h, ARRAY_LEN(h), "no split inside a token");
}

static void test_packing(void)
{
	struct col c = {0};
	/* each sentence is 10 chars; the spaces count too */
	const char *doc = "Aaaa bbbb. Cccc dddd. Eeee ffff. Gggg hhhh. Iiii jjjj.";
	T_EQ_INT(split(&c, doc, 21, 100, 0, SEG_CHARS, SEG_TEXT), 0, "pack: ok");
	T_EQ_INT(c.n, 3, "pack: two sentences of 10 fit in 21");
	T_EQ_STR(c.s[0].text, "Aaaa bbbb. Cccc dddd.", "pack: first segment");
	T_EQ_STR(c.s[2].text, "Iiii jjjj.", "pack: last segment");
	T_EQ_INT(split(&c, doc, 20, 100, 0, SEG_CHARS, SEG_TEXT), 0, "pack 20: ok");
	T_EQ_INT(c.n, 5, "pack: 21 chars do not fit in 20");
	T_EQ_INT(split(&c, doc, 1000, 1000, 0, SEG_CHARS, SEG_TEXT), 0, "pack all: ok");
	T_EQ_INT(c.n, 1, "pack: everything fits in one");
	T_EQ_INT(c.s[0].start, 0, "whole doc: start");
	T_EQ_INT(c.s[0].end, strlen(doc), "whole doc: end");
	/* tokens: 21 bytes are 6 tokens */
	T_EQ_INT(split(&c, doc, 6, 100, 0, SEG_TOKENS, SEG_TEXT), 0, "tokens: ok");
	T_EQ_INT(c.n, 3, "tokens: ceil(21/4) = 6 fits in 6");
	T_EQ_INT(split(&c, doc, 5, 100, 0, SEG_TOKENS, SEG_TEXT), 0, "tokens 5: ok");
	T_EQ_INT(c.n, 5, "tokens: 6 does not fit in 5");
	/* code points, not bytes: 10 two-byte letters are 10 chars */
	const char *u = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9. \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.";
	T_EQ_INT(split(&c, u, 11, 11, 0, SEG_CHARS, SEG_TEXT), 0, "cp: ok");
	T_EQ_INT(c.n, 1, "chars count code points (11), not bytes (19)");
	T_EQ_INT(split(&c, u, 4, 4, 0, SEG_TOKENS, SEG_TEXT), 0, "cp tokens: ok");
	T_EQ_INT(c.n, 2, "tokens count bytes: 19 bytes are 5 tokens");
	/* target above max is lowered; 0 takes the other */
	T_EQ_INT(split(&c, doc, 1000, 21, 0, SEG_CHARS, SEG_TEXT), 0, "target>max: ok");
	T_EQ_INT(c.n, 3, "target above max acts as max");
	T_EQ_INT(split(&c, doc, 0, 21, 0, SEG_CHARS, SEG_TEXT), 0, "target 0: ok");
	T_EQ_INT(c.n, 3, "target 0 takes max");
	T_EQ_INT(split(&c, doc, 21, 0, 0, SEG_CHARS, SEG_TEXT), 0, "max 0: ok");
	T_EQ_INT(c.n, 3, "max 0 takes target");
	T_EQ_INT(split(&c, doc, 0, 0, 0, SEG_CHARS, SEG_TEXT), -1, "target and max 0: error");
	T_EQ_STR(err, "target and max are both 0", "target and max 0: message");
	col_free(&c);
}

static void test_paragraphs(void)
{
	struct col c = {0};
	/* A is 43 chars, B1 is 11: greedy would glue B1 to A */
	const char *doc = "Aaaa aaaa aaaa aaaa. Aaaa aaaa aaaa aaaaaa.\n\n"
			  "Bbbb bbbbb. Bbbb bbbb bbbb bbbb bbbb bbbb bbb.";
	T_EQ_INT(split(&c, doc, 60, 200, 0, SEG_CHARS, SEG_TEXT), 0, "para: ok");
	T_EQ_INT(c.n, 2, "para: two segments");
	T_EQ_STR(c.s[0].text, "Aaaa aaaa aaaa aaaa. Aaaa aaaa aaaa aaaaaa.",
		 "a segment prefers to end at a paragraph break");
	T_EQ_STR(c.s[1].text, "Bbbb bbbbb. Bbbb bbbb bbbb bbbb bbbb bbbb bbb.", "second paragraph");
	/* a paragraph under half the target is not left alone */
	const char *small = "Short one.\n\nBbbb bbbb. Cccc cccc. Dddd dddd. Eeee eeee.";
	T_EQ_INT(split(&c, small, 40, 200, 0, SEG_CHARS, SEG_TEXT), 0, "small para: ok");
	T_EQ_STR(c.s[0].text, "Short one.\n\nBbbb bbbb. Cccc cccc.", "a short paragraph packs on");
	/* paragraphs that fit together stay together */
	T_EQ_INT(split(&c, "One.\n\nTwo.\n\n\nThree.", 100, 200, 0, SEG_CHARS, SEG_TEXT), 0, "small paras");
	T_EQ_INT(c.n, 1, "small paragraphs are packed");
	T_EQ_STR(c.s[0].text, "One.\n\nTwo.\n\n\nThree.", "packed paragraphs keep the original bytes");
	/* a blank line with spaces and CRLF still breaks */
	T_EQ_INT(split(&c, "para one\r\n \t\r\npara two\r\n", 1, 100, 0, SEG_CHARS, SEG_TEXT), 0, "crlf");
	T_EQ_INT(c.n, 2, "CRLF blank line with spaces is a paragraph break");
	T_EQ_STR(c.s[1].text, "para two", "CRLF: trailing CR trimmed");
	col_free(&c);
}

static int all_fit(const struct col *c, size_t max, enum seg_unit unit)
{
	for (size_t i = 0; i < c->n; i++) {
		size_t sz = unit == SEG_TOKENS ? (c->s[i].len + 3) / 4 : cps(c->s[i].text, c->s[i].len);
		if (sz > max || c->s[i].len == 0)
			return 0;
	}
	return 1;
}

static void test_max(void)
{
	struct col c = {0};
	struct buf b = {0};
	for (int i = 0; i < 60; i++)
		buf_puts(&b, "word ");
	buf_puts(&b, "end.");
	T_EQ_INT(split(&c, b.p, 20, 32, 0, SEG_CHARS, SEG_TEXT), 0, "long sentence: ok");
	T_OK(c.n > 1 && all_fit(&c, 32, SEG_CHARS), "a sentence over max is cut, every piece <= max");
	int at_ws = 1;
	for (size_t i = 0; i < c.n; i++)
		if (c.s[i].end < b.len && !is_sp(b.p[c.s[i].end]))
			at_ws = 0;
	T_OK(at_ws, "a long sentence is cut at whitespace");
	T_EQ_STR(c.s[0].text, "word word word word word word", "cut: 29 chars, next word would pass 32");

	buf_reset(&b);
	for (int i = 0; i < 100; i++)
		buf_putc(&b, 'x');
	T_EQ_INT(split(&c, b.p, 30, 30, 0, SEG_CHARS, SEG_TEXT), 0, "long word: ok");
	T_EQ_INT(c.n, 4, "a word over max is cut anywhere");
	T_EQ_INT(c.s[0].len, 30, "long word: first cut at exactly max");
	T_EQ_INT(c.s[3].len, 10, "long word: the rest");

	buf_reset(&b);
	for (int i = 0; i < 100; i++)
		buf_puts(&b, i % 2 ? "\xc3\xa9" : "\xf0\x9d\x84\x9e"); /* é and a 4-byte clef */
	T_EQ_INT(split(&c, b.p, 7, 7, 0, SEG_CHARS, SEG_TEXT), 0, "multibyte: ok");
	int valid = 1;
	size_t total = 0;
	for (size_t i = 0; i < c.n; i++) {
		valid &= utf8_check(c.s[i].text, c.s[i].len) < 0;
		total += cps(c.s[i].text, c.s[i].len);
	}
	T_OK(valid, "multibyte cut keeps whole code points");
	T_EQ_INT(c.n, 15, "100 code points in 7s: 15 segments");
	T_EQ_INT(cps(c.s[0].text, c.s[0].len), 7, "multibyte: 7 code points");
	T_EQ_INT(total, 100, "multibyte: nothing lost");
	T_EQ_INT(split(&c, b.p, 3, 3, 0, SEG_TOKENS, SEG_TEXT), 0, "multibyte tokens: ok");
	valid = 1;
	for (size_t i = 0; i < c.n; i++)
		valid &= utf8_check(c.s[i].text, c.s[i].len) < 0 && c.s[i].len <= 12;
	T_OK(valid, "tokens: at most 12 bytes, whole code points");
	T_OK(all_fit(&c, 3, SEG_TOKENS), "tokens: every segment <= max");
	T_EQ_INT(split(&c, b.p, 1, 1, 0, SEG_CHARS, SEG_TEXT), 0, "max 1: ok");
	T_EQ_INT(c.n, 100, "max 1 char: one code point each");
	T_EQ_INT(split(&c, b.p, 1, 1, 0, SEG_TOKENS, SEG_TEXT), 0, "max 1 token: ok");
	T_OK(c.n == 100 && all_fit(&c, 1, SEG_TOKENS), "max 1 token: a 4-byte code point still fits");

	/* prefers a line break to other whitespace when cutting */
	T_EQ_INT(split(&c, "aaaa bbbb cccc\ndddd eeee ffff", 20, 20, 0, SEG_CHARS, SEG_TEXT), 0, "nl cut");
	T_EQ_STR(c.s[0].text, "aaaa bbbb cccc", "a cut prefers a line break");
	buf_free(&b);
	col_free(&c);
}

static void test_overlap(void)
{
	struct col c = {0};
	const char *doc = "Aaaa bbbb. Cccc dddd. Eeee ffff. Gggg hhhh. Iiii jjjj. Kkkk llll.";
	T_EQ_INT(split(&c, doc, 32, 100, 10, SEG_CHARS, SEG_TEXT), 0, "overlap: ok");
	T_EQ_INT(c.n, 3, "overlap: three segments");
	T_EQ_STR(c.s[0].text, "Aaaa bbbb. Cccc dddd. Eeee ffff.", "overlap: first");
	T_EQ_STR(c.s[1].text, "Eeee ffff. Gggg hhhh. Iiii jjjj.", "overlap repeats the last sentence");
	T_EQ_STR(c.s[2].text, "Iiii jjjj. Kkkk llll.", "overlap: last");
	T_OK(c.s[1].start < c.s[0].end, "overlap: spans overlap");
	T_EQ_INT(split(&c, doc, 32, 100, 21, SEG_CHARS, SEG_TEXT), 0, "overlap 21: ok");
	T_EQ_STR(c.s[1].text, "Cccc dddd. Eeee ffff. Gggg hhhh.", "overlap of two whole sentences");
	T_EQ_INT(split(&c, doc, 32, 100, 0, SEG_CHARS, SEG_TEXT), 0, "no overlap: ok");
	T_OK(c.n == 2 && c.s[1].start >= c.s[0].end, "overlap 0: no repetition");
	/* a sentence longer than the overlap: its tail, from a word start */
	const char *lg = "One two three four five six. Seven eight nine ten eleven.";
	T_EQ_INT(split(&c, lg, 30, 100, 12, SEG_CHARS, SEG_TEXT), 0, "tail overlap: ok");
	T_EQ_INT(c.n, 2, "tail overlap: two segments");
	T_EQ_STR(c.s[1].text, "five six. Seven eight nine ten eleven.",
		 "overlap falls back to whole words of the last sentence");
	T_EQ_INT(split(&c, lg, 30, 100, 14, SEG_CHARS, SEG_TEXT), 0, "tail overlap 14: ok");
	T_EQ_STR(c.s[1].text, "four five six. Seven eight nine ten eleven.",
		 "a tail may fill the overlap exactly");
	/* never past max, even with overlap */
	T_EQ_INT(split(&c, lg, 30, 30, 29, SEG_CHARS, SEG_TEXT), 0, "overlap+max: ok");
	T_OK(all_fit(&c, 30, SEG_CHARS), "overlap never pushes a segment over max");
	/* a heading drops the overlap */
	T_EQ_INT(split(&c, "Aaaa bbbb. Cccc dddd.\n\n# Head\n\nEeee ffff.", 25, 100, 15,
		       SEG_CHARS, SEG_MARKDOWN), 0, "overlap heading: ok");
	T_EQ_INT(c.n, 2, "overlap + heading: two segments");
	T_EQ_STR(c.s[1].text, "# Head\n\nEeee ffff.", "no overlap carried across a heading");
	col_free(&c);
}

static void test_markdown(void)
{
	struct col c = {0};
	const char *md = "# Title\n\nIntro text. More intro.\n\n## Part B\nBody of b.\n\n"
			 "Setext\n======\n\nUnder setext.\n";
	T_EQ_INT(split(&c, md, 1000, 2000, 0, SEG_CHARS, SEG_MARKDOWN), 0, "md: ok");
	T_EQ_INT(c.n, 3, "md: a heading starts a new segment");
	T_EQ_STR(c.s[0].text, "# Title\n\nIntro text. More intro.", "md: first section");
	T_EQ_STR(c.s[1].text, "## Part B\nBody of b.", "md: ATX heading section");
	T_EQ_STR(c.s[2].text, "Setext\n======\n\nUnder setext.", "md: setext heading section");
	T_EQ_INT(c.s[1].start, strstr(md, "## Part B") - md, "md: span start");

	const char *fence = "Some code follows. It is short.\n\n```c\nint a = 1. b;\n\nx = 2. Y = 3;\n```\n\nAfter it.";
	T_EQ_INT(split(&c, fence, 10, 2000, 0, SEG_CHARS, SEG_MARKDOWN), 0, "fence: ok");
	T_EQ_INT(c.n, 4, "fence: sentences around, fence whole");
	T_EQ_STR(c.s[2].text, "```c\nint a = 1. b;\n\nx = 2. Y = 3;\n```", "a code fence is never split");
	T_EQ_INT(split(&c, "~~~\nunclosed. Fence.\n\nstill in.", 5, 2000, 0, SEG_CHARS, SEG_MARKDOWN), 0, "unclosed");
	T_EQ_INT(c.n, 1, "an unclosed fence runs to the end");
	struct buf b = {0};
	buf_puts(&b, "```\n");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "line of code;\n");
	buf_puts(&b, "```\n");
	T_EQ_INT(split(&c, b.p, 50, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "big fence: ok");
	T_OK(c.n > 1 && all_fit(&c, 100, SEG_CHARS), "a fence over max is split, each <= max");
	T_OK(c.s[0].text[c.s[0].len - 1] == ';', "a big fence is cut at a line end");

	const char *list = "Shopping:\n\n- Milk. The fresh one.\n- Bread. Whole grain.\n  Sliced.\n"
			   "1. First. Really.\n\nEnd.";
	T_EQ_INT(split(&c, list, 1, 2000, 0, SEG_CHARS, SEG_MARKDOWN), 0, "list: ok");
	T_EQ_INT(c.n, 5, "list: items whole");
	T_EQ_STR(c.s[1].text, "- Milk. The fresh one.", "list item kept whole");
	T_EQ_STR(c.s[2].text, "- Bread. Whole grain.\n  Sliced.", "list item with continuation");
	T_EQ_STR(c.s[3].text, "1. First. Really.", "ordered item kept whole");
	T_EQ_INT(split(&c, list, 15, 15, 0, SEG_CHARS, SEG_MARKDOWN), 0, "list max: ok");
	T_OK(all_fit(&c, 15, SEG_CHARS), "an item over max is split after all");
	T_EQ_STR(c.s[1].text, "- Milk.", "a big item splits at sentences");

	T_EQ_INT(split(&c, "Para.\n\n---\n\nNext.\n\n***\n", 1, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "rule");
	T_EQ_INT(c.n, 2, "thematic breaks only separate");
	T_EQ_INT(split(&c, "#hashtag is text. Not a heading.", 1, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "#x");
	T_EQ_STR(c.s[0].text, "#hashtag is text.", "#word is no heading");
	const char *tbl = "Data:\n\n| a. b | c. d |\n|---|---|\n| 1. x | 2. y |\n\nAfter.";
	T_EQ_INT(split(&c, tbl, 1, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "table: ok");
	T_EQ_INT(c.n, 3, "table: one unit");
	T_EQ_STR(c.s[1].text, "| a. b | c. d |\n|---|---|\n| 1. x | 2. y |", "a table is kept whole");
	const char *fm = "---\ntitle: T\n---\n# Head\n\nText.";
	T_EQ_INT(split(&c, fm, 100, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "front matter: ok");
	T_EQ_INT(c.n, 2, "front matter: own segment");
	T_EQ_STR(c.s[0].text, "---\ntitle: T\n---", "front matter is one block");
	/* a small heading section is not glued to the next one either */
	T_EQ_INT(split(&c, "# A\n# B\nText b.\n## C", 100, 100, 0, SEG_CHARS, SEG_MARKDOWN), 0, "hh");
	T_EQ_INT(c.n, 3, "each heading starts a segment, even a tiny one");
	T_EQ_STR(c.s[1].text, "# B\nText b.", "heading with its text");
	buf_free(&b);
	col_free(&c);
}

static const char srt[] =
	"1\n"
	"00:00:01,000 --> 00:00:02,500\n"
	"ALICE: Hello <i>there</i>.\n"
	"\n"
	"2\r\n"
	"00:00:02,600 --> 00:00:04,000 X1:10 X2:20\r\n"
	"How are\r\n"
	"you?\r\n"
	"\r\n"
	"3\n"
	"00:00:04,100 --> 00:00:06,000\n"
	"BOB: Fine, {\\an8}thanks.\n"
	"\n"
	"4\n"
	"01:02:03,004 --> 01:02:05,000\n"
	"- Alice: Good.\n"
	"- Bob: Bye.\n";

static void test_srt(void)
{
	struct col c = {0};
	T_EQ_INT(split(&c, srt, 1000, 2000, 0, SEG_CHARS, SEG_SRT), 0, "srt: ok");
	T_EQ_INT(c.n, 5, "srt: one speaker per segment");
	T_EQ_STR(c.s[0].text, "Hello there.", "srt: tags and prefix removed");
	T_EQ_STR(c.s[0].speaker, "ALICE", "srt: speaker prefix");
	T_OK(c.s[0].has_time && c.s[0].t0 == 1.0 && c.s[0].t1 == 2.5, "srt: times in seconds");
	T_EQ_STR(c.s[1].text, "How are you?", "srt: lines joined with a space");
	T_EQ_STR(c.s[1].speaker, NULL, "srt: a cue without speaker has none");
	T_EQ_STR(c.s[2].text, "Fine, thanks.", "srt: override tags removed");
	T_EQ_STR(c.s[3].speaker, "Alice", "srt: dialogue dash + name");
	T_EQ_STR(c.s[4].text, "Bye.", "srt: speaker change inside a cue");
	T_OK(c.s[3].t0 > 3723.003 && c.s[3].t0 < 3723.005, "srt: hh:mm:ss,mmm");
	T_EQ_INT(c.s[0].start, strstr(srt, "Hello") - srt, "srt: span starts at the cue text");
	T_EQ_INT(c.s[0].end, strstr(srt, "</i>.") + 5 - srt, "srt: span ends at the cue text end");

	const char *merge = "1\n00:00:01,000 --> 00:00:02,000\nJo: One.\n\n"
			    "2\n00:00:02,000 --> 00:00:03,000\nJo: Two.\n\n"
			    "3\n00:00:03,000 --> 00:00:04,000\nJo: Three.\n\n"
			    "4\n00:00:04,000 --> 00:00:05,000\nAl: Four.\n";
	T_EQ_INT(split(&c, merge, 10, 100, 0, SEG_CHARS, SEG_SRT), 0, "merge: ok");
	T_EQ_INT(c.n, 3, "merge: up to target, then speaker change");
	T_EQ_STR(c.s[0].text, "One. Two.", "merge: cues of one speaker joined");
	T_OK(c.s[0].t0 == 1.0 && c.s[0].t1 == 3.0, "merge: time span of the merged cues");
	T_EQ_INT(c.s[0].start, strstr(merge, "One.") - merge, "merge: span from the first cue text");
	T_EQ_INT(c.s[0].end, strstr(merge, "Two.") + 4 - merge, "merge: to the last cue text end");
	T_EQ_STR(c.s[1].text, "Three.", "merge: the rest");
	T_EQ_STR(c.s[2].speaker, "Al", "merge: speaker change starts a segment");
	T_EQ_INT(split(&c, merge, 1000, 1000, 0, SEG_CHARS, SEG_SRT), 0, "merge big: ok");
	T_EQ_INT(c.n, 2, "merge: a speaker change always splits");
	T_EQ_STR(c.s[0].text, "One. Two. Three.", "merge: all of Jo");
	T_EQ_INT(split(&c, merge, 10, 100, 5, SEG_CHARS, SEG_SRT), 0, "merge overlap: ok");
	T_EQ_STR(c.s[1].text, "Two. Three.", "transcript overlap repeats whole cues");
	T_OK(c.s[1].t0 == 2.0, "overlap: t0 of the repeated cue");
	const char *inh = "1\n00:00:01,000 --> 00:00:02,000\nJo: One.\n\n"
			  "2\n00:00:02,000 --> 00:00:03,000\nTwo.\n";
	T_EQ_INT(split(&c, inh, 100, 100, 0, SEG_CHARS, SEG_SRT), 0, "no inherit: ok");
	T_EQ_INT(c.n, 2, "a cue without speaker after a named one is a change");
	T_EQ_STR(c.s[1].speaker, NULL, "speakers are not carried to the next cue");
	T_EQ_INT(split(&c, merge, 3, 3, 0, SEG_CHARS, SEG_SRT), 0, "cue over max: ok");
	T_OK(all_fit(&c, 3, SEG_CHARS), "a cue over max is cut");

	const char *bad = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x,000 --> 00:00:03,000\nno\n";
	struct col c2 = {0};
	T_EQ_INT(split(&c2, bad, 100, 100, 0, SEG_CHARS, SEG_SRT), -1, "bad srt: error");
	T_EQ_STR(err, "bad SRT timestamp at line 6", "bad srt: names the line");
	T_EQ_INT(c2.n, 0, "bad srt: no segment at all, not even the good cues before");
	T_EQ_INT(split(&c2, "1\n00:00:01,000 --> 00:61:02,000\nx\n", 100, 100, 0, SEG_CHARS, SEG_SRT), -1, "min 61");
	T_EQ_STR(err, "bad SRT timestamp at line 2", "minutes over 59 are malformed");
	T_EQ_INT(split(&c2, "1\n\nHello\n", 100, 100, 0, SEG_CHARS, SEG_SRT), -1, "missing ts");
	T_EQ_STR(err, "missing SRT timestamp at line 2", "missing timestamp names the line");
	T_EQ_INT(split(&c2, "just some text\n", 100, 100, 0, SEG_CHARS, SEG_SRT), -1, "not srt");
	T_EQ_STR(err, "bad SRT timestamp at line 1", "text forced as SRT is an error");
	col_free(&c2);

	/* issue 8: cues that overlap in time keep the true time span */
	const char *ovl = "1\n00:00:01,000 --> 00:00:09,000\nJo: Long one.\n\n"
			  "2\n00:00:02,000 --> 00:00:04,000\nJo: Short.\n\n"
			  "3\n00:00:00,500 --> 00:00:05,000\nJo: Early.\n";
	T_EQ_INT(split(&c, ovl, 1000, 1000, 0, SEG_CHARS, SEG_SRT), 0, "overlapping cues: ok");
	T_EQ_INT(c.n, 1, "overlapping cues: merged");
	T_OK(c.s[0].t0 == 0.5, "overlapping cues: t0 is the earliest start (got %g)", c.s[0].t0);
	T_OK(c.s[0].t1 == 9.0, "overlapping cues: t1 is the latest end (got %g)", c.s[0].t1);
	T_EQ_INT(split(&c, ovl, 1000, 1000, 0, SEG_CHARS, SEG_VTT), -1, "srt forced as vtt: error");
	const char *back = "1\n00:00:05,000 --> 00:00:04,000\nBackwards.\n";
	T_EQ_INT(split(&c2, back, 100, 100, 0, SEG_CHARS, SEG_SRT), -1, "srt cue ending before it starts");
	T_EQ_STR(err, "cue ends before it starts at line 2", "the backwards cue is reported with its line");
	T_EQ_INT(c2.n, 0, "backwards cue: no segment");
	T_EQ_INT(split(&c2, "WEBVTT\n\n00:02.000 --> 00:01.000\nBack.\n", 100, 100, 0, SEG_CHARS,
		       SEG_VTT), -1, "vtt cue ending before it starts");
	T_EQ_STR(err, "cue ends before it starts at line 3", "vtt: the line of the timing");
	T_EQ_INT(split(&c2, "00:00:01,000 --> 00:00:01,000\nZero.\n", 100, 100, 0, SEG_CHARS, SEG_SRT),
		 0, "a cue of zero length is fine");
	col_free(&c2);

	/* no blank line between cues, no cue numbers */
	const char *tight = "00:00:01.000 --> 00:00:02.000\nA.\n00:00:02.000 --> 00:00:03.000\nB.\n";
	T_EQ_INT(split(&c, tight, 1, 100, 0, SEG_CHARS, SEG_SRT), 0, "tight srt: ok");
	T_EQ_INT(c.n, 2, "tight srt: two cues");
	T_EQ_STR(c.s[1].text, "B.", "tight srt: second cue");
	col_free(&c);
}

static const char vtt[] =
	"\xef\xbb\xbfWEBVTT - a test\n"
	"Kind: captions\n"
	"\n"
	"STYLE\n"
	"::cue { color: red }\n"
	"\n"
	"NOTE this is a comment\n"
	"spanning lines --> still a note\n"
	"\n"
	"intro\n"
	"00:01.000 --> 00:04.000 align:start position:10%\n"
	"<v Roger Bingham>We are in New York City\n"
	"\n"
	"00:04.000 --> 00:06.500\n"
	"<v Roger Bingham><c.loud>and</c> it's &amp; nice &lt;3\n"
	"\n"
	"NOTE another\n"
	"\n"
	"00:06.500 --> 00:08.000\n"
	"<v.loud Neil deGrasse Tyson><i>Sure</i> &#233;\n"
	"\n"
	"1:00:00.000 --> 1:00:01.000\n"
	"<00:00:01.000>Anonymous text\n";

static void test_vtt(void)
{
	struct col c = {0};
	T_EQ_INT(split(&c, vtt, 1000, 2000, 0, SEG_CHARS, SEG_VTT), 0, "vtt: ok");
	T_EQ_INT(c.n, 3, "vtt: merged per speaker");
	T_EQ_STR(c.s[0].text, "We are in New York City and it's & nice <3", "vtt: tags, entities");
	T_EQ_STR(c.s[0].speaker, "Roger Bingham", "vtt: <v> speaker");
	T_OK(c.s[0].t0 == 1.0 && c.s[0].t1 == 6.5, "vtt: mm:ss.mmm times");
	T_EQ_STR(c.s[1].speaker, "Neil deGrasse Tyson", "vtt: <v.class> speaker");
	T_EQ_STR(c.s[1].text, "Sure \xc3\xa9", "vtt: numeric entity");
	T_EQ_STR(c.s[2].speaker, NULL, "vtt: no speaker");
	T_OK(c.s[2].t0 == 3600.0, "vtt: h:mm:ss.mmm");
	T_EQ_STR(c.s[2].text, "Anonymous text", "vtt: timestamp tags dropped");
	T_EQ_INT(c.s[0].start, strstr(vtt, "We are") - vtt, "vtt: span start");
	T_EQ_INT(c.s[0].end, strstr(vtt, "&lt;3") + 5 - vtt, "vtt: span end");
	T_EQ_INT(seg_detect(NULL, vtt, strlen(vtt)), SEG_VTT, "vtt: detected");
	T_EQ_INT(split(&c, vtt, 1000, 2000, 0, SEG_CHARS, SEG_AUTO), 0, "vtt auto: ok");
	T_EQ_INT(c.n, 3, "vtt: SEG_AUTO detects it");

	const char *note = "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>Note: it works.\n";
	T_EQ_INT(split(&c, note, 100, 100, 0, SEG_CHARS, SEG_VTT), 0, "voice+prefix: ok");
	T_EQ_STR(c.s[0].speaker, "Ann", "after a voice tag a Name: prefix is text");
	T_EQ_STR(c.s[0].text, "Note: it works.", "voice tag: text kept");
	T_EQ_INT(split(&c, "WEBVTT\n\n00:01.000 --> 00:0a.000\nx\n", 100, 100, 0, SEG_CHARS, SEG_VTT), -1, "bad vtt");
	T_EQ_STR(err, "bad VTT timestamp at line 3", "bad vtt: names the line");
	T_EQ_INT(c.n, 0, "bad vtt: no segments");
	T_EQ_INT(split(&c, "WEBVTT\n\nid only\n", 100, 100, 0, SEG_CHARS, SEG_VTT), -1, "vtt no ts");
	T_EQ_STR(err, "missing VTT timestamp at line 4", "vtt: cue id without timing");
	T_EQ_INT(split(&c, "00:01.000 --> 00:02.000\nx\n", 100, 100, 0, SEG_CHARS, SEG_VTT), -1, "no hdr");
	T_EQ_STR(err, "missing WEBVTT header at line 1", "vtt: header required");
	T_EQ_INT(split(&c, "WEBVTT\n\n00:01.000 --> 00:02.000 \n", 100, 100, 0, SEG_CHARS, SEG_VTT), 0, "empty cue");
	T_EQ_INT(c.n, 0, "a cue without text gives nothing");
	col_free(&c);
}

static void test_errors(void)
{
	struct col c = {0};
	struct seg_opts o = {100, 200, 0, SEG_CHARS, SEG_TEXT};
	const char bad[] = "Fine text. More\xff text.";
	T_EQ_INT(seg_split(bad, sizeof bad - 1, &o, collect, &c, err, sizeof err), -1, "bad utf8");
	T_EQ_STR(err, "invalid UTF-8 at byte 15", "invalid UTF-8: offset");
	T_EQ_INT(c.n, 0, "invalid UTF-8: no segments");
	const char trunc[] = "ok \xc3";
	T_EQ_INT(seg_split(trunc, sizeof trunc - 1, &o, collect, &c, err, sizeof err), -1, "trunc");
	T_EQ_STR(err, "invalid UTF-8 at byte 3", "truncated code point");
	const char over[] = "ok \xc0\xaf";
	T_EQ_INT(seg_split(over, sizeof over - 1, &o, collect, &c, err, sizeof err), -1, "overlong");
	T_EQ_STR(err, "invalid UTF-8 at byte 3", "overlong encoding");
	const char nul[] = "Some text.\0More.";
	T_EQ_INT(seg_split(nul, sizeof nul - 1, &o, collect, &c, err, sizeof err), -1, "nul");
	T_EQ_STR(err, "NUL byte at byte 10", "NUL byte: offset");
	T_EQ_INT(c.n, 0, "NUL: no segments");
	const char both[] = "a\0b\xff";
	T_EQ_INT(seg_split(both, sizeof both - 1, &o, collect, &c, err, sizeof err), -1, "both");
	T_EQ_STR(err, "NUL byte at byte 1", "the first problem is reported");
	o.format = SEG_SRT;
	T_EQ_INT(seg_split(nul, sizeof nul - 1, &o, collect, &c, err, sizeof err), -1, "nul srt");
	T_EQ_STR(err, "NUL byte at byte 10", "NUL in a transcript too");
	col_free(&c);

	/* emit returning nonzero stops */
	struct col s = {0};
	s.stop_after = 2;
	o.target = o.max = 1;
	o.format = SEG_TEXT;
	const char *three = "One. Two. Three. Four.";
	T_EQ_INT(seg_split(three, strlen(three), &o, collect, &s, err, sizeof err), 0, "stop: ok");
	T_EQ_INT(s.n, 2, "emit returning nonzero stops the split");
	col_free(&s);
}

static void test_detect(void)
{
	T_EQ_INT(seg_detect("a/b.SRT", "", 0), SEG_SRT, "detect .srt");
	T_EQ_INT(seg_detect("x.vtt", NULL, 0), SEG_VTT, "detect .vtt");
	T_EQ_INT(seg_detect("README.md", "plain", 5), SEG_MARKDOWN, "detect .md");
	T_EQ_INT(seg_detect("notes.txt", "# Heading\n", 10), SEG_TEXT, ".txt wins over content");
	T_EQ_INT(seg_detect("dir.v2/file", "plain words.", 12), SEG_TEXT, "dot in a directory");
	const char *s1 = "\n1\n00:00:01,000 --> 00:00:02,000\nHi\n";
	T_EQ_INT(seg_detect(NULL, s1, strlen(s1)), SEG_SRT, "detect SRT content");
	const char *s2 = "WEBVTT\n\n";
	T_EQ_INT(seg_detect(NULL, s2, strlen(s2)), SEG_VTT, "detect WEBVTT");
	const char *m1 = "Intro line\n\n## Usage\n";
	T_EQ_INT(seg_detect(NULL, m1, strlen(m1)), SEG_MARKDOWN, "detect ATX heading");
	const char *m2 = "Text\n```\ncode\n```\n";
	T_EQ_INT(seg_detect(NULL, m2, strlen(m2)), SEG_MARKDOWN, "detect fence");
	const char *m3 = "Title\n=====\n";
	T_EQ_INT(seg_detect(NULL, m3, strlen(m3)), SEG_MARKDOWN, "detect setext");
	const char *t1 = "Just text. With 3.14 and #tags.\n";
	T_EQ_INT(seg_detect(NULL, t1, strlen(t1)), SEG_TEXT, "detect plain text");
	T_EQ_INT(seg_detect(NULL, "", 0), SEG_TEXT, "empty is text");
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A document of about n bytes mixing words, multibyte text, abbreviations,
 * numbers, terminators, line and paragraph breaks, huge tokens and
 * (for Markdown) headings, fences and list items. */
static void gen_doc(struct buf *b, size_t n, int md)
{
	static const char *const words[] = {
		"the", "quick", "brown", "fox", "Mr.", "Dr.", "e.g.", "i.e.", "etc.", "3.14",
		"J.", "U.S.", "caf\xc3\xa9", "na\xc3\xafve", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"\xf0\x9f\x98\x80", "\xe2\x80\x9cquoted\xe2\x80\x9d", "(paren)", ("a\xc2\xa0" "b"),
		"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "x", "jumps", "over", "lazy",
	};
	static const char *const ends[] = {
		". ", "! ", "? ", "... ", "\xe2\x80\xa6 ", "\xe3\x80\x82", ".\" ", "?) ", ".\n",
		". ", ". ", ", ", " ", " ", " ", " ", " ", "\n", "\n\n", " \n \n",
	};
	buf_reset(b);
	while (b->len < n) {
		unsigned r = (unsigned)(rnd() % 1000);
		if (md && r < 8) {
			buf_puts(b, "\n\n");
			for (unsigned k = 0; k <= r % 6; k++)
				buf_putc(b, '#');
			buf_puts(b, " Heading words here\n\n");
		} else if (md && r < 12) {
			buf_puts(b, "\n\n```\ncode. Line one.\n\nmore code;\n```\n\n");
		} else if (md && r < 20) {
			buf_puts(b, "\n- list item. With two sentences.\n- another item\n");
		} else if (md && r < 22) {
			buf_puts(b, "\nSetext title\n---\n");
		} else if (r < 24) {
			for (unsigned k = 0; k < 300 + r * 20; k++)
				buf_putc(b, (char)('a' + k % 26));
			buf_putc(b, ' ');
		} else if (r < 26) {
			for (unsigned k = 0; k < 200; k++)
				buf_puts(b, "\xe4\xb8\xad");
		} else {
			buf_puts(b, words[rnd() % ARRAY_LEN(words)]);
			buf_puts(b, ends[rnd() % ARRAY_LEN(ends)]);
		}
	}
}

struct inv {
	const char *doc;
	size_t len, max, overlap;
	enum seg_unit unit;
	int md;
	size_t n, prev_start, prev_end;
	int slice, bounds, trim, size, order, cover;
	uint64_t hash;
};

static int check_span(const struct seg_span *sp, void *ud)
{
	struct inv *v = ud;
	const unsigned char *d = (const unsigned char *)v->doc;
	if (sp->start >= sp->end || sp->end > v->len || sp->text != v->doc + sp->start ||
	    sp->text_len != sp->end - sp->start)
		v->slice = 0;
	if (sp->end <= v->len && ((sp->start < v->len && (d[sp->start] & 0xc0) == 0x80) ||
				  (sp->end < v->len && (d[sp->end] & 0xc0) == 0x80)))
		v->bounds = 0;
	if (sp->text_len &&
	    (is_sp(sp->text[0]) || is_sp(sp->text[sp->text_len - 1]) ||
	     memcmp(sp->text, "\xc2\xa0", 2) == 0))
		v->trim = 0;
	size_t sz = v->unit == SEG_TOKENS ? (sp->text_len + 3) / 4 : cps(sp->text, sp->text_len);
	if (sz > v->max || sz == 0)
		v->size = 0;
	if (v->n && (sp->start < v->prev_start || sp->end <= v->prev_end))
		v->order = 0;
	/* without overlap, only whitespace (and Markdown rules) lies
	 * between segments */
	if (!v->overlap) {
		size_t from = v->n ? v->prev_end : 0;
		if (sp->start < from)
			v->order = 0;
		for (size_t i = from; i < sp->start && i < v->len; i++)
			if (!is_sp(v->doc[i]) && !(d[i] == 0xc2 && d[i + 1] == 0xa0) &&
			    !(v->md && (d[i] == '-' || d[i] == '*' || d[i] == '_')) &&
			    !(d[i] == 0xa0 && i > 0 && d[i - 1] == 0xc2) &&
			    !(i < 3 && d[0] == 0xef))
				v->cover = 0;
	}
	v->hash = fnv64(v->hash, &sp->start, sizeof sp->start);
	v->hash = fnv64(v->hash, &sp->end, sizeof sp->end);
	v->prev_start = sp->start;
	v->prev_end = sp->end;
	v->n++;
	return 0;
}

static void test_invariants(void)
{
	struct buf b = {0};
	static const size_t targets[][3] = {
		{1, 1, 0}, {5, 8, 0}, {20, 20, 5}, {50, 80, 10}, {200, 300, 0},
		{200, 300, 60}, {1000, 1500, 150}, {1000, 1000, 999}, {4000, 8000, 0},
	};
	for (int md = 0; md < 2; md++) {
		gen_doc(&b, md ? 200000 : 400000, md);
		int slice = 1, bounds = 1, trim = 1, size = 1, order = 1, cover = 1, det = 1;
		size_t runs = 0, segs = 0;
		for (size_t t = 0; t < ARRAY_LEN(targets); t++) {
			for (int unit = 0; unit < 2; unit++) {
				struct seg_opts o = {targets[t][0], targets[t][1], targets[t][2],
						     (enum seg_unit)unit, md ? SEG_MARKDOWN : SEG_TEXT};
				struct inv v = {b.p, b.len, o.max, o.overlap, o.unit, md, 0, 0, 0,
						1, 1, 1, 1, 1, 1, FNV64_INIT};
				if (seg_split(b.p, b.len, &o, check_span, &v, err, sizeof err) != 0)
					slice = 0;
				struct inv w = v;
				w.n = 0;
				w.hash = FNV64_INIT;
				seg_split(b.p, b.len, &o, check_span, &w, err, sizeof err);
				det &= w.hash == v.hash && w.n == v.n;
				slice &= v.slice;
				bounds &= v.bounds;
				trim &= v.trim;
				size &= v.size;
				order &= v.order;
				cover &= v.cover;
				runs++;
				segs += v.n;
			}
		}
		const char *kind = md ? "markdown" : "text";
		T_OK(slice, "%s: text is exactly the [start,end) slice (%zu runs, %zu segments)", kind, runs, segs);
		T_OK(bounds, "%s: spans start and end on code point boundaries", kind);
		T_OK(trim, "%s: segments start and end with non-space", kind);
		T_OK(size, "%s: no segment is empty or over max", kind);
		T_OK(order, "%s: segments come in document order", kind);
		T_OK(cover, "%s: without overlap only whitespace is left out", kind);
		T_OK(det, "%s: same input, same spans", kind);
	}
	buf_free(&b);
}

int main(void)
{
	test_empty();
	test_sentences();
	test_packing();
	test_paragraphs();
	test_max();
	test_overlap();
	test_markdown();
	test_srt();
	test_vtt();
	test_errors();
	test_detect();
	test_invariants();
	return t_done();
}
