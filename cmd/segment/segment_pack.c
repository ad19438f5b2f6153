/* segment_pack: packs the pieces readers hand in into segments (greedy up
 * to the target, ending at paragraph breaks when that leaves no tiny
 * fragment), cuts what is bigger than max, carries the overlap. */
#include "segment_pack.h"
#include "segment_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void seg_pack_init(struct seg_pack *p, const char *doc, size_t len, size_t pos,
		   const struct seg_opts *o, int transcript, seg_emit_fn emit, void *ud)
{
	memset(p, 0, sizeof *p);
	p->doc = doc;
	p->len = len;
	p->max = o->max;
	p->target = o->target;
	p->overlap = o->overlap;
	p->tokens = o->unit == SEG_TOKENS;
	p->transcript = transcript;
	p->emit = emit;
	p->ud = ud;
	p->cur_b = p->cur_c = pos;
}

void seg_pack_free(struct seg_pack *p)
{
	free(p->q);
	buf_free(&p->arena);
	buf_free(&p->out);
	buf_free(&p->spk);
	p->q = NULL;
	p->n = p->cap = p->nov = 0;
}

/* Pieces come in document order, so the cursor mostly moves forward and
 * the whole document is counted about once. */
size_t seg_pack_cp_at(struct seg_pack *p, size_t pos)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	if (p->tokens)
		return pos;
	if (pos >= p->cur_b)
		p->cur_c += seg_text_cp_count(d + p->cur_b, pos - p->cur_b);
	else
		p->cur_c -= seg_text_cp_count(d + pos, p->cur_b - pos);
	p->cur_b = pos;
	return p->cur_c;
}

size_t seg_pack_size(const struct seg_pack *p, size_t bytes, size_t cps)
{
	return p->tokens ? bytes / 4 + (bytes % 4 != 0) : cps;
}

static size_t span_size(const struct seg_pack *p, const struct seg_piece *a,
			const struct seg_piece *z)
{
	return seg_pack_size(p, z->vb1 - a->vb0, z->vc1 - a->vc0);
}

size_t seg_pack_cut(const struct seg_pack *p, const unsigned char *d, size_t s, size_t e)
{
	size_t lim;
	if (p->tokens) {
		if (e - s <= 4 * p->max)
			return e;
		lim = s + 4 * p->max;
		while ((d[lim] & 0xc0) == 0x80)
			lim--;
	} else {
		if (e - s <= p->max) /* bytes >= code points */
			return e;
		size_t k = 0;
		lim = s;
		while (lim < e && k < p->max)
			lim += seg_text_cp_len(d[lim]), k++;
		if (lim >= e)
			return e;
	}
	/* a line break in the second half keeps code, tables and verse whole */
	size_t half = s + (lim - s) / 2;
	for (size_t x = lim + 1; x > half; x--)
		if (d[x - 1] == '\n')
			return x - 1;
	if (seg_text_ws_len(d, lim, e))
		return lim;
	for (size_t x = lim - 1; x > s; x--)
		if (seg_text_ws_len(d, x, e))
			return x;
	return lim;
}

static void emit_segment(struct seg_pack *p, size_t k)
{
	const struct seg_piece *a = &p->q[0], *z = &p->q[k - 1];
	struct seg_span sp = {0};
	sp.start = a->b0;
	sp.end = z->b1;
	sp.page = a->page;
	sp.page_end = z->page;
	if (!p->transcript) {
		sp.text = p->doc + a->b0;
		sp.text_len = z->b1 - a->b0;
	} else {
		buf_reset(&p->out);
		for (size_t i = 0; i < k; i++) {
			if (i)
				buf_putc(&p->out, ' ');
			buf_append(&p->out, p->arena.p + p->q[i].off, p->q[i].vb1 - p->q[i].vb0);
		}
		sp.text = p->out.p;
		sp.text_len = p->out.len;
		/* cues may overlap in time: the span is the true one, from the
		 * earliest start to the latest end */
		sp.has_time = 1;
		sp.t0 = a->t0;
		sp.t1 = z->t1;
		for (size_t i = 0; i < k; i++) {
			if (p->q[i].t0 < sp.t0)
				sp.t0 = p->q[i].t0;
			if (p->q[i].t1 > sp.t1)
				sp.t1 = p->q[i].t1;
		}
		if (a->has_spk) {
			buf_reset(&p->spk);
			buf_append(&p->spk, p->doc + a->spk, a->spk_len);
			sp.speaker = p->spk.p;
			sp.speaker_len = a->spk_len;
		}
	}
	if (p->emit(&sp, p->ud))
		p->stopped = 1;
}

static void q_push(struct seg_pack *p, const struct seg_piece *pc)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->q = xrealloc(p->q, p->cap * sizeof *p->q);
	}
	struct seg_piece *dst = &p->q[p->n++];
	*dst = *pc;
	if (p->transcript) {
		dst->off = p->arena.len;
		buf_append(&p->arena, pc->tx, pc->vb1 - pc->vb0);
		dst->tx = NULL;
	}
}

/* Removes q[0..k); the arena keeps only the texts still queued. */
static void q_drop(struct seg_pack *p, size_t k)
{
	if (!k)
		return;
	memmove(p->q, p->q + k, (p->n - k) * sizeof *p->q);
	p->n -= k;
	p->nov = p->nov > k ? p->nov - k : 0;
	if (!p->transcript)
		return;
	size_t base = p->n ? p->q[0].off : p->arena.len;
	memmove(p->arena.p, p->arena.p + base, p->arena.len - base);
	p->arena.len -= base;
	for (size_t i = 0; i < p->n; i++)
		p->q[i].off -= base;
}

/* The overlap when no whole sentence fits in it: the longest tail of pc
 * within the overlap size that starts a word, or, when that tail holds no
 * whitespace at all (CJK, a huge token), the longest tail that fits.
 * Returns 0 when even that is the whole piece or nothing. */
static int tail_piece(struct seg_pack *p, const struct seg_piece *pc, struct seg_piece *out)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	size_t x = pc->b1, cps = 0, word = 0, word_c = 0, last = 0, last_c = 0;
	int saw_ws = 0;
	/* walks back code point by code point; pc->b0 itself is never a start */
	while (x > pc->b0) {
		size_t y = x - 1;
		if (d[y] >= 0x80)
			while ((d[y] & 0xc0) == 0x80)
				y--;
		int ws = d[y] < 0x80 ? seg_text_is_space(d[y]) : seg_text_ws_len(d, y, pc->b1) != 0;
		if (ws && last == x)
			word = x, word_c = cps;
		if (y == pc->b0 || seg_pack_size(p, pc->b1 - y, cps + 1) > p->overlap)
			break;
		saw_ws |= ws;
		x = y;
		cps++;
		if (!ws)
			last = x, last_c = cps;
	}
	if (word)
		x = word, cps = word_c;
	else if (last && !saw_ws)
		x = last, cps = last_c;
	else
		return 0;
	*out = *pc;
	out->b0 = out->vb0 = x;
	out->vc0 = p->tokens ? x : pc->vc1 - cps;
	out->flags = 0;
	return 1;
}

/* Emits q[0..k) and keeps for the next segment the overlap (when keep)
 * followed by the pieces after k. */
static void flush(struct seg_pack *p, size_t k, int keep)
{
	emit_segment(p, k);
	size_t j = k;
	struct seg_piece part;
	int have_part = 0;
	if (keep && p->overlap && !p->stopped) {
		/* q[0] stays out so a segment is never wholly repeated */
		while (j > 1 && span_size(p, &p->q[j - 1], &p->q[k - 1]) <= p->overlap)
			j--;
		if (j == k && !p->transcript)
			have_part = tail_piece(p, &p->q[k - 1], &part);
	}
	q_drop(p, j);
	p->nov = k - j;
	if (have_part) {
		q_push(p, &part);
		memmove(p->q + 1, p->q, (p->n - 1) * sizeof *p->q);
		p->q[0] = part;
		p->nov = 1;
	}
}

/* Greedy up to target; when the next piece does not fit, the segment ends
 * at its last paragraph break if what comes before that break is at least
 * half the target, so segments end with paragraphs rather than
 * mid-paragraph, without leaving tiny fragments. */
void seg_pack_piece(struct seg_pack *p, const struct seg_piece *pc)
{
	if (p->stopped)
		return;
	if (pc->flags & SEG_HARD) {
		if (p->n > p->nov)
			flush(p, p->n, 0);
		q_drop(p, p->n);
		if (p->stopped)
			return;
	}
	for (;;) {
		if (p->n == p->nov) {
			/* only overlap so far: pc goes in, overlap gives way to max */
			size_t k = 0;
			while (k < p->n && span_size(p, &p->q[k], pc) > p->max)
				k++;
			q_drop(p, k);
			q_push(p, pc);
			return;
		}
		if (span_size(p, &p->q[0], pc) <= p->target) {
			q_push(p, pc);
			return;
		}
		size_t k = p->n;
		if (!(pc->flags & SEG_PARA)) {
			for (size_t i = p->n - 1; i > p->nov; i--) {
				if (!(p->q[i].flags & SEG_PARA))
					continue;
				if (2 * span_size(p, &p->q[0], &p->q[i - 1]) >= p->target)
					k = i;
				break;
			}
		}
		flush(p, k, 1);
		if (p->stopped)
			return;
	}
}

void seg_pack_finish(struct seg_pack *p)
{
	if (!p->stopped && p->n > p->nov)
		flush(p, p->n, 0);
	q_drop(p, p->n);
}

int seg_pack_text(struct seg_pack *p, size_t s, size_t e, unsigned flags)
{
	const unsigned char *d = (const unsigned char *)p->doc;
	s = seg_text_skip_ws(d, s, e);
	e = seg_text_trim_end(d, s, e);
	if (s >= e)
		return 0;
	while (s < e && !p->stopped) {
		size_t cut = seg_pack_cut(p, d, s, e);
		size_t ce = seg_text_trim_end(d, s, cut);
		struct seg_piece pc = {0};
		pc.b0 = pc.vb0 = s;
		pc.b1 = pc.vb1 = ce;
		pc.vc0 = seg_pack_cp_at(p, s);
		pc.vc1 = seg_pack_cp_at(p, ce);
		pc.flags = flags;
		pc.page = p->page;
		flags = 0;
		seg_pack_piece(p, &pc);
		s = seg_text_skip_ws(d, cut, e);
	}
	return 1;
}
