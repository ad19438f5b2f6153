/* segment_convert: the extracted text of converted documents, built block
 * by block, and the dispatch to the converter of each format. */
#include "segment_convert.h"
#include "segment_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int seg_conv_fail(struct seg_fail *fail, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail->code = code;
	vsnprintf(fail->msg, sizeof fail->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void seg_conv_free(struct seg_conv *c)
{
	buf_free(&c->text);
	free(c->blocks);
	free(c->title);
	free(c->lang);
	c->blocks = NULL;
	c->title = c->lang = NULL;
	c->n = c->cap = 0;
}

void seg_conv_end(struct seg_conv *c)
{
	if (!c->open)
		return;
	c->open = 0;
	struct buf *t = &c->text;
	while (t->len > c->start && seg_text_is_space((unsigned char)t->p[t->len - 1]))
		t->len--;
	if (t->len == c->start) {
		/* nothing visible: the separator before it goes too */
		t->len = c->start >= 2 ? c->start - 2 : 0;
		if (t->p)
			t->p[t->len] = '\0';
		return;
	}
	t->p[t->len] = '\0';
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->blocks = xrealloc(c->blocks, c->cap * sizeof *c->blocks);
	}
	c->blocks[c->n++] = (struct seg_block){c->start, t->len, c->kind, c->flags, c->page};
}

void seg_conv_block(struct seg_conv *c, enum seg_block_kind kind, unsigned flags)
{
	seg_conv_end(c);
	c->open = 1;
	c->kind = kind;
	c->flags = flags;
	c->space = 0;
	if (c->text.len)
		buf_append(&c->text, "\n\n", 2);
	c->start = c->text.len;
}

void seg_conv_page(struct seg_conv *c, int page)
{
	seg_conv_end(c);
	c->page = page;
}

static int room(struct seg_conv *c, size_t n)
{
	if (c->text.len + n <= c->caps->max_bytes)
		return 1;
	c->over = 1;
	return 0;
}

void seg_conv_break(struct seg_conv *c, int tab)
{
	if (!c->open)
		seg_conv_block(c, SEG_BLOCK_PROSE, SEG_PARA);
	c->space = 0;
	if ((!tab && c->text.len == c->start) || !room(c, 1))
		return;
	buf_putc(&c->text, tab ? '\t' : '\n');
}

void seg_conv_text(struct seg_conv *c, const char *s, size_t n)
{
	const unsigned char *d = (const unsigned char *)s;
	if (!c->open)
		seg_conv_block(c, SEG_BLOCK_PROSE, SEG_PARA);
	size_t i = 0;
	while (i < n && !c->over) {
		unsigned char ch = d[i];
		if (seg_text_is_space(ch)) {
			if (c->pre && room(c, 1))
				buf_putc(&c->text, ch == '\r' || ch == '\v' ? '\n' : (char)ch);
			else if (c->text.len > c->start)
				c->space = 1;
			i++;
			continue;
		}
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		/* control characters, invalid bytes, BOM and zero-width space
		 * are not visible text */
		if (!l || ch < 0x20 || ch == 0x7f ||
		    (l == 3 && ((ch == 0xef && d[i + 1] == 0xbb && d[i + 2] == 0xbf) ||
				(ch == 0xe2 && d[i + 1] == 0x80 && d[i + 2] == 0x8b)))) {
			i += l ? l : 1;
			continue;
		}
		size_t j = i + l;
		while (j < n && d[j] >= 0x20 && d[j] < 0x7f && d[j] != ' ')
			j++;
		if (!room(c, j - i + 1))
			break;
		if (c->space)
			buf_putc(&c->text, ' ');
		c->space = 0;
		buf_append(&c->text, s + i, j - i);
		i = j;
	}
}

void seg_conv_field(char **field, const char *s, size_t n)
{
	if (*field)
		return;
	struct buf b = {0};
	int space = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (seg_text_is_space(ch) || ch < 0x20) {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_putc(&b, ' ');
		space = 0;
		buf_putc(&b, (char)ch);
	}
	if (b.len && utf8_check(b.p, b.len) < 0)
		*field = buf_steal(&b, NULL);
	else
		buf_free(&b);
}

int seg_convert(enum seg_format f, const char *raw, size_t len, const struct seg_caps *caps,
		struct seg_conv *c, struct seg_fail *fail)
{
	c->caps = caps;
	int rc;
	switch (f) {
	case SEG_HTML:
		rc = seg_html_convert(raw, len, c, fail);
		break;
	case SEG_PDF:
		rc = seg_pdf_convert(raw, len, c, fail);
		break;
	case SEG_DOCX:
	case SEG_ODT:
		rc = seg_office_convert(f, raw, len, c, fail);
		break;
	default:
		rc = seg_conv_fail(fail, "unsupported_type", "not a converted format");
		break;
	}
	seg_conv_end(c);
	if (rc == 0 && c->over)
		rc = seg_conv_fail(fail, "too_big",
				   "extracted text larger than segment.max_document (%zu bytes)",
				   caps->max_bytes);
	if (rc)
		seg_conv_free(c);
	return rc;
}
