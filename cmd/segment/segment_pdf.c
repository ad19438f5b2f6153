/* segment_pdf: PDF through poppler's GLib API: the text of each page in
 * reading order (what pdftotext prints by default), one block per page so
 * that every segment knows its pages. An encrypted PDF, a damaged one and
 * one with no text at all (a scan without OCR) fail with their own code. */
#include "segment_convert.h"
#include "app.h"

#include <poppler.h>
#include <string.h>

int seg_pdf_convert(const char *raw, size_t len, struct seg_conv *c, struct seg_fail *fail)
{
	GError *gerr = NULL;
	GBytes *bytes = g_bytes_new_static(raw, len);
	PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
	if (!doc) {
		int rc;
		if (gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
			rc = seg_conv_fail(fail, "encrypted",
					   "encrypted PDF: decrypt it first (e.g. qpdf --decrypt "
					   "--password=... in.pdf out.pdf)");
		else
			rc = seg_conv_fail(fail, "bad_document", "broken PDF: %s",
					   gerr ? gerr->message : "cannot be opened");
		g_clear_error(&gerr);
		g_bytes_unref(bytes);
		return rc;
	}
	int n = poppler_document_get_n_pages(doc);
	int rc = 0;
	if (n > c->caps->max_pages) {
		rc = seg_conv_fail(fail, "too_big", "%d pages, more than segment.max_pages (%ld)", n,
				   c->caps->max_pages);
		n = 0;
	}
	gchar *title = poppler_document_get_title(doc);
	if (title)
		seg_conv_field(&c->title, title, strlen(title));
	g_free(title);
	for (int i = 0; i < n && !c->over; i++) {
		if (app_aborting()) {
			rc = seg_conv_fail(fail, "interrupted", "interrupted");
			break;
		}
		PopplerPage *page = poppler_document_get_page(doc, i);
		if (!page)
			continue;
		gchar *text = poppler_page_get_text(page);
		seg_conv_page(c, i + 1);
		if (text) {
			/* lines are joined by the sentence scanner; a blank
			 * line is a paragraph break */
			seg_conv_block(c, SEG_BLOCK_PROSE, i ? 0 : SEG_PARA);
			c->pre = 1;
			seg_conv_text(c, text, strlen(text));
			c->pre = 0;
			seg_conv_end(c);
		}
		g_free(text);
		g_object_unref(page);
	}
	c->pages = n;
	g_object_unref(doc);
	g_bytes_unref(bytes);
	if (rc == 0 && n > 0 && c->n == 0)
		rc = seg_conv_fail(fail, "no_text",
				   "no text in its %d page%s: a scan without a text layer? run OCR "
				   "first (e.g. ocrmypdf)",
				   n, n == 1 ? "" : "s");
	return rc;
}
