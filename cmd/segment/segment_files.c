/* segment_files: documents named on the command line. Each file is read
 * and split in the caller's thread; its segments go to the pool in chunks
 * that workers render, so a big document is written while it is being
 * split and its output never piles up in memory. */
#include "log.h"
#include "ndjson.h"
#include "segment_out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_PIECES 256
#define CHUNK_BYTES (256 * 1024)

/* A document shared by its chunks; freed with the last one. */
struct sdoc {
	char *name;
	char *text;        /* the file, or its extracted text */
	size_t len;
	size_t map_len;    /* text is an mmap of this size; 0: malloc'd */
	struct buf fields; /* members added to each segment (title, lang) */
	atomic_int refs;
};

/* One segment waiting to be rendered. Transcript texts and speakers are
 * copies (the splitter's are temporary); other texts point into the doc. */
struct piece {
	struct seg_span span;
	long seq;
	char *own_text;
	char *own_speaker;
};

struct chunk {
	struct sdoc *doc;
	struct piece *p;
	size_t n;
	size_t bytes;
};

struct seg_files {
	struct seg_cfg *cfg;
	struct idset seen;
};

struct file_ctx {
	struct filter *f;
	struct sdoc *doc;
	struct chunk *chunk;
	long seq;
	int counted; /* a job already counts this document */
};

/* Big files are read into memory of their own backed by huge pages: a
 * 40 MB document costs 20 page faults instead of 10,000 (a third of the
 * time of a run on a VM). Not an mmap of the file itself: a file cut short
 * while it is being split would kill the process with SIGBUS. */
#define BIG_DOC (4u << 20)

static char *text_alloc(size_t n, size_t *map_len)
{
	*map_len = 0;
	if (n < BIG_DOC)
		return xmalloc(n + 1);
	size_t len = (n + 1 + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return xmalloc(n + 1);
	madvise(p, len, MADV_HUGEPAGE);
	*map_len = len;
	return p;
}

static void text_free(struct sdoc *d)
{
	if (d->map_len)
		munmap(d->text, d->map_len);
	else
		free(d->text);
	d->text = NULL;
	d->map_len = 0;
}

static void sdoc_release(struct sdoc *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1) {
		free(d->name);
		text_free(d);
		buf_free(&d->fields);
		free(d);
	}
}

static struct job *job_of(void *extra, enum rec_outcome outcome)
{
	struct job *job = xcalloc(1, sizeof *job);
	job->n = 1;
	job->recs = xcalloc(1, sizeof *job->recs);
	job->recs[0].extra = extra;
	job->recs[0].outcome = outcome;
	return job;
}

static void submit_chunk(struct file_ctx *c)
{
	/* the document counts once: with its first chunk */
	filter_submit(c->f, job_of(c->chunk, c->counted ? REC_NONE : REC_OK));
	c->counted = 1;
	c->chunk = NULL;
}

static int on_piece(const struct seg_span *s, void *ud)
{
	struct file_ctx *c = ud;
	if (!c->chunk) {
		c->chunk = xcalloc(1, sizeof *c->chunk);
		c->chunk->doc = c->doc;
		c->chunk->p = xcalloc(CHUNK_PIECES, sizeof *c->chunk->p);
		atomic_fetch_add(&c->doc->refs, 1);
	}
	struct piece *p = &c->chunk->p[c->chunk->n++];
	p->span = *s;
	p->seq = c->seq++;
	if (s->text != c->doc->text + s->start) {
		p->own_text = xstrndup(s->text, s->text_len);
		p->span.text = p->own_text;
	}
	if (s->speaker) {
		p->own_speaker = xstrndup(s->speaker, s->speaker_len);
		p->span.speaker = p->own_speaker;
	}
	c->chunk->bytes += s->text_len;
	if (c->chunk->n == CHUNK_PIECES || c->chunk->bytes >= CHUNK_BYTES)
		submit_chunk(c);
	return 0;
}

void seg_files_work(struct job *job, int worker, void *ud)
{
	(void)worker;
	(void)ud;
	struct rec *r = &job->recs[0];
	struct chunk *ch = r->extra;
	if (!ch)
		return;
	r->extra = NULL;
	for (size_t i = 0; i < ch->n; i++) {
		struct piece *p = &ch->p[i];
		seg_render(&r->out, ch->doc->name, strlen(ch->doc->name), p->seq, &p->span,
			   ch->doc->fields.p, ch->doc->fields.len);
		free(p->own_text);
		free(p->own_speaker);
	}
	sdoc_release(ch->doc);
	free(ch->p);
	free(ch);
}

/* Fails a document: one record {"id", "doc", "errors": {"segment": ...}}
 * that store keeps, so the failure is never silent; logged as
 * "segment: <where>: <message>". */
static void fail_doc(struct filter *f, const char *where, const char *doc, const char *code,
		     const char *msg)
{
	log_error("%s: %s", where, msg);
	struct buf base = {0};
	size_t n = strlen(doc);
	buf_puts(&base, "{\"id\":");
	buf_json_str(&base, doc, n);
	buf_puts(&base, ",\"doc\":");
	buf_json_str(&base, doc, n);
	buf_putc(&base, '}');
	struct job *job = job_of(NULL, REC_FAILED);
	rec_set_error(&job->recs[0].out, base.p, base.len, "segment", code, msg, 1);
	buf_putc(&job->recs[0].out, '\n');
	buf_free(&base);
	filter_submit(f, job);
}

enum read_status { READ_OK, READ_ERROR, READ_TOO_BIG, READ_STOPPED };

static void buf_free_text(char *p, size_t *map_len)
{
	if (*map_len)
		munmap(p, *map_len);
	else
		free(p);
	*map_len = 0;
}

/* Reads all of fd, at most cap bytes: a bigger file fails without being
 * read (a regular file) or once cap bytes came (a pipe, /dev/zero), so
 * endless input never fills memory. A stop request (SIGINT, SIGTERM, a
 * closed stdout) ends the read at once: the document is abandoned. */
static enum read_status read_doc(int fd, size_t cap, char **text, size_t *len, size_t *map_len)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > cap)
		return READ_TOO_BIG;
	size_t size = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	if (size > cap + 1)
		size = cap + 1;
	*map_len = 0;
	/* a regular file is read into a buffer of its size (+1 to see EOF);
	 * only a file that grows meanwhile, a pipe or a device grow it */
	char *p = S_ISREG(st.st_mode) ? text_alloc(size, map_len) : xmalloc(size + 1);
	size_t n = 0;
	for (;;) {
		if (app_stopping()) {
			buf_free_text(p, map_len);
			return READ_STOPPED;
		}
		if (n == size) {
			if (size > cap) {
				buf_free_text(p, map_len);
				return READ_TOO_BIG;
			}
			size = size > (cap + 1) / 2 ? cap + 1 : 2 * size;
			if (*map_len) {
				/* the file grew while read: on to the heap */
				char *q = xmalloc(size + 1);
				memcpy(q, p, n);
				buf_free_text(p, map_len);
				p = q;
			} else {
				p = xrealloc(p, size + 1);
			}
		}
		ssize_t got = read(fd, p + n, size - n);
		if (got > 0) {
			n += (size_t)got;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int saved = errno;
			buf_free_text(p, map_len);
			errno = saved;
			return READ_ERROR;
		}
		break;
	}
	if (n > cap) {
		buf_free_text(p, map_len);
		return READ_TOO_BIG;
	}
	p[n] = '\0';
	*text = p;
	*len = n;
	return READ_OK;
}

/* The id of the document in file path (- for stdin): relative to the
 * root, else as typed without a leading ./; NULL when it is not under the
 * root. The caller frees it. */
static char *doc_name(const struct seg_cfg *cfg, const char *path)
{
	if (!strcmp(path, "-"))
		return xstrdup(cfg->stdin_doc ? cfg->stdin_doc : "stdin");
	if (cfg->root)
		return seg_root_id(cfg->root, path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return xstrdup(path);
}

/* The start of the ids of the documents under directory path: as
 * seg_root_prefix, or without a root the path as typed (no leading ./, no
 * trailing /; "" for "."). NULL when it is not under the root. */
static char *dir_prefix(const struct seg_cfg *cfg, const char *path)
{
	if (cfg->root)
		return seg_root_prefix(cfg->root, path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '.')
		n = 0;
	return xstrndup(path, n);
}

static void run_one(struct seg_files *sf, struct filter *f, const char *path)
{
	const struct seg_cfg *cfg = sf->cfg;
	struct sdoc *d = xcalloc(1, sizeof *d);
	atomic_init(&d->refs, 1);
	const char *code = NULL;
	char *msg = NULL;
	int fd = 0;
	if (!(d->name = doc_name(cfg, path))) {
		d->name = xstrdup(path);
		code = "not_under_root";
		msg = xasprintf("not under --root %s", seg_root_dir(cfg->root));
	}
	if (!code && idset_add(&sf->seen, fnv64(FNV64_INIT, d->name, strlen(d->name)))) {
		/* the first one was segmented: no error record that store
		 * could take for the document's */
		log_error("%s: named twice; segmented once", d->name);
		filter_submit(f, job_of(NULL, REC_FAILED));
		sdoc_release(d);
		return;
	}
	if (!code && strcmp(path, "-") && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		code = "unreadable";
		msg = xasprintf("cannot read: %s", strerror(errno));
	}
	if (!code) {
		enum read_status rs = read_doc(fd, cfg->max_document, &d->text, &d->len, &d->map_len);
		if (rs == READ_STOPPED) {
			/* interrupted: neither written nor counted; the exit
			 * status says why */
			filter_submit(f, job_of(NULL, REC_NONE));
			if (fd > 0)
				close(fd);
			sdoc_release(d);
			return;
		}
		if (rs == READ_ERROR) {
			code = "unreadable";
			msg = xasprintf("cannot read: %s", strerror(errno));
		} else if (rs == READ_TOO_BIG) {
			code = "too_big";
			msg = xasprintf("larger than segment.max_document (%zu bytes): raise "
					"--max-document or split the file",
					cfg->max_document);
		}
	}
	if (fd > 0)
		close(fd);
	struct seg_opts o = cfg->opts;
	if (!code)
		o.format = o.format == SEG_AUTO ? seg_detect(path, d->text, d->len) : o.format;
	char why[160];
	if (!code && cfg->opts.format == SEG_AUTO &&
	    (code = seg_unsupported(o.format, d->text, d->len, why, sizeof why))) {
		msg = !strcmp(code, "encrypted")
			? xstrdup(why)
			: xasprintf("%s; convert it to text first (see segment(1), FORMATS)", why);
	}
	struct seg_conv conv = {0};
	if (!code && seg_format_converted(o.format)) {
		struct seg_fail fl;
		if (seg_convert(o.format, d->text, d->len, &cfg->caps, &conv, &fl)) {
			if (!strcmp(fl.code, "interrupted")) {
				filter_submit(f, job_of(NULL, REC_NONE));
				sdoc_release(d);
				return;
			}
			code = fl.code;
			msg = xstrdup(fl.msg);
		} else {
			text_free(d);
			d->text = buf_steal(&conv.text, &d->len);
			if (!d->text)
				d->text = xstrdup("");
			seg_render_fields(&d->fields, &conv, 0, 0);
		}
	}
	if (code) {
		fail_doc(f, strcmp(path, "-") ? path : d->name, d->name, code, msg);
		free(msg);
		sdoc_release(d);
		return;
	}
	long bad;
	if (cfg->extract && !seg_format_converted(o.format) &&
	    (bad = utf8_check(d->text, d->len)) >= 0) {
		char m[64];
		snprintf(m, sizeof m, "invalid UTF-8 at byte %ld", bad);
		fail_doc(f, d->name, d->name, "bad_document", m);
		sdoc_release(d);
		return;
	}
	if (cfg->extract) {
		struct job *job = job_of(NULL, REC_OK);
		seg_render_extract(&job->recs[0].out, d->name, d->text, d->len, o.format,
				   seg_format_converted(o.format) ? &conv : NULL);
		filter_submit(f, job);
		seg_conv_free(&conv);
		sdoc_release(d);
		return;
	}
	struct file_ctx c = {.f = f, .doc = d};
	char err[256];
	if (seg_format_converted(o.format)) {
		seg_split_blocks(d->text, d->len, conv.blocks, conv.n, &o, on_piece, &c);
		seg_conv_free(&conv);
	} else if (seg_split(d->text, d->len, &o, on_piece, &c, err, sizeof err)) {
		/* the splitter checks the whole document before its first
		 * segment, so a failure leaves nothing half written */
		fail_doc(f, d->name, d->name, "bad_document", err);
		sdoc_release(d);
		return;
	}
	if (c.chunk)
		submit_chunk(&c);
	else if (!c.counted)
		filter_submit(f, job_of(NULL, REC_OK)); /* no segment at all */
	sdoc_release(d);
}

struct seg_files *seg_files_new(struct seg_cfg *cfg)
{
	struct seg_files *sf = xcalloc(1, sizeof *sf);
	sf->cfg = cfg;
	return sf;
}

void seg_files_run(struct seg_files *sf, struct filter *f, char **paths, int n)
{
	for (int i = 0; i < n && !app_stopping(); i++)
		run_one(sf, f, paths[i]);
}

void seg_files_free(struct seg_files *sf)
{
	idset_free(&sf->seen);
	free(sf);
}

int seg_files_names(const struct seg_cfg *cfg, char **paths, int n)
{
	struct ndjson_writer *w = ndjson_writer_new(1);
	struct buf b = {0};
	int failed = 0;
	for (int i = 0; i < n && !app_stopping(); i++) {
		struct stat st;
		int dir = strcmp(paths[i], "-") && stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode);
		char *name = dir ? dir_prefix(cfg, paths[i]) : doc_name(cfg, paths[i]);
		if (!name) {
			log_error("%s: not under --root %s", paths[i], seg_root_dir(cfg->root));
			failed++;
			continue;
		}
		buf_reset(&b);
		buf_puts(&b, dir ? "{\"dir\":" : "{\"doc\":");
		buf_json_str(&b, name, strlen(name));
		buf_putc(&b, '}');
		free(name);
		if (ndjson_write(w, b.p, b.len))
			break;
	}
	ndjson_flush(w);
	int state = ndjson_writer_state(w);
	int err = ndjson_writer_errno(w);
	ndjson_writer_free(w);
	buf_free(&b);
	if (state < 0) {
		log_error("cannot write to stdout: %s", strerror(err));
		return EXIT_FAILURES;
	}
	if (app_stop > 0)
		return app_stop == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
	return failed ? EXIT_FAILURES : EXIT_DONE;
}
