/* segment_block: what a document reader hands the packer. A reader finds
 * the blocks of a text (paragraphs, headings, list items, code, tables) and
 * adds them in order with seg_block_add; how each kind is cut into pieces
 * (sentences, or one unit cut only at max) is decided here, once, for
 * every format (plain text, Markdown, and the converted ones). */
#ifndef LANES_SEGMENT_BLOCK_H
#define LANES_SEGMENT_BLOCK_H

#include "segment_pack.h"

#include <stddef.h>

enum seg_block_kind {
	SEG_BLOCK_PROSE, /* sentences: split at sentence ends and blank lines */
	SEG_BLOCK_UNIT,  /* one unit (heading, code, table, front matter): cut
			  * only when bigger than max, preferably at line ends */
	SEG_BLOCK_ITEM,  /* a list item: one unit when it fits in max, else
			  * sentences */
};

struct seg_block {
	size_t start, end; /* byte span in the packer's text */
	enum seg_block_kind kind;
	unsigned flags;    /* SEG_PARA: a paragraph break before it (block
			    * edges, except between the items of a tight
			    * list); SEG_HARD: starts a segment (headings) */
	int page;          /* 1-based page (PDF), 0 when the format has none */
};

/* Adds block b of p's text to p. Cannot fail. */
void seg_block_add(struct seg_pack *p, const struct seg_block *b);

#endif
