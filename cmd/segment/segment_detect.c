/* segment_detect: what a document is. The file name's extension wins; then
 * the content: transcript headers and timings, Markdown marks, and the
 * magic numbers of the types segment cannot read (so that they fail with a
 * clear message instead of being split as text). */
#include "segment_cue.h"
#include "segment_markdown.h"
#include "segment_split.h"
#include "segment_text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	enum seg_format format;
	const char *name;  /* for --format */
	const char *exts;  /* file name extensions, each followed by a space */
} formats[] = {
	{SEG_TEXT, "text", "txt text "},
	{SEG_MARKDOWN, "markdown", "md markdown mdown mkd mkdn "},
	{SEG_SRT, "srt", "srt "},
	{SEG_VTT, "vtt", "vtt "},
};

enum seg_format seg_format_named(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].format;
	return SEG_AUTO;
}

static enum seg_format format_of_name(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot = strrchr(base ? base : name, '.');
	if (!dot || !dot[1])
		return SEG_AUTO;
	size_t n = strlen(dot + 1);
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		for (const char *x = formats[i].exts; *x; x = strchr(x, ' ') + 1)
			if (strchr(x, ' ') - x == (ptrdiff_t)n && !strncasecmp(x, dot + 1, n))
				return formats[i].format;
	return SEG_AUTO;
}

enum seg_format seg_detect(const char *name, const char *doc, size_t len)
{
	enum seg_format f = name ? format_of_name(name) : SEG_AUTO;
	if (f != SEG_AUTO)
		return f;
	if (!doc)
		return SEG_TEXT;
	const unsigned char *d = (const unsigned char *)doc;
	size_t pos = seg_text_skip_ws(d, seg_text_bom(doc, len), len);
	/* back to the start of the first line that is not blank */
	while (pos > 0 && d[pos - 1] != '\n' && seg_text_is_space(d[pos - 1]))
		pos--;
	if ((f = seg_cue_sniff(doc, pos, len)) != SEG_AUTO)
		return f;
	if (seg_markdown_sniff(doc, pos, len))
		return SEG_MARKDOWN;
	return SEG_TEXT;
}

/* Magic numbers of common files that are not text. */
static const struct {
	const char *magic;
	size_t len;
	const char *what;
} magics[] = {
	{"%PDF-", 5, "a PDF document"},
	{"PK\x03\x04", 4, "a ZIP archive (DOCX, ODT, XLSX, EPUB, ...)"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "a Microsoft Office 97-2003 document (DOC, XLS, PPT)"},
	{"{\\rtf", 5, "an RTF document"},
	{"\x1f\x8b", 2, "gzip data (zcat FILE | segment --doc FILE -)"},
	{"BZh", 3, "bzip2 data"},
	{"\xfd" "7zXZ", 5, "xz data"},
	{"\x28\xb5\x2f\xfd", 4, "zstd data"},
	{"\x89PNG", 4, "a PNG image"},
	{"\xff\xd8\xff", 3, "a JPEG image"},
	{"GIF8", 4, "a GIF image"},
	{"\x7f" "ELF", 4, "an ELF executable"},
	{"SQLite format 3", 16, "an SQLite database"},
	{"\xff\xfe", 2, "UTF-16 text (iconv -f UTF-16 -t UTF-8)"},
	{"\xfe\xff", 2, "UTF-16 text (iconv -f UTF-16 -t UTF-8)"},
};

int seg_unsupported(const char *doc, size_t len, char *why, size_t whylen)
{
	for (size_t i = 0; i < ARRAY_LEN(magics); i++)
		if (len >= magics[i].len && !memcmp(doc, magics[i].magic, magics[i].len)) {
			snprintf(why, whylen, "%s", magics[i].what);
			return 1;
		}
	const char *nul = memchr(doc, '\0', len < 8192 ? len : 8192);
	if (nul) {
		snprintf(why, whylen, "binary data (NUL byte at byte %zu)", (size_t)(nul - doc));
		return 1;
	}
	return 0;
}
