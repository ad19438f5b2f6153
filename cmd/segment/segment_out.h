/* segment_out: turns segments into output records, for documents that come
 * as NDJSON lines (segment_ndjson.c) and as files (segment_files.c). */
#ifndef LANES_SEGMENT_OUT_H
#define LANES_SEGMENT_OUT_H

#include <stdint.h>

#include "app.h"
#include "filter.h"
#include "segment_convert.h"
#include "segment_root.h"
#include "segment_split.h"
#include "util.h"

struct seg_cfg {
	struct seg_opts opts;
	const char *field;     /* NDJSON field holding the text */
	const char *stdin_doc; /* document id of `-` */
	struct seg_root *root; /* --root: ids relative to it; NULL: as typed */
	size_t max_document;   /* largest file read, in bytes */
	struct seg_caps caps;  /* bounds on converted documents */
	int extract;           /* --extract: print the text, do not split */
	int names;             /* --names: print the ids of the files, read nothing */
};

/* Appends one output line {id, doc, seq, text, start, end[, t0, t1,
 * speaker][, page, page_end][, extra]} and its '\n' to o. extra: members
 * to copy, as raw JSON text without braces (may be empty). */
void seg_render(struct buf *o, const char *doc, size_t doc_len, long seq,
		const struct seg_span *s, const char *extra, size_t extra_len);

/* Appends to o the members (raw JSON, without braces, a ',' before each
 * but the first when o is empty) a converted document adds to each of its
 * segments: "title" and "lang" when known. skip_title, skip_lang: the
 * document has its own. */
void seg_render_fields(struct buf *o, const struct seg_conv *c, int skip_title, int skip_lang);

/* Appends the --extract line of a document: {"id", "text", "format"[,
 * "title", "lang", "pages"]} and '\n'. c: NULL for a text format. */
void seg_render_extract(struct buf *o, const char *doc, const char *text, size_t len,
			enum seg_format f, const struct seg_conv *c);

/* Hashes of the document ids seen so far, to refuse a second document with
 * the same id (its segment ids would overwrite the first one's in store):
 * 8 bytes per document. */
struct idset {
	uint64_t *slot; /* open addressing; 0 = empty */
	size_t cap, n;
};
/* Returns 1 if h was in the set, else adds it and returns 0. */
int idset_add(struct idset *s, uint64_t h);
void idset_free(struct idset *s);

/* NDJSON documents on stdin: the filter's worker and writer hooks.
 * ud is a struct seg_ndjson. */
struct seg_ndjson {
	struct seg_cfg *cfg;
	struct idset seen; /* writer thread only */
};
void seg_ndjson_work(struct job *job, int worker, void *ud);
void seg_ndjson_emitted(struct rec *r, void *ud);

/* File arguments: each file is split in the caller's thread and its
 * segments go to the pool in chunks, so output is written while a big
 * document is still being split and memory stays bounded by the document
 * plus the chunks in flight. Returns the number of files that failed. */
struct seg_files;
struct seg_files *seg_files_new(struct seg_cfg *cfg);
void seg_files_work(struct job *job, int worker, void *ud);
void seg_files_run(struct seg_files *sf, struct filter *f, char **paths, int n);
void seg_files_free(struct seg_files *sf);

/* --names: writes the document id of each of the n paths, {"doc": ID},
 * or for a directory the start of its documents' ids, {"dir": PREFIX},
 * without reading them. Returns the exit status: EXIT_FAILURES when a
 * path is not under the root (said on stderr) or stdout failed. */
int seg_files_names(const struct seg_cfg *cfg, char **paths, int n);

#endif
