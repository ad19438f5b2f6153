/* segment_convert: documents that are not text (HTML, PDF, DOCX, ODT)
 * converted to text with their structure. A converter appends visible
 * text block by block (paragraphs, headings, list items, tables) to one
 * UTF-8 text, the extracted text, which segment splits and whose byte
 * offsets the segments' start/end are (`segment --extract` prints it).
 * Blocks are separated by a blank line, so the text reads on its own. */
#ifndef LANES_SEGMENT_CONVERT_H
#define LANES_SEGMENT_CONVERT_H

#include "segment_block.h"
#include "segment_split.h"
#include "util.h"

#include <stddef.h>

/* Bounds on hostile files (tunables segment.max_document, max_pages,
 * max_depth). */
struct seg_caps {
	size_t max_bytes; /* extracted text, and each file inside a ZIP */
	long max_pages;   /* PDF pages */
	int max_depth;    /* element nesting of HTML and XML */
};

/* Why a conversion failed: an errors.segment code ("bad_document",
 * "encrypted", "no_text", "too_big", "unsupported_type") and a message. */
struct seg_fail {
	const char *code;
	char msg[256];
};

struct seg_conv {
	struct buf text;          /* the extracted text */
	struct seg_block *blocks; /* in text order, spans in text */
	size_t n, cap;
	char *title;              /* NULL when the document names none */
	char *lang;               /* a language tag (BCP 47), or NULL */
	long pages;               /* PDF: pages; 0 for the others */

	/* the block being built */
	int open;
	size_t start;             /* where its text starts */
	enum seg_block_kind kind;
	unsigned flags;
	int page;                 /* set by seg_conv_page */
	int space;                /* a space is due before more text */
	int pre;                  /* whitespace kept as it is (code) */
	const struct seg_caps *caps;
	int over;                 /* the text reached caps->max_bytes */
};

/* Converts raw[0..len), of format f (SEG_HTML, SEG_PDF, SEG_DOCX or
 * SEG_ODT), into c (zeroed by the caller; seg_conv_free frees it).
 * Returns 0, or -1 with fail set and c freed. Checks app_aborting()
 * between pages. */
int seg_convert(enum seg_format f, const char *raw, size_t len, const struct seg_caps *caps,
		struct seg_conv *c, struct seg_fail *fail);
void seg_conv_free(struct seg_conv *c);

/* For the converters: */
/* Ends the open block (dropped when it holds no text) and opens one of
 * kind with flags. */
void seg_conv_block(struct seg_conv *c, enum seg_block_kind kind, unsigned flags);
/* Ends the open block. */
void seg_conv_end(struct seg_conv *c);
/* Appends visible text s[0..n) (UTF-8) to the open block, opening a prose
 * block if none is: runs of white space become one space (kept as they
 * are in pre mode), control characters and invalid bytes are dropped. */
void seg_conv_text(struct seg_conv *c, const char *s, size_t n);
/* Appends a line break (or a tab when tab) to the open block. */
void seg_conv_break(struct seg_conv *c, int tab);
/* Blocks from now on are on page (1-based). */
void seg_conv_page(struct seg_conv *c, int page);
/* Sets *field (title, lang) to the text s[0..n), white space collapsed,
 * unless it is set already or the text is blank. */
void seg_conv_field(char **field, const char *s, size_t n);
/* Sets fail and returns -1. */
int seg_conv_fail(struct seg_fail *fail, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The converters (segment_html.c, segment_pdf.c, segment_office.c). */
int seg_html_convert(const char *raw, size_t len, struct seg_conv *c, struct seg_fail *fail);
int seg_pdf_convert(const char *raw, size_t len, struct seg_conv *c, struct seg_fail *fail);
int seg_office_convert(enum seg_format f, const char *raw, size_t len, struct seg_conv *c,
		       struct seg_fail *fail);

#endif
