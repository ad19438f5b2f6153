/* test_segment_convert: the extracted-text builder of converted documents
 * (blocks, separators, white space, invalid bytes, caps) and HTML read
 * from memory. */
#include "segment_convert.h"
#include "t.h"

#include <stdlib.h>

static const struct seg_caps caps = {1 << 20, 100, 64};

static void test_builder(void)
{
	struct seg_conv c = {.caps = &caps};
	seg_conv_block(&c, SEG_BLOCK_UNIT, SEG_HARD | SEG_PARA);
	seg_conv_text(&c, "  Title \n of it ", 16);
	seg_conv_block(&c, SEG_BLOCK_PROSE, SEG_PARA);
	seg_conv_text(&c, " \t ", 3);
	seg_conv_block(&c, SEG_BLOCK_PROSE, SEG_PARA);
	seg_conv_text(&c, "a\x01" "b\xff" "c\xef\xbb\xbf" "d", 9);
	seg_conv_break(&c, 0);
	seg_conv_text(&c, "e", 1);
	seg_conv_break(&c, 1);
	seg_conv_text(&c, "f ", 2);
	seg_conv_end(&c);
	T_EQ_STR(c.text.p, "Title of it\n\nabcd\ne\tf", "white space collapsed, blank block and its separator dropped, bad bytes out");
	T_EQ_INT(c.n, 2, "two blocks");
	T_EQ_INT(c.blocks[0].start, 0, "first block span");
	T_EQ_INT(c.blocks[0].end, 11, "first block end, trailing space trimmed");
	T_EQ_INT(c.blocks[0].flags, SEG_HARD | SEG_PARA, "flags kept");
	T_EQ_INT(c.blocks[1].start, 13, "second block after the blank line");
	T_EQ_INT(c.blocks[1].end, c.text.len, "second block to the end");
	seg_conv_field(&c.title, "  A \n title ", 12);
	seg_conv_field(&c.title, "other", 5);
	T_EQ_STR(c.title, "A title", "field collapsed, the first one kept");
	seg_conv_free(&c);

	struct seg_caps tiny = {10, 1, 8};
	struct seg_conv d = {.caps = &tiny};
	seg_conv_text(&d, "0123456789 more", 15);
	T_OK(d.over && d.text.len <= 10, "the cap stops the text (len %zu)", d.text.len);
	seg_conv_free(&d);
}

static void test_html(void)
{
	const char *html = "<html lang=en><head><title>T</title><script>x</script></head>"
			   "<body><h2>Head</h2><p>One &amp; two.</p><ul><li>a</li><li>b</li></ul></body></html>";
	struct seg_conv c = {0};
	struct seg_fail fl;
	T_EQ_INT(seg_convert(SEG_HTML, html, strlen(html), &caps, &c, &fl), 0, "html converts");
	T_EQ_STR(c.text.p, "Head\n\nOne & two.\n\na\n\nb", "html text");
	T_EQ_INT(c.n, 4, "heading, paragraph, two items");
	T_EQ_INT(c.blocks[0].kind, SEG_BLOCK_UNIT, "the heading is a unit");
	T_EQ_INT(c.blocks[2].kind, SEG_BLOCK_ITEM, "an item");
	T_EQ_INT(c.blocks[2].flags, SEG_PARA, "the first item opens the list");
	T_EQ_INT(c.blocks[3].flags, 0, "the next item packs with it");
	T_EQ_STR(c.title, "T", "title");
	T_EQ_STR(c.lang, "en", "lang");
	seg_conv_free(&c);
	T_EQ_INT(seg_convert(SEG_PDF, "%PDF-1.4 garbage", 16, &caps, &c, &fl), -1, "broken pdf fails");
	T_EQ_STR(fl.code, "bad_document", "broken pdf code");
	T_EQ_INT(seg_convert(SEG_DOCX, "PK\x03\x04", 4, &caps, &c, &fl), -1, "broken docx fails");
	T_EQ_STR(fl.code, "bad_document", "broken docx code");
}

int main(void)
{
	test_builder();
	test_html();
	return t_done();
}
