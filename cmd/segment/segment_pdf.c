/* segment_pdf: PDF through poppler's GLib API: the text of each page in
 * reading order (what pdftotext prints by default), one block per page so
 * that every segment knows its pages. An encrypted PDF, a damaged one and
 * one with no text at all (a scan without OCR) fail with their own code.
 * poppler and the libraries it needs cost 11 MB of memory when loaded, so
 * the library is loaded with dlopen(3) at the first PDF, not at start. */
#include "segment_convert.h"
#include "app.h"

#include <dlfcn.h>
#include <poppler.h>
#include <string.h>

#ifndef POPPLER_GLIB_SONAME
#define POPPLER_GLIB_SONAME "libpoppler-glib.so.8"
#endif

/* The functions used, resolved from the library. */
static struct {
	int tried;
	void *lib;
	GBytes *(*bytes_new_static)(gconstpointer, gsize);
	void (*bytes_unref)(GBytes *);
	void (*error_free)(GError *);
	void (*free)(gpointer);
	void (*object_unref)(gpointer);
	GQuark (*error_quark)(void);
	PopplerDocument *(*document_new_from_bytes)(GBytes *, const char *, GError **);
	int (*document_get_n_pages)(PopplerDocument *);
	gchar *(*document_get_title)(PopplerDocument *);
	PopplerPage *(*document_get_page)(PopplerDocument *, int);
	char *(*page_get_text)(PopplerPage *);
} pg;

/* Loads poppler-glib once (segment reads files in one thread); 0 when
 * every function was found. */
static int load(void)
{
	if (pg.tried)
		return pg.lib ? 0 : -1;
	pg.tried = 1;
	void *h = dlopen(POPPLER_GLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
	struct {
		const char *name;
		void **fn;
	} syms[] = {
		{"g_bytes_new_static", (void **)&pg.bytes_new_static},
		{"g_bytes_unref", (void **)&pg.bytes_unref},
		{"g_error_free", (void **)&pg.error_free},
		{"g_free", (void **)&pg.free},
		{"g_object_unref", (void **)&pg.object_unref},
		{"poppler_error_quark", (void **)&pg.error_quark},
		{"poppler_document_new_from_bytes", (void **)&pg.document_new_from_bytes},
		{"poppler_document_get_n_pages", (void **)&pg.document_get_n_pages},
		{"poppler_document_get_title", (void **)&pg.document_get_title},
		{"poppler_document_get_page", (void **)&pg.document_get_page},
		{"poppler_page_get_text", (void **)&pg.page_get_text},
	};
	for (size_t i = 0; i < ARRAY_LEN(syms); i++) {
		/* POSIX: a function pointer converts from dlsym's void * */
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			dlclose(h);
			return -1;
		}
	}
	pg.lib = h;
	return 0;
}

int seg_pdf_convert(const char *raw, size_t len, struct seg_conv *c, struct seg_fail *fail)
{
	if (load() < 0)
		return seg_conv_fail(fail, "unsupported_type",
				     "PDF support unavailable: cannot load %s (apt-get install "
				     "libpoppler-glib8)",
				     POPPLER_GLIB_SONAME);
	GError *gerr = NULL;
	GBytes *bytes = pg.bytes_new_static(raw, len);
	PopplerDocument *doc = pg.document_new_from_bytes(bytes, NULL, &gerr);
	if (!doc) {
		int rc;
		if (gerr && gerr->domain == pg.error_quark() && gerr->code == POPPLER_ERROR_ENCRYPTED)
			rc = seg_conv_fail(fail, "encrypted",
					   "encrypted PDF: decrypt it first (e.g. qpdf --decrypt "
					   "--password=... in.pdf out.pdf)");
		else
			rc = seg_conv_fail(fail, "bad_document", "broken PDF: %s",
					   gerr ? gerr->message : "cannot be opened");
		if (gerr)
			pg.error_free(gerr);
		pg.bytes_unref(bytes);
		return rc;
	}
	int n = pg.document_get_n_pages(doc);
	int rc = 0;
	if (n > c->caps->max_pages) {
		rc = seg_conv_fail(fail, "too_big", "%d pages, more than segment.max_pages (%ld)", n,
				   c->caps->max_pages);
		n = 0;
	}
	gchar *title = pg.document_get_title(doc);
	if (title)
		seg_conv_field(&c->title, title, strlen(title));
	pg.free(title);
	for (int i = 0; i < n && !c->over; i++) {
		if (app_aborting()) {
			rc = seg_conv_fail(fail, "interrupted", "interrupted");
			break;
		}
		PopplerPage *page = pg.document_get_page(doc, i);
		if (!page)
			continue;
		gchar *text = pg.page_get_text(page);
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
		pg.free(text);
		pg.object_unref(page);
	}
	c->pages = n;
	pg.object_unref(doc);
	pg.bytes_unref(bytes);
	if (rc == 0 && n == 0)
		rc = seg_conv_fail(fail, "no_text", "no text: the PDF has no pages");
	else if (rc == 0 && c->n == 0)
		rc = seg_conv_fail(fail, "no_text",
				   "no text in its %d page%s: a scan without a text layer? run OCR "
				   "first (e.g. ocrmypdf)",
				   n, n == 1 ? "" : "s");
	return rc;
}
