/* segment_files: documents named on the command line. Each file is read
 * and split in the caller's thread; its segments go to the pool in chunks
 * that workers render, so a big document is written while it is being
 * split and its output never piles up in memory. */
#include "log.h"
#include "segment_out.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_PIECES 256
#define CHUNK_BYTES (1024 * 1024)

/* A document shared by its chunks; freed with the last one. */
struct sdoc {
	char *name;
	char *text;
	size_t len;
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

static void sdoc_release(struct sdoc *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1) {
		free(d->name);
		free(d->text);
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
		seg_render(&r->out, ch->doc->name, strlen(ch->doc->name), p->seq, &p->span, NULL, 0);
		free(p->own_text);
		free(p->own_speaker);
	}
	sdoc_release(ch->doc);
	free(ch->p);
	free(ch);
}

static char *read_stdin(size_t *len, char **err)
{
	struct buf b = {0};
	char tmp[65536];
	for (;;) {
		ssize_t n = read(0, tmp, sizeof tmp);
		if (n > 0) {
			buf_append(&b, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR && !app_stop)
			continue;
		if (n < 0)
			*err = xasprintf("<stdin>: read error: %s", strerror(errno));
		break;
	}
	return buf_steal(&b, len);
}

static void run_one(struct seg_files *sf, struct filter *f, const char *path)
{
	struct sdoc *d = xcalloc(1, sizeof *d);
	atomic_init(&d->refs, 1);
	char *err = NULL;
	if (!strcmp(path, "-")) {
		d->name = xstrdup(sf->cfg->stdin_doc ? sf->cfg->stdin_doc : "stdin");
		d->text = read_stdin(&d->len, &err);
	} else {
		if (sf->cfg->root) {
			d->name = seg_root_id(sf->cfg->root, path);
			if (!d->name) {
				d->name = xstrdup(path);
				err = xasprintf("%s: not under --root %s", path,
						seg_root_dir(sf->cfg->root));
			}
		} else {
			const char *name = path;
			while (name[0] == '.' && name[1] == '/')
				name += 2;
			d->name = xstrdup(name);
		}
		if (!err && !(d->text = read_file(path, &d->len)))
			err = xasprintf("%s: cannot read: %s", path, strerror(errno));
	}
	if (!err && idset_add(&sf->seen, fnv64(FNV64_INIT, d->name, strlen(d->name))))
		err = xasprintf("%s: named twice; segmented once", d->name);
	if (err) {
		log_error("%s", err);
		free(err);
		filter_submit(f, job_of(NULL, REC_FAILED));
		sdoc_release(d);
		return;
	}
	struct seg_opts o = sf->cfg->opts;
	if (o.format == SEG_AUTO)
		o.format = seg_detect(path, d->text, d->len);
	struct file_ctx c = {.f = f, .doc = d};
	char msg[256];
	/* the splitter checks the whole document before its first segment,
	 * so a failure leaves nothing half written */
	if (seg_split(d->text, d->len, &o, on_piece, &c, msg, sizeof msg)) {
		log_error("%s: %s", d->name, msg);
		filter_submit(f, job_of(NULL, REC_FAILED));
	} else if (c.chunk || !c.counted) {
		if (c.chunk)
			submit_chunk(&c);
		else
			filter_submit(f, job_of(NULL, REC_OK)); /* no segment at all */
	}
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
	for (int i = 0; i < n && !app_stop; i++)
		run_one(sf, f, paths[i]);
}

void seg_files_free(struct seg_files *sf)
{
	idset_free(&sf->seen);
	free(sf);
}
