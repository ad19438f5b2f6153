/* segment_split: the entry of segment's splitting. It checks a document,
 * picks its reader (detected by segment_detect.c, or forced), sets up the
 * packer and runs the reader. Each reader lives in its own file and plugs
 * in here with one table row: plain text (segment_sentence.c), Markdown
 * (segment_markdown.c), SRT and WebVTT (segment_cue.c). */
#include "segment_split.h"
#include "segment_block.h"
#include "segment_cue.h"
#include "segment_markdown.h"
#include "segment_text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int read_text(struct seg_pack *p, size_t pos, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct seg_block b = {pos, p->len, SEG_BLOCK_PROSE, 0, 0};
	seg_block_add(p, &b);
	return 0;
}

static int read_markdown(struct seg_pack *p, size_t pos, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	seg_markdown_read(p, pos);
	return 0;
}

static int read_srt(struct seg_pack *p, size_t pos, char *err, size_t errlen)
{
	return seg_cue_read(p, pos, 0, err, errlen);
}

static int read_vtt(struct seg_pack *p, size_t pos, char *err, size_t errlen)
{
	return seg_cue_read(p, pos, 1, err, errlen);
}

/* A reader: how one format is read. */
struct reader {
	enum seg_format format;
	int transcript;    /* its pieces bring their own text */
	int (*read)(struct seg_pack *p, size_t pos, char *err, size_t errlen);
};

static const struct reader readers[] = {
	{SEG_TEXT, 0, read_text},
	{SEG_MARKDOWN, 0, read_markdown},
	{SEG_SRT, 1, read_srt},
	{SEG_VTT, 1, read_vtt},
};

static const struct reader *reader_of(enum seg_format f)
{
	for (size_t i = 0; i < ARRAY_LEN(readers); i++)
		if (readers[i].format == f)
			return &readers[i];
	return &readers[0];
}

int seg_format_converted(enum seg_format f)
{
	return f == SEG_HTML || f == SEG_PDF || f == SEG_DOCX || f == SEG_ODT;
}

/* The sizes of o made consistent: max > 0 (else target), target <= max. */
static struct seg_opts effective(const struct seg_opts *o)
{
	struct seg_opts eff = *o;
	eff.max = o->max ? o->max : o->target;
	if (eff.max > SIZE_MAX / 8)
		eff.max = SIZE_MAX / 8;
	eff.target = o->target && o->target < eff.max ? o->target : eff.max;
	return eff;
}

void seg_split_blocks(const char *text, size_t len, const struct seg_block *blocks, size_t n,
		      const struct seg_opts *o, seg_emit_fn emit, void *ud)
{
	struct seg_opts eff = effective(o);
	struct seg_pack p;
	seg_pack_init(&p, text, len, 0, &eff, 0, emit, ud);
	for (size_t i = 0; i < n && !p.stopped; i++)
		seg_block_add(&p, &blocks[i]);
	seg_pack_finish(&p);
	seg_pack_free(&p);
}

static int fail(char *err, size_t errlen, const char *what, size_t at)
{
	if (errlen)
		snprintf(err, errlen, "%s %zu", what, at);
	return -1;
}

int seg_split(const char *doc, size_t len, const struct seg_opts *o, seg_emit_fn emit,
	      void *ud, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	const char *nul = len ? memchr(doc, '\0', len) : NULL;
	long bad = utf8_check(doc, nul ? (size_t)(nul - doc) : len);
	if (bad >= 0)
		return fail(err, errlen, "invalid UTF-8 at byte", (size_t)bad);
	if (nul)
		return fail(err, errlen, "NUL byte at byte", (size_t)(nul - doc));
	if (!o->target && !o->max)
		return fail(err, errlen, "target and max are both", 0);
	struct seg_opts eff = effective(o);
	const struct reader *r =
		reader_of(o->format == SEG_AUTO ? seg_detect(NULL, doc, len) : o->format);
	size_t pos = seg_text_bom(doc, len);
	struct seg_pack p;
	seg_pack_init(&p, doc, len, pos, &eff, r->transcript, emit, ud);
	int rc = r->read(&p, pos, err, errlen);
	if (rc == 0)
		seg_pack_finish(&p);
	seg_pack_free(&p);
	return rc;
}
