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

enum seg_format { SEG_AUTO, SEG_TEXT, SEG_MARKDOWN, SEG_SRT, SEG_VTT };
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
};

/* Called once per segment in document order; return nonzero to stop.
 * span and the strings it points to (other than the document itself) are
 * owned by seg_split and stay valid only until emit returns. */
typedef int (*seg_emit_fn)(const struct seg_span *span, void *ud);

/* Detects the format from a file name (may be NULL) and the first bytes:
 * the extension wins (.srt .vtt .md .markdown .mdown .mkd .txt), then the
 * content (a WEBVTT header, an SRT cue, Markdown headings or fences).
 * Never returns SEG_AUTO; plain text is the fallback. */
enum seg_format seg_detect(const char *name, const char *doc, size_t len);

/* The format called name in --format ("text", "markdown", "srt", "vtt"),
 * or SEG_AUTO for any other name. */
enum seg_format seg_format_named(const char *name);

/* Whether doc[0..len) is of a type segment cannot read: 1 with a
 * description in why ("a PDF document", "binary data (NUL byte at byte
 * 5)"), else 0. Looks at magic numbers and for a NUL in the first 8 KiB. */
int seg_unsupported(const char *doc, size_t len, char *why, size_t whylen);

/* Splits doc[0..len) and calls emit per segment. Returns 0 (also when emit
 * asked to stop), or -1 with a message in err (e.g. "invalid UTF-8 at byte
 * 1234", "NUL byte at byte 7", "bad SRT timestamp at line 12") and no
 * segment emitted at all: the document is checked before the first emit.
 * A target or max of 0 takes the other's value; both 0 is an error.
 * A target above max is lowered to max. */
int seg_split(const char *doc, size_t len, const struct seg_opts *o,
	      seg_emit_fn emit, void *ud, char *err, size_t errlen);

#endif
