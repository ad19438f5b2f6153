/* fuzz.h: what the fuzz targets of segment share. fuzz_one() runs one
 * input through detection, conversion (as format f, or detected when f is
 * SEG_AUTO) and splitting, and aborts when a segment breaks a promise of
 * segment(1): empty, over max, starting or ending with a space, or (text
 * formats and converted ones) not the slice [start,end) of its text. The
 * targets build with libFuzzer (`make fuzz`) and, with replay.c, as plain
 * programs that replay the corpus in `make check`. */
#ifndef LANES_FUZZ_H
#define LANES_FUZZ_H

#include "segment_convert.h"
#include "segment_split.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_check {
	const char *text; /* NULL for transcripts: text is not a slice */
	size_t len, max;
};

static int fuzz_emit(const struct seg_span *s, void *ud)
{
	const struct fuzz_check *fc = ud;
	if (!s->text_len || s->start > s->end || (fc->text && s->end > fc->len))
		abort();
	if (fc->text && (s->text_len != s->end - s->start || memcmp(s->text, fc->text + s->start, s->text_len)))
		abort();
	size_t cps = 0;
	for (size_t i = 0; i < s->text_len; i++)
		cps += ((unsigned char)s->text[i] & 0xc0) != 0x80;
	if (cps > fc->max || s->text[0] == ' ' || s->text[s->text_len - 1] == ' ')
		abort();
	return 0;
}

static inline void fuzz_one(enum seg_format f, const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	if (f == SEG_AUTO)
		f = seg_detect(NULL, doc, size);
	struct seg_opts o = {size % 2 ? 40 : 200, size % 2 ? 60 : 300, size % 3 ? 10 : 0, SEG_CHARS, f};
	if (seg_format_converted(f)) {
		struct seg_caps caps = {1 << 24, 200, 256};
		struct seg_conv c = {0};
		struct seg_fail fl;
		if (seg_convert(f, doc, size, &caps, &c, &fl) == 0) {
			const char *t = c.text.p ? c.text.p : "";
			if (utf8_check(t, c.text.len) >= 0 || memchr(t, '\0', c.text.len))
				abort();
			struct fuzz_check fc = {t, c.text.len, o.max};
			seg_split_blocks(t, c.text.len, c.blocks, c.n, &o, fuzz_emit, &fc);
			seg_conv_free(&c);
		} else if (!fl.code || !fl.msg[0]) {
			abort();
		}
		return;
	}
	int transcript = f == SEG_SRT || f == SEG_VTT;
	struct fuzz_check fc = {transcript ? NULL : doc, size, o.max};
	char err[256];
	seg_split(doc, size, &o, fuzz_emit, &fc, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
