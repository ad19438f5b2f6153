/* segment_out: output records of segments, and the set of document ids. */
#include "segment_out.h"

#include <stdlib.h>
#include <string.h>

void seg_render(struct buf *o, const char *doc, size_t doc_len, long seq,
		const struct seg_span *s, const char *extra, size_t extra_len)
{
	buf_reserve(o, s->text_len + 2 * doc_len + extra_len + 128);
	buf_puts(o, "{\"id\":");
	/* "<doc>:<seq>": the escaped doc with the seq before its closing quote */
	buf_json_str(o, doc, doc_len);
	o->len--;
	buf_printf(o, ":%ld\",\"doc\":", seq);
	buf_json_str(o, doc, doc_len);
	buf_printf(o, ",\"seq\":%ld,\"text\":", seq);
	buf_json_str(o, s->text, s->text_len);
	buf_printf(o, ",\"start\":%zu,\"end\":%zu", s->start, s->end);
	if (s->has_time) {
		buf_printf(o, ",\"t0\":%.3f,\"t1\":%.3f", s->t0, s->t1);
		if (s->speaker) {
			buf_puts(o, ",\"speaker\":");
			buf_json_str(o, s->speaker, s->speaker_len);
		}
	}
	if (s->page)
		buf_printf(o, ",\"page\":%d,\"page_end\":%d", s->page, s->page_end);
	if (extra_len) {
		buf_putc(o, ',');
		buf_append(o, extra, extra_len);
	}
	buf_puts(o, "}\n");
}

void seg_render_fields(struct buf *o, const struct seg_conv *c, int skip_title, int skip_lang)
{
	if (c->title && !skip_title) {
		buf_puts(o, o->len ? ",\"title\":" : "\"title\":");
		buf_json_str(o, c->title, strlen(c->title));
	}
	if (c->lang && !skip_lang) {
		buf_puts(o, o->len ? ",\"lang\":" : "\"lang\":");
		buf_json_str(o, c->lang, strlen(c->lang));
	}
}

void seg_render_extract(struct buf *o, const char *doc, const char *text, size_t len,
			enum seg_format f, const struct seg_conv *c)
{
	buf_puts(o, "{\"id\":");
	buf_json_str(o, doc, strlen(doc));
	buf_puts(o, ",\"text\":");
	buf_json_str(o, text, len);
	buf_printf(o, ",\"format\":\"%s\"", seg_format_name(f));
	if (c) {
		struct buf fields = {0};
		seg_render_fields(&fields, c, 0, 0);
		if (fields.len) {
			buf_putc(o, ',');
			buf_append(o, fields.p, fields.len);
		}
		buf_free(&fields);
		if (c->pages)
			buf_printf(o, ",\"pages\":%ld", c->pages);
	}
	buf_puts(o, "}\n");
}

int idset_add(struct idset *s, uint64_t h)
{
	if (h == 0)
		h = 1;
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct idset t = {xcalloc(cap, sizeof *t.slot), cap, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				idset_add(&t, s->slot[i]);
		free(s->slot);
		*s = t;
	}
	size_t i = (size_t)(h % s->cap);
	while (s->slot[i]) {
		if (s->slot[i] == h)
			return 1;
		i = (i + 1) % s->cap;
	}
	s->slot[i] = h;
	s->n++;
	return 0;
}

void idset_free(struct idset *s)
{
	free(s->slot);
	memset(s, 0, sizeof *s);
}
