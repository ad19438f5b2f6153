/* segment: splits documents and transcripts into segments with stable ids.
 * Input: file arguments (one document each, `-` for stdin) or NDJSON
 * documents on stdin. Output: one NDJSON record per segment. */
#include "app.h"
#include "filter.h"
#include "log.h"
#include "segment_out.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: segment [options] [FILE...]\n"
	"Splits documents into segments of whole sentences and writes one JSON\n"
	"record per segment: {id, doc, seq, text, start, end} (+ t0, t1, speaker\n"
	"for transcripts, page + page_end for PDF). With FILEs (text, Markdown,\n"
	"SRT, WebVTT, HTML, PDF, DOCX, ODT; - = stdin as one document) the\n"
	"document id is the file name; without, stdin carries NDJSON documents\n"
	"{\"id\", \"text\", ...} whose other fields are copied to every segment.\n";

enum { OPT_DOC = 1, OPT_EXTRACT, OPT_NAMES };

static const struct app_flag flags[] = {
	{"target", 't', 1, "segment.target", 0, "N", "segment size to aim for"},
	{"max", 'm', 1, "segment.max", 0, "N", "hard maximum segment size"},
	{"overlap", 'o', 1, "segment.overlap", 0, "N", "context repeated from the previous segment"},
	{"unit", 'u', 1, "segment.unit", 0, "chars|tokens", "size unit"},
	{"format", 'f', 1, "segment.format", 0, "FMT", "auto, text, markdown, srt, vtt, html, pdf, docx or odt"},
	{"field", 0, 1, "segment.field", 0, "NAME", "NDJSON field holding the text (default text)"},
	{"doc", 0, 1, NULL, OPT_DOC, "ID", "document id for `-` (default: stdin)"},
	{"root", 0, 1, "segment.root", 0, "DIR", "file ids relative to DIR, however the path is spelled"},
	{"max-document", 0, 1, "segment.max_document", 0, "BYTES", "largest file read; a bigger one fails"},
	{"max-pages", 0, 1, "segment.max_pages", 0, "N", "most PDF pages read; a longer PDF fails"},
	{"max-depth", 0, 1, "segment.max_depth", 0, "N", "deepest HTML/XML nesting read"},
	{"extract", 0, 0, NULL, OPT_EXTRACT, NULL, "print each document's (extracted) text as NDJSON, do not split"},
	{"names", 0, 0, NULL, OPT_NAMES, NULL, "print each FILE's document id ({\"doc\"}; a DIR: {\"dir\"}, the start of its ids), read nothing"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

static int on_flag(int id, const char *arg, void *ud)
{
	struct seg_cfg *cfg = ud;
	if (id == OPT_DOC)
		cfg->stdin_doc = arg;
	else if (id == OPT_EXTRACT)
		cfg->extract = 1;
	else if (id == OPT_NAMES)
		cfg->names = 1;
	return 0;
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
	cfg.opts.format = seg_format_named(tun_str(a.tun, "segment.format"));
	cfg.field = tun_str(a.tun, "segment.field");
	cfg.max_document = (size_t)tun_int(a.tun, "segment.max_document");
	cfg.caps.max_bytes = cfg.max_document;
	cfg.caps.max_pages = tun_int(a.tun, "segment.max_pages");
	cfg.caps.max_depth = (int)tun_int(a.tun, "segment.max_depth");
	if (cfg.opts.target > cfg.opts.max) {
		log_error("target (%zu) is larger than max (%zu): lower --target or raise --max",
			  cfg.opts.target, cfg.opts.max);
		tun_free(a.tun);
		return EXIT_USAGE;
	}
	if (cfg.opts.overlap >= cfg.opts.target) {
		log_error("overlap (%zu) must be smaller than target (%zu)", cfg.opts.overlap,
			  cfg.opts.target);
		tun_free(a.tun);
		return EXIT_USAGE;
	}

	const char *root = tun_str(a.tun, "segment.root");
	if (*root && a.nargs) {
		char *err = NULL;
		if (!(cfg.root = seg_root_new(root, &err))) {
			log_error("%s", err);
			free(err);
			tun_free(a.tun);
			return EXIT_USAGE;
		}
	}

	if (cfg.names) {
		int code = a.nargs ? seg_files_names(&cfg, a.args, a.nargs) : EXIT_USAGE;
		if (!a.nargs)
			log_error("--names needs FILEs or DIRs");
		seg_root_free(cfg.root);
		tun_free(a.tun);
		return code;
	}

	app_size_pool(&a, 0);
	app_log_start(&a, "target=%zu max=%zu overlap=%zu unit=%s format=%s input=%s",
		      cfg.opts.target, cfg.opts.max, cfg.opts.overlap,
		      tun_str(a.tun, "segment.unit"), tun_str(a.tun, "segment.format"),
		      a.nargs ? "files" : "ndjson");
	app_start_reporting(&a);
	if (a.nargs == 0) {
		struct seg_ndjson sn = {.cfg = &cfg};
		struct filter *f = filter_new(&a, seg_ndjson_work, seg_ndjson_emitted, NULL, &sn);
		filter_read_fd(f, 0, "<stdin>");
		filter_finish(f);
		idset_free(&sn.seen);
	} else {
		/* a document per FILE, unless --total says otherwise */
		if (!a.total)
			a.total = a.nargs;
		struct seg_files *sf = seg_files_new(&cfg);
		struct filter *f = filter_new(&a, seg_files_work, NULL, NULL, sf);
		seg_files_run(sf, f, a.args, a.nargs);
		filter_finish(f);
		seg_files_free(sf);
	}
	seg_root_free(cfg.root);
	return app_finish(&a);
}
