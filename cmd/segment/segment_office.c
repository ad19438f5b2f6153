/* segment_office: DOCX (Office Open XML) and ODT (OpenDocument Text): the
 * document's XML is read out of the ZIP with libzip and streamed through
 * libxml2's reader, never held whole, with every part capped (zip bombs)
 * and the nesting bounded. Paragraphs, headings (by style or outline
 * level), list items and tables become blocks; the core properties give
 * the title and lang fields. Tracked deletions, field codes, comments and
 * notes are not body text and are left out. */
#include "segment_convert.h"

#include <libxml/xmlreader.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

/* One part of the ZIP, read through a byte cap. */
struct part {
	zip_file_t *zf;
	size_t got, cap;
	int over, bad;
};

static int part_read(void *ud, char *buf, int len)
{
	struct part *p = ud;
	zip_int64_t n = zip_fread(p->zf, buf, (zip_uint64_t)len);
	if (n < 0) {
		p->bad = 1;
		return -1;
	}
	p->got += (size_t)n;
	if (p->got > p->cap) {
		p->over = 1;
		return -1;
	}
	return (int)n;
}

static int part_close(void *ud)
{
	(void)ud;
	return 0;
}

/* The reader of the part called name; NULL with fail set when the part is
 * missing (and required), encrypted or broken. */
static xmlTextReaderPtr open_part(zip_t *za, const char *name, struct part *p,
				  const struct seg_caps *caps, int required, struct seg_fail *fail)
{
	memset(p, 0, sizeof *p);
	zip_int64_t i = zip_name_locate(za, name, 0);
	if (i < 0) {
		if (required)
			seg_conv_fail(fail, "bad_document", "broken document: no %s in the ZIP", name);
		return NULL;
	}
	p->zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
	if (!p->zf) {
		int ze = zip_error_code_zip(zip_get_error(za));
		if (ze == ZIP_ER_NOPASSWD || ze == ZIP_ER_ENCRNOTSUPP || ze == ZIP_ER_WRONGPASSWD)
			seg_conv_fail(fail, "encrypted", "encrypted document: save it without a password");
		else
			seg_conv_fail(fail, "bad_document", "broken document: %s: %s", name,
				      zip_error_strerror(zip_get_error(za)));
		return NULL;
	}
	p->cap = caps->max_bytes;
	xmlTextReaderPtr r = xmlReaderForIO(part_read, part_close, p, name, NULL,
					    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!r) {
		zip_fclose(p->zf);
		seg_conv_fail(fail, "bad_document", "broken document: %s", name);
	}
	return r;
}

/* Reads to the end of the part; 0, or -1 with fail set. */
static int close_part(xmlTextReaderPtr r, struct part *p, int rc, const char *name,
		      const struct seg_caps *caps, struct seg_fail *fail)
{
	xmlFreeTextReader(r);
	zip_fclose(p->zf);
	if (p->over)
		return seg_conv_fail(fail, "too_big",
				     "%s unzips to more than segment.max_document (%zu bytes)", name,
				     caps->max_bytes);
	if (rc < 0 || p->bad)
		return seg_conv_fail(fail, "bad_document", "broken document: bad XML in %s", name);
	return 0;
}

static int is(xmlTextReaderPtr r, const char *local)
{
	return !strcmp((const char *)xmlTextReaderConstLocalName(r), local);
}

static char *attr_of(xmlTextReaderPtr r, const char *local)
{
	/* both formats qualify their attributes (w:val, text:outline-level) */
	for (int ok = xmlTextReaderMoveToFirstAttribute(r); ok == 1;
	     ok = xmlTextReaderMoveToNextAttribute(r))
		if (is(r, local)) {
			char *v = (char *)xmlTextReaderValue(r);
			xmlTextReaderMoveToElement(r);
			return v;
		}
	xmlTextReaderMoveToElement(r);
	return NULL;
}

/* The text of a paragraph, collected until its end decides its kind: runs
 * of text with '\n' and '\t' standing for line breaks and tabs. */
static void flush_para(struct seg_conv *c, struct buf *para)
{
	size_t s = 0;
	for (size_t i = 0; i <= para->len; i++) {
		if (i < para->len && para->p[i] != '\n' && para->p[i] != '\t')
			continue;
		seg_conv_text(c, para->p + s, i - s);
		if (i < para->len)
			seg_conv_break(c, para->p[i] == '\t');
		s = i + 1;
	}
	buf_reset(para);
}

/* Style ids that are headings, from styles.xml: a "heading N", "Title" or
 * "Subtitle" name, or an outline level. Space-separated, with spaces
 * around. */
static void docx_styles(zip_t *za, const struct seg_caps *caps, struct buf *heads)
{
	struct part p;
	struct seg_fail ignore;
	buf_puts(heads, " ");
	xmlTextReaderPtr r = open_part(za, "word/styles.xml", &p, caps, 0, &ignore);
	if (!r)
		return;
	char *id = NULL;
	int rc;
	while ((rc = xmlTextReaderRead(r)) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
			continue;
		if (is(r, "style")) {
			free(id);
			id = attr_of(r, "styleId");
		} else if (id && (is(r, "name") || is(r, "outlineLvl"))) {
			char *v = attr_of(r, "val");
			if (v && (is(r, "outlineLvl") || !strncasecmp(v, "heading ", 8) ||
				  !strcasecmp(v, "title") || !strcasecmp(v, "subtitle"))) {
				buf_puts(heads, id);
				buf_puts(heads, " ");
				free(id);
				id = NULL;
			}
			xmlFree(v);
		}
	}
	free(id);
	close_part(r, &p, rc, "word/styles.xml", caps, &ignore);
}

static int docx_body(zip_t *za, struct seg_conv *c, struct seg_fail *fail)
{
	const struct seg_caps *caps = c->caps;
	struct buf heads = {0}, para = {0};
	docx_styles(za, caps, &heads);
	struct part p;
	xmlTextReaderPtr r = open_part(za, "word/document.xml", &p, caps, 1, fail);
	if (!r) {
		buf_free(&heads);
		return -1;
	}
	int rc, table = 0, rows = 0, cells = 0, paras_in_cell = 0, items = 0;
	int heading = 0, item = 0, skip = 0;
	while ((rc = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		int depth = xmlTextReaderDepth(r);
		if (depth > caps->max_depth) {
			rc = -2;
			break;
		}
		if (skip) {
			if (type == XML_READER_TYPE_END_ELEMENT && depth == skip - 1)
				skip = 0;
			continue;
		}
		if (type == XML_READER_TYPE_ELEMENT) {
			int empty = xmlTextReaderIsEmptyElement(r);
			/* deleted text, field codes, comments, notes */
			if ((is(r, "del") || is(r, "moveFrom") || is(r, "instrText") ||
			     is(r, "delText") || is(r, "Fallback") || is(r, "commentReference") ||
			     is(r, "footnoteReference")) && !empty) {
				skip = depth + 1;
			} else if (empty && (is(r, "tbl") || is(r, "tr") || is(r, "tc") || is(r, "p"))) {
				continue; /* no end element follows */
			} else if (is(r, "tbl")) {
				if (!table++) {
					seg_conv_block(c, SEG_BLOCK_UNIT, SEG_PARA);
					rows = 0;
				}
				items = 0;
			} else if (is(r, "tr") && table == 1) {
				if (rows++)
					seg_conv_break(c, 0);
				cells = 0;
			} else if (is(r, "tc") && table == 1) {
				if (cells++)
					seg_conv_text(c, " | ", 3);
				paras_in_cell = 0;
			} else if (is(r, "p")) {
				heading = item = 0;
				buf_reset(&para);
			} else if (is(r, "pStyle")) {
				char *v = attr_of(r, "val");
				if (v) {
					char key[160];
					snprintf(key, sizeof key, " %s ", v);
					heading = strstr(heads.p, key) ||
						  (!strncasecmp(v, "heading", 7) && v[7] >= '1' && v[7] <= '9') ||
						  !strcasecmp(v, "title");
				}
				xmlFree(v);
			} else if (is(r, "outlineLvl")) {
				heading = 1;
			} else if (is(r, "numPr")) {
				item = 1;
			} else if (is(r, "t")) {
				/* text comes as the next node */
			} else if (is(r, "tab")) {
				buf_putc(&para, '\t');
			} else if (is(r, "br") || is(r, "cr")) {
				buf_putc(&para, '\n');
			} else if (is(r, "noBreakHyphen")) {
				buf_putc(&para, '-');
			}
		} else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			if (v && para.len < caps->max_bytes)
				buf_puts(&para, v);
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			if (is(r, "tbl") && table && !--table) {
				seg_conv_end(c);
			} else if (is(r, "p")) {
				if (table) {
					if (paras_in_cell++)
						seg_conv_text(c, " ", 1);
				} else if (heading) {
					seg_conv_block(c, SEG_BLOCK_UNIT, SEG_HARD | SEG_PARA);
					items = 0;
				} else if (item) {
					seg_conv_block(c, SEG_BLOCK_ITEM, items++ ? 0 : SEG_PARA);
				} else {
					seg_conv_block(c, SEG_BLOCK_PROSE, SEG_PARA);
					items = 0;
				}
				flush_para(c, &para);
				if (!table)
					seg_conv_end(c);
			}
		}
		if (c->over)
			break;
	}
	buf_free(&heads);
	buf_free(&para);
	if (rc == -2) {
		close_part(r, &p, 0, "word/document.xml", caps, fail);
		return seg_conv_fail(fail, "bad_document", "nesting deeper than segment.max_depth (%d)",
				     caps->max_depth);
	}
	return close_part(r, &p, rc, "word/document.xml", caps, fail);
}

static int odt_body(zip_t *za, struct seg_conv *c, struct seg_fail *fail)
{
	const struct seg_caps *caps = c->caps;
	struct part p;
	xmlTextReaderPtr r = open_part(za, "content.xml", &p, caps, 1, fail);
	if (!r)
		return -1;
	int rc, table = 0, rows = 0, cells = 0, paras_in_cell = 0, list = 0, items = 0;
	int skip = 0, in_item = 0, in_body = 0;
	while ((rc = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		int depth = xmlTextReaderDepth(r);
		if (depth > caps->max_depth) {
			rc = -2;
			break;
		}
		if (skip) {
			if (type == XML_READER_TYPE_END_ELEMENT && depth == skip - 1)
				skip = 0;
			continue;
		}
		if (type == XML_READER_TYPE_ELEMENT) {
			int empty = xmlTextReaderIsEmptyElement(r);
			if (is(r, "body")) {
				in_body = 1;
			} else if (!in_body) {
				continue;
			} else if ((is(r, "note") || is(r, "annotation") || is(r, "tracked-changes") ||
				    is(r, "sequence-decls")) && !empty) {
				skip = depth + 1;
			} else if (empty && (is(r, "table") || is(r, "table-row") || is(r, "list") ||
					     is(r, "list-item") || is(r, "h") || is(r, "p"))) {
				continue; /* no end element follows */
			} else if (is(r, "table")) {
				if (!table++) {
					seg_conv_block(c, SEG_BLOCK_UNIT, SEG_PARA);
					rows = 0;
				}
			} else if (is(r, "table-row") && table == 1) {
				if (rows++)
					seg_conv_break(c, 0);
				cells = 0;
			} else if (is(r, "table-cell") && table == 1) {
				if (cells++)
					seg_conv_text(c, " | ", 3);
				paras_in_cell = 0;
			} else if (is(r, "list")) {
				if (!list++)
					items = 0;
			} else if (is(r, "list-item") && !table) {
				seg_conv_block(c, SEG_BLOCK_ITEM, items++ ? 0 : SEG_PARA);
				in_item++;
			} else if ((is(r, "h") || is(r, "p")) && !table && !in_item) {
				if (is(r, "h"))
					seg_conv_block(c, SEG_BLOCK_UNIT, SEG_HARD | SEG_PARA);
				else
					seg_conv_block(c, SEG_BLOCK_PROSE, SEG_PARA);
				if (!list)
					items = 0;
			} else if ((is(r, "h") || is(r, "p")) && (table || in_item)) {
				if (table && paras_in_cell++)
					seg_conv_text(c, " ", 1);
				else if (!table && c->text.len > c->start)
					seg_conv_break(c, 0);
			} else if (is(r, "s")) {
				char *n = attr_of(r, "c");
				long k = n ? strtol(n, NULL, 10) : 1;
				xmlFree(n);
				for (long i = 0; i < k && i < 64; i++)
					seg_conv_text(c, "\xc2\xa0", 2);
			} else if (is(r, "tab")) {
				seg_conv_break(c, 1);
			} else if (is(r, "line-break")) {
				seg_conv_break(c, 0);
			}
		} else if ((type == XML_READER_TYPE_TEXT ||
			    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) && in_body) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			if (v)
				seg_conv_text(c, v, strlen(v));
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			if (is(r, "table") && table && !--table) {
				seg_conv_end(c);
			} else if (is(r, "list") && list) {
				list--;
			} else if (is(r, "list-item") && !table && in_item) {
				in_item--;
				seg_conv_end(c);
			} else if ((is(r, "h") || is(r, "p")) && !table && !in_item) {
				seg_conv_end(c);
			}
		}
		if (c->over)
			break;
	}
	if (rc == -2) {
		close_part(r, &p, 0, "content.xml", caps, fail);
		return seg_conv_fail(fail, "bad_document", "nesting deeper than segment.max_depth (%d)",
				     caps->max_depth);
	}
	return close_part(r, &p, rc, "content.xml", caps, fail);
}

/* dc:title and dc:language of docProps/core.xml (DOCX) or meta.xml (ODT). */
static void properties(zip_t *za, const char *name, struct seg_conv *c)
{
	struct part p;
	struct seg_fail ignore;
	xmlTextReaderPtr r = open_part(za, name, &p, c->caps, 0, &ignore);
	if (!r)
		return;
	char **want = NULL;
	int rc;
	while ((rc = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_ELEMENT)
			want = is(r, "title") ? &c->title : is(r, "language") ? &c->lang : NULL;
		else if (type == XML_READER_TYPE_END_ELEMENT)
			want = NULL;
		else if (type == XML_READER_TYPE_TEXT && want) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			if (v)
				seg_conv_field(want, v, strlen(v));
		}
	}
	close_part(r, &p, rc, name, c->caps, &ignore);
}

/* An ODT whose parts are encrypted says so in its manifest. */
static int odt_encrypted(zip_t *za, const struct seg_caps *caps)
{
	struct part p;
	struct seg_fail ignore;
	xmlTextReaderPtr r = open_part(za, "META-INF/manifest.xml", &p, caps, 0, &ignore);
	if (!r)
		return 0;
	int rc, enc = 0;
	while ((rc = xmlTextReaderRead(r)) == 1)
		if (xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT && is(r, "encryption-data"))
			enc = 1;
	close_part(r, &p, rc, "META-INF/manifest.xml", caps, &ignore);
	return enc;
}

int seg_office_convert(enum seg_format f, const char *raw, size_t len, struct seg_conv *c,
		       struct seg_fail *fail)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(raw, len, 0, &ze);
	zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
	if (!za) {
		int rc = seg_conv_fail(fail, "bad_document", "broken document: not a readable ZIP: %s",
				       zip_error_strerror(&ze));
		if (src)
			zip_source_free(src);
		zip_error_fini(&ze);
		return rc;
	}
	zip_error_fini(&ze);
	int rc;
	if (f == SEG_DOCX) {
		rc = docx_body(za, c, fail);
		if (rc == 0)
			properties(za, "docProps/core.xml", c);
	} else if (odt_encrypted(za, c->caps)) {
		rc = seg_conv_fail(fail, "encrypted", "encrypted document: save it without a password");
	} else {
		rc = odt_body(za, c, fail);
		if (rc == 0)
			properties(za, "meta.xml", c);
	}
	zip_discard(za);
	return rc;
}
