/* segment_sentence: the sentence scanner of segment (the rules are in
 * man/segment.1, SPLITTING RULES: Sentences). */
#ifndef LANES_SEGMENT_SENTENCE_H
#define LANES_SEGMENT_SENTENCE_H

#include "segment_pack.h"

#include <stddef.h>

/* Splits p's text [a,b) into sentences and paragraphs (a blank line ends
 * one) and adds each to p as a piece; flags go to the first piece, and
 * SEG_PARA to the first one after each blank line. Cannot fail. */
void seg_sentence_scan(struct seg_pack *p, size_t a, size_t b, unsigned flags);

#endif
