/* segment_ndjson: documents that come as NDJSON lines: checked, split and
 * rendered in a worker; duplicate ids refused by the writer, in order. */
#include "record.h"
#include "segment_out.h"

#include <stdlib.h>
#include <string.h>

/* Fields segment writes itself; the document's own copies are not passed on. */
static const char *const owned[] = {"id", "doc", "seq", "start", "end", "t0", "t1", "speaker"};

struct emit_ctx {
	struct rec *r;
	const char *doc;
	size_t doc_len;
	struct buf extra;
	long seq;
};

static int on_segment(const struct seg_span *s, void *ud)
{
	struct emit_ctx *c = ud;
	seg_render(&c->r->out, c->doc, c->doc_len, c->seq++, s, c->extra.p, c->extra.len);
	return 0;
}

/* HTML in an NDJSON document: converted, then split; the document's own
 * title and lang win over the page's. PDF, DOCX and ODT are binary: they
 * come as files. */
static void split_converted(struct rec *r, const struct seg_cfg *cfg, const struct seg_opts *o,
			    struct emit_ctx *c, const char *text, size_t len)
{
	if (o->format != SEG_HTML) {
		rec_fail(r, "segment", "unsupported_type",
			 "PDF, DOCX and ODT are read from files, not NDJSON text", 1);
		return;
	}
	struct seg_conv conv = {0};
	struct seg_fail fl;
	if (seg_convert(o->format, text, len, &cfg->caps, &conv, &fl)) {
		rec_fail(r, "segment", fl.code, fl.msg, 1);
		return;
	}
	int has_title = record_find(r->line, r->len, "title", NULL, NULL, NULL, NULL);
	int has_lang = record_find(r->line, r->len, "lang", NULL, NULL, NULL, NULL);
	if (cfg->extract) {
		seg_render_extract(&r->out, c->doc, conv.text.p ? conv.text.p : "", conv.text.len,
				   o->format, &conv);
		seg_conv_free(&conv);
		r->outcome = REC_OK;
		return;
	}
	seg_render_fields(&c->extra, &conv, has_title, has_lang);
	seg_split_blocks(conv.text.p ? conv.text.p : "", conv.text.len, conv.blocks, conv.n, o,
			 on_segment, c);
	seg_conv_free(&conv);
	r->outcome = REC_OK;
}

static void split_doc(struct rec *r, const struct seg_cfg *cfg, const char *doc,
		      const char *text, size_t len)
{
	/* the id's hash travels to the writer, which checks for duplicates */
	uint64_t *h = xmalloc(sizeof *h);
	*h = fnv64(FNV64_INIT, doc, strlen(doc));
	r->extra = h;

	struct seg_opts o = cfg->opts;
	if (o.format == SEG_AUTO)
		o.format = seg_detect(NULL, text, len);
	const char *skip[ARRAY_LEN(owned) + 1];
	memcpy(skip, owned, sizeof owned);
	skip[ARRAY_LEN(owned)] = cfg->field;
	struct emit_ctx c = {.r = r, .doc = doc, .doc_len = strlen(doc)};
	record_members_except(&c.extra, r->line, r->len, skip, ARRAY_LEN(skip));
	char err[256];
	if (seg_format_converted(o.format)) {
		split_converted(r, cfg, &o, &c, text, len);
	} else if (cfg->extract) {
		/* the text is its own extracted text (it is valid UTF-8) */
		seg_render_extract(&r->out, doc, text, len, o.format, NULL);
		r->outcome = REC_OK;
	} else if (seg_split(text, len, &o, on_segment, &c, err, sizeof err)) {
		buf_reset(&r->out);
		rec_fail(r, "segment", "bad_document", err, 1);
	} else {
		r->outcome = REC_OK;
	}
	buf_free(&c.extra);
}

void seg_ndjson_work(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct seg_ndjson *sn = ud;
	const struct seg_cfg *cfg = sn->cfg;
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED)
			continue;
		cJSON *id = cJSON_GetObjectItemCaseSensitive(r->json, "id");
		cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, cfg->field);
		if (!cJSON_IsString(id) || !*id->valuestring) {
			rec_fail(r, "segment", "no_id", "document has no \"id\" string", 1);
			continue;
		}
		if (!cJSON_IsString(text)) {
			char msg[128];
			snprintf(msg, sizeof msg, "document has no \"%s\" string", cfg->field);
			rec_fail(r, "segment", "no_text", msg, 1);
			continue;
		}
		/* whole: ndjson_parse refused lines with \u0000 (json.h) */
		split_doc(r, cfg, id->valuestring, text->valuestring, strlen(text->valuestring));
	}
}

void seg_ndjson_emitted(struct rec *r, void *ud)
{
	struct seg_ndjson *sn = ud;
	uint64_t *h = r->extra;
	if (!h)
		return;
	r->extra = NULL;
	if (r->outcome == REC_OK && idset_add(&sn->seen, *h)) {
		buf_reset(&r->out);
		rec_fail(r, "segment", "duplicate_id",
			 "a document with this id came earlier in the input", 1);
	}
	free(h);
}
