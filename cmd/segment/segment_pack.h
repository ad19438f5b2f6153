/* segment_pack: the packer of segment. Readers hand it the pieces of one
 * document in order (sentences, whole blocks, transcript cues); it packs
 * them into segments up to the target, never over the max, carries the
 * overlap, and calls the emit callback once per segment. It holds only the
 * pieces of the segment it is building, so memory follows the segment
 * size, never the document size. The rules are in man/segment.1
 * (SPLITTING RULES: Packing, Overlap). */
#ifndef LANES_SEGMENT_PACK_H
#define LANES_SEGMENT_PACK_H

#include "segment_split.h"
#include "util.h"

#include <stddef.h>

/* SEG_PARA: a paragraph break (blank line, block edge) comes before the
 * piece, a good place to end a segment. SEG_HARD: the piece must start a
 * segment (headings, a new speaker); no overlap is carried across it. */
enum { SEG_PARA = 1, SEG_HARD = 2 };

/* Sizes are differences of "virtual" positions: for documents the text's
 * own byte and code point offsets; for transcripts offsets in the cue
 * texts joined by single spaces, which is what gets emitted. */
struct seg_piece {
	size_t b0, b1;   /* span in the document */
	size_t vb0, vb1; /* virtual byte positions */
	size_t vc0, vc1; /* virtual code point positions (== vb* for tokens) */
	unsigned flags;  /* SEG_PARA, SEG_HARD */
	int page;        /* 1-based page, 0 when the format has none */
	/* transcripts only */
	const char *tx;  /* the piece's own text, until it is queued */
	size_t off;      /* its text in the arena once queued */
	double t0, t1;
	int has_spk;
	size_t spk, spk_len; /* speaker as a slice of the document */
};

struct seg_pack {
	const char *doc; /* the text spans point into */
	size_t len;
	size_t target, max, overlap;
	int tokens;     /* unit is SEG_TOKENS: sizes from bytes alone */
	int transcript; /* pieces carry their own text (tx) */
	int stopped;    /* emit asked to stop: readers should return */
	int page;       /* page of the pieces added now (seg_block_add sets it) */
	seg_emit_fn emit;
	void *ud;

	size_t cur_b, cur_c; /* code point cursor: cur_c code points before cur_b */

	struct seg_piece *q; /* the segment being built */
	size_t n, cap;
	size_t nov;          /* q[0..nov) were emitted already: the overlap */

	struct buf arena; /* texts of the queued transcript pieces */
	struct buf out;   /* the joined transcript text being emitted */
	struct buf spk;   /* the speaker being emitted */
};

/* Sets up p to pack doc[0..len) with the sizes of o (max > 0, target <=
 * max, already checked by the caller); counting starts at byte pos (after
 * a byte order mark). transcript: pieces bring their own text. Cannot fail. */
void seg_pack_init(struct seg_pack *p, const char *doc, size_t len, size_t pos,
		   const struct seg_opts *o, int transcript, seg_emit_fn emit, void *ud);

/* Adds one piece, no bigger than max, emitting segments as they fill. */
void seg_pack_piece(struct seg_pack *p, const struct seg_piece *pc);

/* Adds doc[s..e) as one unit, trimmed, cut into several pieces when bigger
 * than max; flags go to the first piece. Returns 0 when it was blank (and
 * adds nothing), else 1. */
int seg_pack_text(struct seg_pack *p, size_t s, size_t e, unsigned flags);

/* Where to end a piece of d[s..e) (d[s] not blank) so that d[s..cut) fits
 * in max: e when all of it fits, else the last line break in the second
 * half of what fits, else the last whitespace, else the last code point
 * boundary that fits. d may be the document or a transcript cue's text. */
size_t seg_pack_cut(const struct seg_pack *p, const unsigned char *d, size_t s, size_t e);

/* Code point offset of document byte pos (pos itself for tokens). */
size_t seg_pack_cp_at(struct seg_pack *p, size_t pos);

/* Size in the unit of a text of bytes bytes and cps code points. */
size_t seg_pack_size(const struct seg_pack *p, size_t bytes, size_t cps);

/* Emits what is left at the end of the document. */
void seg_pack_finish(struct seg_pack *p);

/* Frees what p holds; p can be initialised again. */
void seg_pack_free(struct seg_pack *p);

#endif
