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
	{SEG_HTML, "html", "html htm xhtml "},
	{SEG_PDF, "pdf", "pdf "},
	{SEG_DOCX, "docx", "docx "},
	{SEG_ODT, "odt", "odt "},
};

enum seg_format seg_format_named(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].format;
	return SEG_AUTO;
}

const char *seg_format_name(enum seg_format f)
{
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		if (formats[i].format == f)
			return formats[i].name;
	return "auto";
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

/* A ZIP of an office document: DOCX (a word/ part) or ODT (its mimetype
 * member, stored first), by the names in the local headers. */
static enum seg_format zip_kind(const char *doc, size_t len)
{
	static const char odt[] = "mimetypeapplication/vnd.oasis.opendocument.text";
	if (len > 30 + sizeof odt && !memcmp(doc + 30, odt, sizeof odt - 1) &&
	    (doc[30 + sizeof odt - 1] == '\0' || doc[30 + sizeof odt - 1] == 'P' ||
	     !memcmp(doc + 30 + sizeof odt - 1, "-template", 9)))
		return SEG_ODT;
	size_t lim = len < 65536 ? len : 65536;
	if (memmem(doc, lim, "word/document.xml", 17) || memmem(doc, lim, "word/_rels", 10))
		return SEG_DOCX;
	return SEG_AUTO;
}

/* HTML: a doctype or an <html> tag opening the document (after white
 * space and comments), or <html/<head/<body in its first 1 KiB when it
 * starts with a tag. */
static int html_sniff(const char *doc, size_t pos, size_t len)
{
	if (pos >= len || doc[pos] != '<')
		return 0;
	size_t lim = len - pos < 1024 ? len - pos : 1024;
	const char *p = doc + pos;
	if (lim >= 14 && !strncasecmp(p, "<!doctype html", 14))
		return 1;
	for (size_t i = 0; i + 5 <= lim; i++)
		if (p[i] == '<' && (!strncasecmp(p + i + 1, "html", 4) || !strncasecmp(p + i + 1, "head", 4) ||
				    (i + 5 < lim && !strncasecmp(p + i + 1, "body", 4))) &&
		    i + 5 < lim && (p[i + 5] == '>' || p[i + 5] == ' ' || p[i + 5] == '\n'))
			return 1;
	return 0;
}

enum seg_format seg_detect(const char *name, const char *doc, size_t len)
{
	/* by content, the formats that are not text whatever their name */
	if (doc && len >= 5 && !memcmp(doc, "%PDF-", 5))
		return SEG_PDF;
	enum seg_format f;
	if (doc && len >= 4 && !memcmp(doc, "PK\x03\x04", 4) && (f = zip_kind(doc, len)) != SEG_AUTO)
		return f;
	f = name ? format_of_name(name) : SEG_AUTO;
	if (f != SEG_AUTO)
		return f;
	if (!doc)
		return SEG_TEXT;
	const unsigned char *d = (const unsigned char *)doc;
	size_t pos = seg_text_skip_ws(d, seg_text_bom(doc, len), len);
	if (html_sniff(doc, pos, len))
		return SEG_HTML;
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

/* What a ZIP that is no DOCX or ODT holds, by its member names. */
static const char *zip_what(const char *doc, size_t len)
{
	size_t lim = len < 65536 ? len : 65536;
	if (memmem(doc, lim, "xl/", 3))
		return "an XLSX spreadsheet (ZIP)";
	if (memmem(doc, lim, "ppt/", 4))
		return "a PPTX presentation (ZIP)";
	if (memmem(doc, lim, "application/epub+zip", 20))
		return "an EPUB book (ZIP; pandoc -t plain book.epub | segment --doc book.epub -)";
	if (memmem(doc, lim, "application/vnd.oasis.opendocument", 34))
		return "an OpenDocument file other than text (ZIP)";
	return "a ZIP archive";
}

const char *seg_unsupported(enum seg_format f, const char *doc, size_t len, char *why,
			    size_t whylen)
{
	/* an encrypted DOCX/XLSX is an OLE2 file with an EncryptedPackage */
	static const char enc[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e";
	if (len >= 8 && !memcmp(doc, "\xd0\xcf\x11\xe0", 4) && memmem(doc, len, enc, sizeof enc - 1)) {
		snprintf(why, whylen, "encrypted Office document: save it without a password");
		return "encrypted";
	}
	if (f == SEG_PDF || f == SEG_DOCX || f == SEG_ODT)
		return NULL; /* their converters tell what is wrong */
	if (len >= 4 && !memcmp(doc, "PK\x03\x04", 4) && zip_kind(doc, len) == SEG_AUTO) {
		snprintf(why, whylen, "unsupported type: %s", zip_what(doc, len));
		return "unsupported_type";
	}
	for (size_t i = 0; i < ARRAY_LEN(magics); i++)
		if (len >= magics[i].len && !memcmp(doc, magics[i].magic, magics[i].len)) {
			snprintf(why, whylen, "unsupported type: %s", magics[i].what);
			return "unsupported_type";
		}
	const char *nul = memchr(doc, '\0', len < 8192 ? len : 8192);
	if (nul) {
		snprintf(why, whylen, "unsupported type: binary data (NUL byte at byte %zu)",
			 (size_t)(nul - doc));
		return "unsupported_type";
	}
	return NULL;
}
