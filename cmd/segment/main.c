/* segment: splits documents and transcripts into segments with stable ids.
 * Input: file arguments (one document each, `-` for stdin) or NDJSON
 * documents on stdin. Output: one NDJSON record per segment. */
#include "app.h"
#include "filter.h"
#include "log.h"
#include "record.h"
#include "segment_split.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"Usage: segment [options] [FILE...]\n"
	"Splits documents into segments of whole sentences and writes one JSON\n"
	"record per segment: {id, doc, seq, text, start, end} (+ t0, t1, speaker\n"
	"for transcripts). With FILEs (text, Markdown, SRT, WebVTT; - = stdin as\n"
	"one document) the document id is the file name; without, stdin carries\n"
	"NDJSON documents {\"id\", \"text\", ...} whose other fields are copied to\n"
	"every segment.\n";

enum { OPT_DOC = 1 };

static const struct app_flag flags[] = {
	{"target", 't', 1, "segment.target", 0, "N", "segment size to aim for"},
	{"max", 'm', 1, "segment.max", 0, "N", "hard maximum segment size"},
	{"overlap", 'o', 1, "segment.overlap", 0, "N", "context repeated from the previous segment"},
	{"unit", 'u', 1, "segment.unit", 0, "chars|tokens", "size unit"},
	{"format", 'f', 1, "segment.format", 0, "FMT", "auto, text, markdown, srt or vtt"},
	{"field", 0, 1, "segment.field", 0, "NAME", "NDJSON field holding the text (default text)"},
	{"doc", 0, 1, NULL, OPT_DOC, "ID", "document id for `-` (default: stdin)"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* Hashes of the document ids seen so far (open addressing; 0 = empty), to
 * refuse a second document with the same id: its segment ids would
 * overwrite the first one's in store. 8 bytes per document. */
struct idset {
	uint64_t *slot;
	size_t cap, n;
};

struct seg_cfg {
	struct seg_opts opts;
	const char *field;
	const char *stdin_doc;
	struct idset seen; /* writer thread only */
};

/* Returns 1 if h was already in the set, else adds it and returns 0. */
static int idset_add(struct idset *s, uint64_t h)
{
	if (h == 0)
		h = 1;
	if (2 * (s->n + 1) > s->cap) {
		struct idset t = {xcalloc(s->cap ? 2 * s->cap : 1024, sizeof *t.slot),
				  s->cap ? 2 * s->cap : 1024, 0};
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

/* A document read from a file argument. */
struct filedoc {
	char *name;
	char *text;
	size_t len;
	char *read_error;
};

/* Fields segment writes itself; the document's own copies are not passed on. */
static const char *const owned[] = {"id", "doc", "seq", "start", "end", "t0", "t1", "speaker"};

struct emit_ctx {
	struct rec *r;
	const char *doc;
	size_t doc_len;
	const char *extra;   /* other members of the document, "a":1,"b":2 */
	size_t extra_len;
	long seq;
};

static int on_segment(const struct seg_span *s, void *ud)
{
	struct emit_ctx *c = ud;
	struct buf *o = &c->r->out;
	buf_puts(o, "{\"id\":");
	struct buf id = {0};
	buf_append(&id, c->doc, c->doc_len);
	buf_printf(&id, ":%ld", c->seq);
	buf_json_str(o, id.p, id.len);
	buf_free(&id);
	buf_puts(o, ",\"doc\":");
	buf_json_str(o, c->doc, c->doc_len);
	buf_printf(o, ",\"seq\":%ld,\"text\":", c->seq);
	buf_json_str(o, s->text, s->text_len);
	buf_printf(o, ",\"start\":%zu,\"end\":%zu", s->start, s->end);
	if (s->has_time) {
		buf_printf(o, ",\"t0\":%.3f,\"t1\":%.3f", s->t0, s->t1);
		if (s->speaker) {
			buf_puts(o, ",\"speaker\":");
			buf_json_str(o, s->speaker, s->speaker_len);
		}
	}
	if (c->extra_len) {
		buf_putc(o, ',');
		buf_append(o, c->extra, c->extra_len);
	}
	buf_puts(o, "}\n");
	c->seq++;
	return 0;
}

/* The document's members other than the text and the fields segment owns,
 * as raw JSON text without the braces. */
static void other_members(struct buf *out, const char *line, size_t len, const char *field)
{
	const char *skip[ARRAY_LEN(owned) + 1];
	for (size_t i = 0; i < ARRAY_LEN(owned); i++)
		skip[i] = owned[i];
	skip[ARRAY_LEN(owned)] = field;
	buf_reset(out);
	rec_members_except(out, line, len, skip, ARRAY_LEN(skip));
}

/* The document id's hash travels to the writer in r->extra. */
static void remember_doc(struct rec *r, const char *doc, size_t doc_len)
{
	uint64_t *h = xmalloc(sizeof *h);
	*h = fnv64(FNV64_INIT, doc, doc_len);
	r->extra = h;
}

static void split_one(struct rec *r, struct seg_cfg *cfg, const char *doc, size_t doc_len,
		      const char *text, size_t len, const char *name)
{
	remember_doc(r, doc, doc_len);
	struct seg_opts o = cfg->opts;
	if (o.format == SEG_AUTO)
		o.format = seg_detect(name, text, len);
	struct buf extra = {0};
	if (r->line)
		other_members(&extra, r->line, r->len, cfg->field);
	struct emit_ctx c = {r, doc, doc_len, extra.p, extra.len, 0};
	char err[256];
	if (seg_split(text, len, &o, on_segment, &c, err, sizeof err)) {
		buf_reset(&r->out);
		if (r->line) {
			rec_fail(r, "segment", "bad_document", err, 1);
		} else {
			log_error("%s: %s", name, err);
			r->outcome = REC_FAILED;
		}
	} else {
		r->outcome = REC_OK;
	}
	buf_free(&extra);
}

static void work(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct seg_cfg *cfg = ud;
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED)
			continue;
		struct filedoc *fd = r->extra;
		if (fd) {
			r->extra = NULL;
			if (fd->read_error) {
				log_error("%s", fd->read_error);
				r->outcome = REC_FAILED;
			} else {
				split_one(r, cfg, fd->name, strlen(fd->name), fd->text, fd->len, fd->name);
			}
			free(fd->name);
			free(fd->text);
			free(fd->read_error);
			free(fd);
			continue;
		}
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
		/* cJSON strings end at the first NUL: an escaped \u0000 would
		 * silently cut the text, so it is refused */
		size_t vs, ve;
		if (rec_find(r->line, r->len, cfg->field, NULL, NULL, &vs, &ve) &&
		    memmem(r->line + vs, ve - vs, "\\u0000", 6)) {
			rec_fail(r, "segment", "bad_document", "NUL character (\\u0000) in the text", 1);
			continue;
		}
		split_one(r, cfg, id->valuestring, strlen(id->valuestring), text->valuestring,
			  strlen(text->valuestring), NULL);
	}
}

/* Writer thread: a second document with an id seen before is refused. */
static void emitted(struct rec *r, void *ud)
{
	struct seg_cfg *cfg = ud;
	uint64_t *h = r->extra;
	if (!h)
		return;
	r->extra = NULL;
	if (r->outcome == REC_OK && idset_add(&cfg->seen, *h)) {
		buf_reset(&r->out);
		if (r->line) {
			rec_fail(r, "segment", "duplicate_id",
				 "a document with this id came earlier in the input", 1);
		} else {
			r->outcome = REC_FAILED;
			log_error("document named twice on the command line; segmented once");
		}
	}
	free(h);
}

static int on_flag(int id, const char *arg, void *ud)
{
	struct seg_cfg *cfg = ud;
	if (id == OPT_DOC)
		cfg->stdin_doc = arg;
	return 0;
}

static enum seg_format parse_format(const char *s)
{
	if (!strcmp(s, "text"))
		return SEG_TEXT;
	if (!strcmp(s, "markdown"))
		return SEG_MARKDOWN;
	if (!strcmp(s, "srt"))
		return SEG_SRT;
	if (!strcmp(s, "vtt"))
		return SEG_VTT;
	return SEG_AUTO;
}

static struct filedoc *read_doc(const char *path, const char *stdin_doc)
{
	struct filedoc *fd = xcalloc(1, sizeof *fd);
	if (!strcmp(path, "-")) {
		fd->name = xstrdup(stdin_doc ? stdin_doc : "stdin");
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
				fd->read_error = xasprintf("<stdin>: read error: %s", strerror(errno));
			break;
		}
		fd->text = buf_steal(&b, &fd->len);
		return fd;
	}
	const char *name = path;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	fd->name = xstrdup(name);
	fd->text = read_file(path, &fd->len);
	if (!fd->text)
		fd->read_error = xasprintf("%s: cannot read: %s", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	static const char *const sections[] = {"segment", NULL};
	struct app a;
	struct seg_cfg cfg = {0};
	app_init(&a, "segment", sections, argc, argv, flags, on_flag, &cfg, usage);

	cfg.opts.target = (size_t)tun_int(a.tun, "segment.target");
	cfg.opts.max = (size_t)tun_int(a.tun, "segment.max");
	cfg.opts.overlap = (size_t)tun_int(a.tun, "segment.overlap");
	cfg.opts.unit = strcmp(tun_str(a.tun, "segment.unit"), "tokens") ? SEG_CHARS : SEG_TOKENS;
	cfg.opts.format = parse_format(tun_str(a.tun, "segment.format"));
	cfg.field = tun_str(a.tun, "segment.field");
	if (cfg.opts.target > cfg.opts.max) {
		log_error("target (%zu) is larger than max (%zu): lower --target or raise --max",
			  cfg.opts.target, cfg.opts.max);
		return EXIT_USAGE;
	}
	if (cfg.opts.overlap >= cfg.opts.target) {
		log_error("overlap (%zu) must be smaller than target (%zu)", cfg.opts.overlap,
			  cfg.opts.target);
		return EXIT_USAGE;
	}

	app_size_pool(&a, 0);
	app_log_start(&a, "target=%zu max=%zu overlap=%zu unit=%s format=%s input=%s",
		      cfg.opts.target, cfg.opts.max, cfg.opts.overlap,
		      tun_str(a.tun, "segment.unit"), tun_str(a.tun, "segment.format"),
		      a.nargs ? "files" : "ndjson");
	app_start_reporting(&a);
	struct filter *f = filter_new(&a, 1, work, emitted, NULL, &cfg);
	if (a.nargs == 0) {
		filter_read_fd(f, 0, "<stdin>");
	} else {
		a.total = a.nargs;
		for (int i = 0; i < a.nargs && !app_stop; i++) {
			struct job *job = xcalloc(1, sizeof *job);
			job->n = 1;
			job->recs = xcalloc(1, sizeof *job->recs);
			job->recs[0].extra = read_doc(a.args[i], cfg.stdin_doc);
			filter_submit(f, job);
		}
	}
	int code = filter_finish(f);
	free(cfg.seen.slot);
	return code;
}
