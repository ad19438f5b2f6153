/* store_record: reads what one record line says for the store (its id,
 * doc and seq, its vector, which stages produced output or failed) and cuts
 * the members that live in their own tables out of the body, all on the
 * text (common/json.c), in the worker threads. */
#include "store_cmd.h"
#include "record.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The strings a record's fields point at live in the line, or in it->sbuf
 * (unescaped copies, texts made here), which may move while it grows: a
 * field pointing into sbuf has a fix entry giving its offset, resolved by
 * resolve_strings at the end. Every field is set through set_span or
 * set_owned, so that a field set again drops its old entry. */
static void drop_fix(struct store_item *it, const char **p)
{
	for (size_t i = 0; i < it->nfix; i++) {
		if (it->fix[i].p == p) {
			it->fix[i] = it->fix[--it->nfix];
			return;
		}
	}
}

/* Points *p at s[0..len) (in the line or static). */
static void set_span(struct store_item *it, const char **p, size_t *n, const char *s,
		     size_t len)
{
	drop_fix(it, p);
	*p = s;
	*n = len;
}

/* Points *p at it->sbuf[off..off + len). */
static void set_owned(struct store_item *it, const char **p, size_t *n, size_t off, size_t len)
{
	drop_fix(it, p);
	*p = NULL;
	*n = len;
	/* at most one per field: STORE_ITEM_STRS fields, so nfix stays in range */
	it->fix[it->nfix].p = p;
	it->fix[it->nfix].off = off;
	it->nfix++;
}

/* Points *p at a string value: into the line when it has no escape, else
 * at its unescaped copy in it->sbuf. */
static void set_str(struct store_item *it, const char **p, size_t *n,
		    const struct json_member *m)
{
	if (!m || m->type != JSON_STRING) {
		set_span(it, p, n, NULL, 0);
		return;
	}
	if (!memchr(m->val, '\\', m->val_len)) {
		set_span(it, p, n, m->val + 1, m->val_len - 2);
		return;
	}
	size_t off = it->sbuf.len;
	json_unescape(m->val, m->val_len, &it->sbuf);
	set_owned(it, p, n, off, it->sbuf.len - off);
}

static void resolve_strings(struct store_item *it)
{
	for (size_t i = 0; i < it->nfix; i++)
		*it->fix[i].p = it->sbuf.p + it->fix[i].off;
	it->nfix = 0;
}

static int fail(struct store_item *it, const char *code, char *why)
{
	it->fail_code = code;
	it->fail = why;
	return 1;
}

static struct store_event *add_event(struct store_item *it, const char *stage)
{
	struct store_event *e = &it->ev[it->rec.nevents++];
	memset(e, 0, sizeof *e);
	set_span(it, &e->stage, &e->stage_len, stage, stage ? strlen(stage) : 0);
	return e;
}

/* The event of a stage named by a key of "errors" (raw key text). */
static struct store_event *find_event(struct store_item *it, const char *stage,
				      size_t len)
{
	for (size_t i = 0; i < it->rec.nevents; i++)
		if (it->ev[i].stage_len == len && it->ev[i].stage &&
		    !memcmp(it->ev[i].stage, stage, len))
			return &it->ev[i];
	return NULL;
}

/* Cuts key out of the body (it->body, or the line while nothing was cut). */
static void cut(struct store_item *it, const char *key)
{
	if (!record_find(it->rec.body, it->rec.body_len, key, NULL, NULL, NULL, NULL))
		return;
	struct buf out = {0};
	record_del(&out, it->rec.body, it->rec.body_len, key);
	buf_free(&it->body);
	it->body = out;
	it->rec.body = it->body.p;
	it->rec.body_len = it->body.len;
}

static int is_string(const struct json_member *m)
{
	return m && m->type == JSON_STRING;
}

/* A string value equal to want once unescaped. */
static int string_is(const struct json_member *m, const char *want)
{
	if (!is_string(m))
		return 0;
	size_t n = strlen(want);
	if (!memchr(m->val, '\\', m->val_len))
		return m->val_len == n + 2 && !memcmp(m->val + 1, want, n);
	struct buf b = {0};
	json_unescape(m->val, m->val_len, &b);
	int same = b.len == n && !memcmp(b.p, want, n);
	buf_free(&b);
	return same;
}

/* The fingerprint and input hash of a stage's result, and when it has
 * both, its members as one JSON object for the store's cache of results
 * by content: the result (but a vector, stored as a vector) and its stamp
 * as the record has them, or the whole result object of a nested stage. */
static void stamp_members(struct store_item *it, struct store_event *e, const struct stage *st,
			  const struct json_member *res, const struct json_list *owner)
{
	const struct json_member *fp = st->fingerprint ? json_find(owner, st->fingerprint) : NULL;
	const struct json_member *in = st->input ? json_find(owner, st->input) : NULL;
	set_str(it, &e->fingerprint, &e->fingerprint_len, fp);
	set_str(it, &e->input, &e->input_len, in);
	if (!is_string(fp) || !is_string(in))
		return;
	struct buf *b = &it->sbuf;
	size_t off = b->len;
	buf_putc(b, '{');
	if (st->nested || !st->vector) {
		buf_json_str(b, st->result, strlen(st->result));
		buf_putc(b, ':');
		buf_append(b, res->val, res->val_len);
	}
	const char *const keys[] = {st->model, st->digest, st->fingerprint, st->input};
	for (size_t i = 0; !st->nested && i < ARRAY_LEN(keys); i++) {
		const struct json_member *m = keys[i] ? json_find(owner, keys[i]) : NULL;
		if (!m)
			continue;
		if (b->len > off + 1)
			buf_putc(b, ',');
		buf_json_str(b, keys[i], strlen(keys[i]));
		buf_putc(b, ':');
		buf_append(b, m->val, m->val_len);
	}
	buf_putc(b, '}');
	set_owned(it, &e->members, &e->members_len, off, b->len - off);
}

/* errors.<stage> entries: each the stage's latest word, over any output
 * the record still carries. */
static int read_errors(struct store_item *it, const struct json_member *errs,
		       const struct json_list *top, struct store_scratch *sc)
{
	json_members(errs->val, errs->val_len, &sc->errs);
	for (size_t i = 0; i < sc->errs.n; i++) {
		const struct json_member *x = &sc->errs.m[i];
		/* errors.store: a failure of an earlier store, which this put
		 * retries */
		if (!x->key_escaped && x->key_len == 5 && !memcmp(x->key, "store", 5))
			continue;
		if (x->key_escaped || !x->key_len || x->key_len > 64)
			return fail(it, "bad_errors",
				    xstrdup("\"errors\" has a stage name that is empty, escaped "
					    "or longer than 64 bytes"));
		struct store_event *e = find_event(it, x->key, x->key_len);
		if (!e) {
			if (it->rec.nevents == STORE_ITEM_EVENTS)
				return fail(it, "bad_errors",
					    xasprintf("\"errors\" names more than %d stages",
						      STORE_ITEM_EVENTS - 4));
			e = add_event(it, NULL);
			set_span(it, &e->stage, &e->stage_len, x->key, x->key_len);
		}
		e->ok = 0;
		set_span(it, &e->error, &e->error_len, x->val, x->val_len);
		set_span(it, &e->code, &e->code_len, NULL, 0);
		set_span(it, &e->message, &e->message_len, NULL, 0);
		e->carried = 0;
		/* the model of a stage that failed: the one the record names, if
		 * any (a nested one came with the output's event) */
		const struct stage *st = stage_find(e->stage, e->stage_len);
		if (st && st->model && !st->nested && !e->model)
			set_str(it, &e->model, &e->model_len, json_find(top, st->model));
		if (x->type != JSON_OBJECT)
			continue;
		json_members(x->val, x->val_len, &sc->entry);
		set_str(it, &e->code, &e->code_len, json_find(&sc->entry, "code"));
		set_str(it, &e->message, &e->message_len, json_find(&sc->entry, "message"));
		const struct json_member *fl = json_find(&sc->entry, "failures");
		long long nfail;
		if (fl && fl->type == JSON_NUMBER && json_integer(fl->val, fl->val_len, &nfail) == 0 &&
		    nfail >= 1 && nfail < 1000000000)
			e->carried = (long)nfail;
	}
	return 0;
}

int store_item_parse(struct store_item *it, const char *line, size_t len,
		     struct store_scratch *sc, char *reject, size_t rejlen)
{
	/* the events are cleared as they are added */
	memset(&it->rec, 0, sizeof it->rec);
	memset(&it->body, 0, sizeof it->body);
	memset(&it->sbuf, 0, sizeof it->sbuf);
	it->vec = NULL;
	it->nfix = 0;
	it->fail_code = NULL;
	it->fail = NULL;
	it->rec.events = it->ev;
	it->rec.body = line;
	it->rec.body_len = len;

	if (json_check_object(line, len, &sc->top, reject, rejlen))
		return -1;
	const struct json_list *top = &sc->top;
	const struct json_member *id = json_find(top, "id");
	if (!is_string(id))
		return fail(it, "no_id", xstrdup("record has no \"id\""));
	if (id->val_len == 2)
		return fail(it, "no_id", xstrdup("record has an empty \"id\""));
	set_str(it, &it->rec.id, &it->rec.id_len, id);
	set_str(it, &it->rec.doc, &it->rec.doc_len, json_find(top, "doc"));
	const struct json_member *seq = json_find(top, "seq");
	if (seq && seq->type == JSON_NUMBER && json_integer(seq->val, seq->val_len, &it->rec.seq) == 0)
		it->rec.has_seq = 1;

	/* the outputs of the stages */
	const struct stage *vst = NULL;
	for (size_t k = 0; k < STAGE_COUNT; k++) {
		const struct stage *st = &stage_table[k];
		const struct json_member *res = json_find(top, st->result);
		if (!res)
			continue;
		struct store_event *e = add_event(it, st->name);
		e->ok = 1;
		const struct json_list *owner = top;
		if (st->nested) {
			if (res->type != JSON_OBJECT)
				continue;
			json_members(res->val, res->val_len, &sc->cls);
			owner = &sc->cls;
		}
		const struct json_member *model = st->model ? json_find(owner, st->model) : NULL;
		set_str(it, &e->model, &e->model_len, model);
		stamp_members(it, e, st, res, owner);
		if (st->status && string_is(json_find(owner, st->status), "error")) {
			/* replaced by errors.<stage> when the record has it */
			struct buf *b = &it->sbuf;
			size_t off = b->len;
			buf_printf(b, "%s_error", st->result);
			size_t code_len = b->len - off;
			buf_printf(b, "%s.%s is error", st->result, st->status);
			size_t msg_len = b->len - off - code_len;
			buf_puts(b, "{\"code\":");
			buf_json_str(b, b->p + off, code_len);
			buf_puts(b, ",\"message\":");
			buf_json_str(b, b->p + off + code_len, msg_len);
			buf_putc(b, '}');
			e->ok = 0;
			set_owned(it, &e->code, &e->code_len, off, code_len);
			set_owned(it, &e->message, &e->message_len, off + code_len, msg_len);
			set_owned(it, &e->error, &e->error_len, off + code_len + msg_len,
				  b->len - off - code_len - msg_len);
		}
		if (st->vector) {
			char why[128];
			if (json_floats(res->val, res->val_len, &it->vec, &it->rec.dim, why, sizeof why))
				return fail(it, "bad_embedding", xstrdup(why));
			it->rec.vec = it->vec;
			if (is_string(model))
				set_str(it, &it->rec.vec_model, &it->rec.vec_model_len, model);
			else
				set_span(it, &it->rec.vec_model, &it->rec.vec_model_len, "", 0);
			vst = st;
		}
	}
	const struct json_member *errs = json_find(top, "errors");
	if (errs && errs->type == JSON_OBJECT) {
		int rc = read_errors(it, errs, top, sc);
		if (rc)
			return rc;
	}

	/* vectors and errors live in their own tables */
	if (vst) {
		cut(it, vst->result);
		cut(it, vst->model);
	}
	if (errs && errs->type == JSON_OBJECT)
		cut(it, "errors");
	resolve_strings(it);
	return 0;
}

void store_item_free(struct store_item *it)
{
	buf_free(&it->body);
	buf_free(&it->sbuf);
	free(it->vec);
	free(it->fail);
	it->vec = NULL;
	it->fail = NULL;
}

void store_scratch_free(struct store_scratch *sc)
{
	json_list_free(&sc->top);
	json_list_free(&sc->cls);
	json_list_free(&sc->errs);
	json_list_free(&sc->entry);
}
