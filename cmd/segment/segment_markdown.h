/* segment_markdown: the Markdown reader of segment (the rules are in
 * man/segment.1, SPLITTING RULES: Markdown). */
#ifndef LANES_SEGMENT_MARKDOWN_H
#define LANES_SEGMENT_MARKDOWN_H

#include "segment_pack.h"

#include <stddef.h>

/* Reads p's text from byte pos (after any byte order mark) as Markdown and
 * adds its blocks to p. Cannot fail. */
void seg_markdown_read(struct seg_pack *p, size_t pos);

/* Whether doc[pos..len) looks like Markdown: an ATX heading, a code fence
 * or a "=" setext underline within the first 64 KiB. */
int seg_markdown_sniff(const char *doc, size_t pos, size_t len);

#endif
