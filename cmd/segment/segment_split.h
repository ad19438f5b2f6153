/* segment_split: the pure splitting logic of segment. It turns one document
 * (plain text, Markdown, SRT or WebVTT) into segments by calling back once
 * per segment; it does no I/O, starts no threads and knows nothing of JSON.
 * The exact rules are in man/segment.1 (SPLITTING RULES). Inside: readers
 * (segment_markdown.c, segment_cue.c) find blocks or cues, the sentence
 * scanner (segment_sentence.c) cuts prose, the packer (segment_pack.c)
 * builds the segments. */
#ifndef LANES_SEGMENT_SPLIT_H
#define LANES_SEGMENT_SPLIT_H

#include <stddef.h>

enum seg_format {
	SEG_AUTO, SEG_TEXT, SEG_MARKDOWN, SEG_SRT, SEG_VTT,
	/* converted to text first (segment_convert.h) */
	SEG_HTML, SEG_PDF, SEG_DOCX, SEG_ODT,
};
enum seg_unit { SEG_CHARS, SEG_TOKENS }; /* tokens are approximated as ceil(bytes/4) */

struct seg_opts {
	size_t target;  /* pack whole sentences up to about this size (in unit) */
	size_t max;     /* hard maximum: a segment is never bigger (in unit) */
	size_t overlap; /* approx. size of trailing context repeated at the start
			 * of the next segment (0 = none), made of whole
			 * sentences when possible */
	enum seg_unit unit;
	enum seg_format format; /* SEG_AUTO: seg_detect(NULL, doc, len) */
};

struct seg_span {
	size_t start, end;   /* byte span [start,end) in the document */
	const char *text;    /* the segment text; for text/markdown exactly
			      * doc+start, len end-start */
	size_t text_len;
	int has_time;        /* transcripts: 1 */
	double t0, t1;       /* seconds */
	const char *speaker; /* NULL when none; NUL-terminated */
	size_t speaker_len;
	int page, page_end;  /* PDF: pages of its first and last byte; else 0 */
};

/* Called once per segment in document order; return nonzero to stop.
 * span and the strings it points to (other than the document itself) are
 * owned by seg_split and stay valid only until emit returns. */
typedef int (*seg_emit_fn)(const struct seg_span *span, void *ud);

/* Detects the format from a file name (may be NULL) and the first bytes:
 * PDF, DOCX and ODT by content whatever the name; then the extension
 * (.srt .vtt .md .markdown .mdown .mkd .mkdn .txt .text .html .htm .xhtml
 * .pdf .docx .odt); then the content (an HTML doctype or tag, a WEBVTT
 * header, an SRT cue, Markdown headings or fences). Never returns
 * SEG_AUTO; plain text is the fallback. */
enum seg_format seg_detect(const char *name, const char *doc, size_t len);

/* The format called name in --format ("text", "markdown", "srt", "vtt",
 * "html", "pdf", "docx", "odt"), or SEG_AUTO for any other name. */
enum seg_format seg_format_named(const char *name);
/* The name of format f ("auto" for SEG_AUTO); static. */
const char *seg_format_name(enum seg_format f);

/* Whether doc[0..len), detected as f, is of a type segment cannot read
 * (an encrypted Office file whatever its name, or a type other than f's
 * by magic number): its errors code
 * ("unsupported_type", "encrypted") with a message in why ("unsupported
 * type: a PNG image", "unsupported type: binary data (NUL byte at byte
 * 5)"), else NULL. Looks at magic numbers and for a NUL in the first 8 KiB;
 * PDF, DOCX and ODT are supported. */
const char *seg_unsupported(enum seg_format f, const char *doc, size_t len, char *why,
			    size_t whylen);

/* Whether f is converted to text before it is split (HTML, PDF, ...). */
int seg_format_converted(enum seg_format f);

/* Splits the text of a converted document: text[0..len) (valid UTF-8, no
 * NUL) with its blocks, as seg_split does; segments' spans are offsets in
 * text. Cannot fail. */
struct seg_block;
void seg_split_blocks(const char *text, size_t len, const struct seg_block *blocks, size_t n,
		      const struct seg_opts *o, seg_emit_fn emit, void *ud);

/* Splits doc[0..len) and calls emit per segment. Returns 0 (also when emit
 * asked to stop), or -1 with a message in err (e.g. "invalid UTF-8 at byte
 * 1234", "NUL byte at byte 7", "bad SRT timestamp at line 12") and no
 * segment emitted at all: the document is checked before the first emit.
 * A target or max of 0 takes the other's value; both 0 is an error.
 * A target above max is lowered to max. */
int seg_split(const char *doc, size_t len, const struct seg_opts *o,
	      seg_emit_fn emit, void *ud, char *err, size_t errlen);

#endif
