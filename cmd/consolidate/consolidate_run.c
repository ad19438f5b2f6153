/* consolidate_run: settings, record work and the end of a consolidate run
 * (see the header). */
#include "consolidate_run.h"
#include "consolidate_eval.h"
#include "log.h"
#include "ndjson.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const mode_name[] = {"embed", "verify"};

/* Reads the entities of an earlier run. Returns 0 or an exit status. */
static int load_entities(struct consolidate_run *run, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot open the entities %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	struct ndjson_reader *r = ndjson_open(fd, path, run->a->max_line, NULL);
	char *line, err[512];
	size_t len;
	long lineno;
	int rc = 0;
	enum ndjson_status st;
	while (!rc && (st = ndjson_read(r, &line, &len, &lineno)) != NDJSON_EOF) {
		if (st == NDJSON_ERROR) {
			log_error("%s: cannot read: %s", path, strerror(errno));
			rc = EXIT_USAGE;
			break;
		}
		if (st == NDJSON_TOOLONG) {
			log_error("%s:%ld: line over %zu bytes (max_line)", path, lineno,
				  run->a->max_line);
			rc = EXIT_USAGE;
			break;
		}
		cJSON *j = ndjson_parse(line, len, err, sizeof err);
		if (!j || consolidate_set_load(&run->set, j, err, sizeof err) < 0) {
			log_error("%s:%ld: %s", path, lineno, err);
			rc = EXIT_USAGE;
		} else {
			run->loaded++;
		}
		cJSON_Delete(j);
		free(line);
	}
	ndjson_close(r);
	close(fd);
	return rc;
}

/* The server, when the chat model or the embedding model needs one. */
static int start(struct app *a, struct consolidate_run *run, const char *extra)
{
	int offline = !strcmp(run->embed_model, "hash");
	if (offline && run->mode == CONSOLIDATE_EMBED) {
		app_size_pool(a, cpu_count());
		app_log_start(a, "backend=none (hash embedder, offline) %s", extra);
		return 0;
	}
	int verify = run->mode == CONSOLIDATE_VERIFY;
	llmapp_start(a, &run->la, verify ? LLM_USE_CHAT : LLM_USE_EMBED,
		     verify ? run->model : run->embed_model, "%s", extra);
	char digest[64];
	int rc = verify && !offline ? llmapp_check_also(a, &run->la, LLM_USE_EMBED,
							run->embed_model, digest, sizeof digest)
				    : 0;
	if (rc)
		return rc;
	if (!offline)
		run->emb.e.llm = run->la.llm;
	run->check.q.llm = run->la.llm;
	return 0;
}

int consolidate_run_setup(struct app *a, struct consolidate_run *run, const char *eval, int json,
			  int all)
{
	run->a = a;
	run->eval = eval;
	run->json = json;
	run->all = all;
	run->in_name = "<stdin>";
	if (a->nargs) {
		log_error("unexpected argument '%s': consolidate reads records on stdin (try --help)",
			  a->args[0]);
		return EXIT_USAGE;
	}
	if (json && !eval) {
		log_error("--json goes with --eval GOLD");
		return EXIT_USAGE;
	}
	char err[1024];
	run->nlists = consolidate_lists_parse(tun_str(a->tun, "consolidate.lists"), &run->lists, err,
					      sizeof err);
	if (run->nlists < 0) {
		run->nlists = 0;
		log_error("%s", err);
		return EXIT_USAGE;
	}
	consolidate_set_init(&run->set, run->lists, run->nlists);
	run->mode = strcmp(tun_str(a->tun, "consolidate.mode"), "verify") ? CONSOLIDATE_EMBED
									  : CONSOLIDATE_VERIFY;
	run->threshold = tun_float(a->tun, "consolidate.threshold");
	run->uncertain = tun_float(a->tun, "consolidate.uncertain");
	if (run->uncertain > run->threshold) {
		log_error("consolidate.uncertain (%g) is above consolidate.threshold (%g): the "
			  "uncertain band lies below the threshold", run->uncertain, run->threshold);
		return EXIT_USAGE;
	}
	run->embed_model = xstrdup(tun_str(a->tun, "consolidate.embed_model"));
	run->model = xstrdup(tun_str(a->tun, "consolidate.model"));
	run->entities_path = xstrdup(tun_str(a->tun, "consolidate.entities"));
	if (!*run->embed_model || (run->mode == CONSOLIDATE_VERIFY && !*run->model)) {
		log_error("empty model name: set consolidate.embed_model (and consolidate.model for "
			  "verify)");
		return EXIT_USAGE;
	}
	int dim = (int)tun_int(a->tun, "consolidate.dim");
	int offline = !strcmp(run->embed_model, "hash");
	run->emb_name = offline ? xasprintf("hash-%d", dim) : xstrdup(run->embed_model);
	run->emb = (struct consolidate_embedder){
		.e = {
			.model = run->embed_model,
			.name = run->emb_name,
			.digest = "",
			.hash_dim = offline ? dim : 0,
			.dim_hint = !offline && tun_is_set(a->tun, "consolidate.dim") ? dim : 0,
			.batch = (size_t)tun_int(a->tun, "consolidate.batch"),
		},
	};
	if (run->mode == CONSOLIDATE_VERIFY) {
		if (ask_tpl_load(&run->tpl, tun_str(a->tun, "consolidate.prompt"),
				 &consolidate_check_spec, err, sizeof err)) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		run->check = (struct consolidate_check){
			.q = {
				.model = run->model,
				.max_tokens = tun_int(a->tun, "consolidate.max_tokens"),
				.attempts = (int)tun_int(a->tun, "consolidate.answer_attempts"),
				.correction = "That is not a valid answer. Reply with exactly one "
					      "word: YES, NO or UNCERTAIN.",
				.form = "YES, NO or UNCERTAIN",
			},
			.tpl = &run->tpl,
		};
	}
	if (eval && strcmp(eval, "-")) {
		run->in_fd = open(eval, O_RDONLY | O_CLOEXEC);
		if (run->in_fd < 0) {
			run->in_fd = 0;
			log_error("cannot open the gold set %s: %s", eval, strerror(errno));
			return EXIT_USAGE;
		}
		run->in_name = eval;
	}
	if (!eval && *run->entities_path) {
		int rc = load_entities(run, run->entities_path);
		if (rc)
			return rc;
	}
	struct buf names = {0};
	for (int i = 0; i < run->nlists; i++)
		buf_printf(&names, "%s%s=%s", i ? "," : "", run->lists[i].name,
			   consolidate_kind_name[run->lists[i].kind]);
	char *extra = xasprintf("lists=%s mode=%s embed_model=%s threshold=%g uncertain=%g%s%s "
				"entities=%s (%ld read)%s%s", names.p, mode_name[run->mode],
				run->emb_name, run->threshold, run->uncertain,
				run->mode == CONSOLIDATE_VERIFY ? " prompt=" : "",
				run->mode == CONSOLIDATE_VERIFY ? run->tpl.path : "",
				*run->entities_path && !eval ? run->entities_path : "none", run->loaded,
				eval ? " eval=" : "", eval ? eval : "");
	buf_free(&names);
	int rc = start(a, run, extra);
	free(extra);
	run->emb.workers = a->workers;
	run->check.workers = a->workers;
	return rc;
}

void consolidate_run_job(struct job *job, int worker, void *ud)
{
	(void)worker;
	struct consolidate_run *run = ud;
	for (size_t i = 0; i < job->n; i++) {
		struct rec *r = &job->recs[i];
		if (r->outcome == REC_REJECTED || !r->json)
			continue;
		struct consolidate_mentions *ms = xcalloc(1, sizeof *ms);
		long n = consolidate_mentions_read(ms, r->json, run->lists, run->nlists);
		r->extra = ms;
		if (n < 0) {
			r->outcome = REC_FAILED;
			r->log = xstrdup("record has no \"id\" string: its mentions cannot be traced");
		} else {
			r->outcome = n > 0 ? REC_OK : REC_SKIPPED;
		}
	}
}

void consolidate_run_emitted(struct rec *r, void *ud)
{
	struct consolidate_run *run = ud;
	struct consolidate_mentions *ms = r->extra;
	r->extra = NULL;
	if (ms) {
		consolidate_mentions_move(&run->ms, ms);
		free(ms);
	}
	buf_reset(&r->out);
}

/* Writes the entities that changed (all with --all); returns 0, or -1 on
 * a write error (the reader going away is a quiet end). */
static int write_entities(struct consolidate_run *run)
{
	struct ndjson_writer *w = ndjson_writer_new(1);
	struct buf line = {0};
	const struct consolidate_set *s = &run->set;
	long *order;
	size_t n = consolidate_set_order(s, &order);
	for (size_t k = 0; k < n; k++) {
		const struct consolidate_entity *e = &s->e[order[k]];
		if (!e->nmention || (!e->changed && !run->all))
			continue;
		consolidate_set_json(s, order[k], &line);
		if (ndjson_write(w, line.p, line.len - 1))
			break;
		run->written++;
		if (e->changed && e->existing)
			run->updated++;
		else if (!e->existing)
			run->fresh++;
	}
	free(order);
	buf_free(&line);
	ndjson_flush(w);
	int state = ndjson_writer_state(w), err = ndjson_writer_errno(w);
	ndjson_writer_free(w);
	atomic_fetch_add(&run->a->st.written, run->written);
	if (state == 1) {
		run->a->output_closed = 1;
		return 0;
	}
	if (state < 0) {
		log_error("write error on standard output: %s", strerror(err));
		return -1;
	}
	return 0;
}

static void end(struct consolidate_run *run)
{
	char err[1024];
	struct consolidate_match *m = &run->match;
	m->set = &run->set;
	m->threshold = run->threshold;
	m->uncertain = run->uncertain;
	m->check = run->mode == CONSOLIDATE_VERIFY;
	m->embed = consolidate_embed;
	m->embed_ud = &run->emb;
	double t0 = now_ms();
	if (consolidate_match_run(m, &run->ms, err, sizeof err)) {
		log_error("%s; no entity written", err);
		run->code = EXIT_FAILURES;
		return;
	}
	const struct consolidate_match_stats *st = &m->st;
	log_event("mentions: %zu (%ld items without a name skipped), %ld already held; by name %ld "
		  "(%ld decided by the document), by embedding %ld; new entities %ld (%ld ambiguous "
		  "partial names); %ld names embedded (%ld requests) in %.2fs", run->ms.n,
		  run->ms.items_skipped, st->held, st->by_name, st->by_doc, st->by_vector, st->fresh,
		  st->ambiguous, st->embedded, run->emb.requests, (now_ms() - t0) / 1000);
	if (m->check && m->npair) {
		if (app_stopping()) {
			log_warn("stopping: %zu pairs in the uncertain band left unchecked (kept apart)",
				 m->npair);
		} else {
			struct consolidate_check *c = &run->check;
			consolidate_check_run(c, &run->set, &run->ms, m->pair, m->npair);
			log_event("check: %ld pairs asked: %ld yes (%ld merged), %ld no, %ld uncertain, "
				  "%ld failed (%ld requests)%s%s", c->asked, c->yes, c->merged, c->no,
				  c->uncertain, c->failed, c->requests, c->failed ? "; first: " : "",
				  c->first_error);
			if (c->failed)
				run->code = EXIT_FAILURES;
		}
	}
	consolidate_set_ids(&run->set);
	if (run->eval) {
		struct consolidate_eval_info info = {
			.gold_path = run->in_name,
			.mode = mode_name[run->mode],
			.embed_model = run->emb_name,
			.model = run->mode == CONSOLIDATE_VERIFY ? run->model : NULL,
			.threshold = run->threshold,
			.uncertain = run->uncertain,
		};
		if (consolidate_eval_report(&run->set, &run->ms, m->entity_of, &info, run->json,
					    stdout)) {
			log_error("cannot write the report: %s", strerror(errno));
			run->code = EXIT_FAILURES;
		}
		return;
	}
	if (write_entities(run))
		run->code = EXIT_FAILURES;
	log_event("entities: %ld written (%ld new, %ld updated), %ld read back from %s",
		  run->written, run->fresh, run->updated, run->loaded,
		  *run->entities_path ? run->entities_path : "nowhere");
}

void consolidate_run_idle(void *ud)
{
	struct consolidate_run *run = ud;
	if (run->done || !atomic_load(&run->input_done) || filter_inflight(run->f))
		return;
	run->done = 1;
	end(run);
}

void consolidate_run_finish(struct consolidate_run *run)
{
	if (run->la.llm)
		llmapp_finish(run->a, &run->la);
	if (run->code)
		run->a->run_errors++;
	consolidate_run_free(run);
}

void consolidate_run_free(struct consolidate_run *run)
{
	if (run->in_fd > 0)
		close(run->in_fd);
	if (run->la.llm)
		llm_free(run->la.llm);
	consolidate_match_free(&run->match);
	consolidate_mentions_free(&run->ms);
	consolidate_set_free(&run->set);
	consolidate_lists_free(run->lists, run->nlists);
	ask_tpl_free(&run->tpl);
	free(run->embed_model);
	free(run->emb_name);
	free(run->model);
	free(run->entities_path);
	memset(run, 0, sizeof *run);
}
