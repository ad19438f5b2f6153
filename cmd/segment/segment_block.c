/* segment_block: turns a reader's blocks into the packer's pieces. */
#include "segment_block.h"
#include "segment_sentence.h"
#include "segment_text.h"

void seg_block_add(struct seg_pack *p, const struct seg_block *b)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	p->page = b->page;
	switch (b->kind) {
	case SEG_BLOCK_PROSE:
		seg_sentence_scan(p, b->start, b->end, b->flags);
		break;
	case SEG_BLOCK_UNIT:
		seg_pack_text(p, b->start, b->end, b->flags);
		break;
	case SEG_BLOCK_ITEM: {
		size_t s = seg_text_skip_ws(d, b->start, b->end);
		size_t e = seg_text_trim_end(d, s, b->end);
		size_t cs = seg_pack_cp_at(p, s);
		if (seg_pack_size(p, e - s, seg_pack_cp_at(p, e) - cs) <= p->max)
			seg_pack_text(p, s, e, b->flags);
		else
			seg_sentence_scan(p, s, e, b->flags);
		break;
	}
	}
}
