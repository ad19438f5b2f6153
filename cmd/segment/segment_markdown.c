/* segment_markdown: the Markdown reader. It finds the blocks of a Markdown
 * document (headings, paragraphs, list items, fenced code, tables, front
 * matter; man/segment.1, SPLITTING RULES: Markdown) line by line and adds
 * them to the packer; it never builds a tree, so it reads any size in one
 * pass. */
#include "segment_markdown.h"
#include "segment_block.h"
#include "segment_text.h"

#include <stdint.h>
#include <string.h>

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
		size_t le = seg_text_eol((const char *)d, pos, n), i;
		size_t nx = le < n ? le + 1 : n;
		indent(d, pos, le, &i);
		size_t j = i;
		while (j < le && d[j] == ch)
			j++;
		if (j - i >= flen && seg_text_is_blank(d, j, le)) {
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
		else if (!seg_text_is_space(d[i]))
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
	return (ch == '=' || j - i >= 2) && seg_text_is_blank(d, j, e);
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
	while (j < e && j - i < 9 && seg_text_is_digit(d[j]))
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
		size_t le = seg_text_eol((const char *)d, pos, n);
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
		size_t le = seg_text_eol((const char *)d, pos, n), nx = le < n ? le + 1 : n, i, flen;
		unsigned char fch;
		if (seg_text_is_blank(d, pos, le) || md_item(d, pos, le, 0) || md_atx(d, pos, le) ||
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
		size_t le = seg_text_eol((const char *)d, pos, n), nx = le < n ? le + 1 : n;
		if (seg_text_is_blank(d, pos, le))
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
	size_t le = seg_text_eol((const char *)d, pos, n);
	if (le - pos < 3 || memcmp(d + pos, "---", 3) != 0 || !seg_text_is_blank(d, pos + 3, le))
		return 0;
	for (pos = le < n ? le + 1 : n; pos < n;) {
		le = seg_text_eol((const char *)d, pos, n);
		if (le - pos >= 3 && (memcmp(d + pos, "---", 3) == 0 || memcmp(d + pos, "...", 3) == 0) &&
		    seg_text_is_blank(d, pos + 3, le)) {
			*next = le < n ? le + 1 : n;
			return le;
		}
		pos = le < n ? le + 1 : n;
	}
	return 0;
}

static void add(struct seg_pack *p, size_t s, size_t e, enum seg_block_kind kind, unsigned flags)
{
	struct seg_block b = {s, e, kind, flags, 0};
	seg_block_add(p, &b);
}

void seg_markdown_read(struct seg_pack *p, size_t pos)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	size_t n = p->len, next, end;
	int blank = 1, in_list = 0, setext;
	/* front matter is one block, not a rule and a setext heading */
	if ((end = md_front_matter(d, pos, n, &next))) {
		add(p, pos, end, SEG_BLOCK_UNIT, SEG_PARA);
		pos = next;
	}
	while (pos < n && !p->stopped) {
		size_t le = seg_text_eol(p->doc, pos, n), nx = le < n ? le + 1 : n, flen;
		unsigned char fch;
		int was_list = in_list;
		in_list = 0;
		if (seg_text_is_blank(d, pos, le)) {
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
			add(p, pos, end, SEG_BLOCK_UNIT, SEG_PARA);
		} else if (md_atx(d, pos, le)) {
			next = nx;
			add(p, pos, le, SEG_BLOCK_UNIT, SEG_HARD | SEG_PARA);
		} else if (md_table(d, pos, le)) {
			/* kept whole when it fits; a bigger table is cut at row
			 * ends, as the packer prefers line breaks */
			end = md_table_end(d, nx, n, le, &next);
			add(p, pos, end, SEG_BLOCK_UNIT, SEG_PARA);
		} else if (md_item(d, pos, le, 0)) {
			/* a tight list's items pack without a paragraph break */
			end = md_item_end(d, nx, n, le, &next);
			add(p, pos, end, SEG_BLOCK_ITEM, blank || !was_list ? SEG_PARA : 0);
			in_list = 1;
		} else {
			end = md_para_end(d, nx, n, le, &next, &setext);
			if (setext)
				add(p, pos, end, SEG_BLOCK_UNIT, SEG_HARD | SEG_PARA);
			else
				add(p, pos, end, SEG_BLOCK_PROSE, SEG_PARA);
		}
		blank = 0;
		pos = next;
	}
}

int seg_markdown_sniff(const char *doc, size_t pos, size_t len)
{
	const unsigned char *d = (const unsigned char *)doc;
	size_t lim = len < 65536 ? len : 65536;
	int prev_text = 0;
	while (pos < lim) {
		size_t le = seg_text_eol(doc, pos, lim), flen;
		unsigned char fch;
		if (md_atx(d, pos, le) || md_fence_open(d, pos, le, 3, &fch, &flen))
			return 1;
		int blank = seg_text_is_blank(d, pos, le);
		if (prev_text && !blank && md_setext(d, pos, le) &&
		    d[seg_text_skip_ws(d, pos, le)] == '=')
			return 1;
		prev_text = !blank;
		pos = le + 1;
	}
	return 0;
}
