/* store_body: merging, vectors and record lines on the text (see the
 * header). */
#include "store_body.h"
#include "stage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_body_free(struct store_body *b)
{
	buf_free(&b->merged);
	buf_free(&b->tmp);
	free(b->mold.m);
	free(b->mnew.m);
	free(b->used);
	free(b->le);
	memset(b, 0, sizeof *b);
}

static int same_key(const char *a, const struct record_member *ma, const char *b,
		    const struct record_member *mb)
{
	return ma->ke - ma->ks == mb->ke - mb->ks &&
	       !memcmp(a + ma->ks, b + mb->ks, ma->ke - ma->ks);
}

/* b->merged = old with nw's members merged in (see store_body_merge). */
static int merge(struct store_body *b, const char *old, size_t oldn, const char *nw,
		 size_t nwn)
{
	size_t oclose, nclose;
	if (record_scan(old, oldn, &b->mold, &oclose) || record_scan(nw, nwn, &b->mnew, &nclose))
		return -1;
	if (b->used_cap < b->mnew.n) {
		b->used_cap = b->mnew.cap;
		b->used = xrealloc(b->used, b->used_cap);
	}
	memset(b->used, 0, b->mnew.n);
	struct buf *out = &b->merged;
	buf_reset(out);
	size_t pos = 0;
	for (size_t i = 0; i < b->mold.n; i++) {
		const struct record_member *mo = &b->mold.m[i];
		const char *val = old + mo->vs;
		size_t vlen = mo->ve - mo->vs;
		for (size_t j = 0; j < b->mnew.n; j++) {
			const struct record_member *mn = &b->mnew.m[j];
			if (!b->used[j] && same_key(old, mo, nw, mn)) {
				b->used[j] = 1;
				val = nw + mn->vs;
				vlen = mn->ve - mn->vs;
				break;
			}
		}
		buf_append(out, old + pos, mo->vs - pos);
		buf_append(out, val, vlen);
		pos = mo->ve;
	}
	buf_append(out, old + pos, oclose - pos);
	int empty = b->mold.n == 0;
	for (size_t j = 0; j < b->mnew.n; j++) {
		if (b->used[j])
			continue;
		const struct record_member *mn = &b->mnew.m[j];
		if (!empty)
			buf_putc(out, ',');
		empty = 0;
		buf_append(out, nw + mn->ks, mn->ve - mn->ks);
	}
	buf_append(out, old + oclose, oldn - oclose);
	return 0;
}

/* 1 when both bodies have "text" and its values differ. */
static int text_changed(const char *old, size_t oldn, const char *nw, size_t nwn)
{
	const char *text = stage_table[STAGE_SEGMENT].result;
	size_t os, oe, ns, ne;
	if (!record_find(old, oldn, text, NULL, NULL, &os, &oe) ||
	    !record_find(nw, nwn, text, NULL, NULL, &ns, &ne))
		return 0;
	return oe - os != ne - ns || memcmp(old + os, nw + ns, oe - os);
}

/* Drops key from b->merged unless nw brings it itself. */
static void drop_member(struct store_body *b, const char *nw, size_t nwn, const char *key)
{
	if (!key || record_find(nw, nwn, key, NULL, NULL, NULL, NULL) ||
	    !record_find(b->merged.p, b->merged.len, key, NULL, NULL, NULL, NULL))
		return;
	record_del(&b->tmp, b->merged.p, b->merged.len, key);
	buf_reset(&b->merged);
	buf_append(&b->merged, b->tmp.p, b->tmp.len);
}

int store_body_merge(struct store_body *b, const char *old, size_t oldn, const char *nw,
		     size_t nwn, const char **out, size_t *outn, int *stale)
{
	*stale = 0;
	*out = nw;
	*outn = nwn;
	if (merge(b, old, oldn, nw, nwn))
		return -1;
	*stale = text_changed(old, oldn, nw, nwn);
	for (size_t k = 0; *stale && k < STAGE_COUNT; k++) {
		const struct stage *st = &stage_table[k];
		if (!st->derived)
			continue;
		drop_member(b, nw, nwn, st->result);
		if (!st->nested) {
			drop_member(b, nw, nwn, st->model);
			drop_member(b, nw, nwn, st->digest);
			drop_member(b, nw, nwn, st->fingerprint);
			drop_member(b, nw, nwn, st->input);
		}
	}
	*out = b->merged.p;
	*outn = b->merged.len;
	return 0;
}

static int host_is_le(void)
{
	const uint16_t one = 1;
	unsigned char c;
	memcpy(&c, &one, 1);
	return c == 1;
}

const void *store_body_vec_bytes(struct store_body *b, const float *v, size_t dim)
{
	if (host_is_le())
		return v;
	if (b->le_cap < dim * 4) {
		b->le_cap = dim * 4;
		b->le = xrealloc(b->le, b->le_cap);
	}
	for (size_t i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		for (int k = 0; k < 4; k++)
			b->le[i * 4 + (size_t)k] = (unsigned char)(u >> (8 * k));
	}
	return b->le;
}

void store_body_error(struct buf *errs, const char *stage, const char *raw, size_t rawn,
		      const char *code, const char *message, long long failures)
{
	char nfail[32];
	int n = snprintf(nfail, sizeof nfail, "%lld", failures);
	buf_putc(errs, errs->len ? ',' : '{');
	buf_json_str(errs, stage, strlen(stage));
	buf_putc(errs, ':');
	/* the entry as the stage wrote it, with the store's count of failures:
	 * a record read from the store and put back carries it, and is not
	 * counted as a new failure */
	if (raw && rawn >= 2 && raw[0] == '{') {
		struct buf t = {0};
		record_set(&t, raw, rawn, "failures", nfail, (size_t)n);
		buf_append(errs, t.p, t.len);
		buf_free(&t);
		return;
	}
	code = code ? code : "error";
	message = message ? message : "";
	buf_puts(errs, "{\"code\":");
	buf_json_str(errs, code, strlen(code));
	buf_puts(errs, ",\"message\":");
	buf_json_str(errs, message, strlen(message));
	buf_printf(errs, ",\"failures\":%s}", nfail);
}

void store_body_errors_end(struct buf *errs)
{
	if (errs->len)
		buf_putc(errs, '}');
}

static float le_float(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		     (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

void store_body_vec_json(struct buf *out, const unsigned char *vec, size_t vbytes)
{
	buf_putc(out, '[');
	for (size_t i = 0; i + 4 <= vbytes; i += 4) {
		if (i)
			buf_putc(out, ',');
		buf_put_float(out, le_float(vec + i));
	}
	buf_putc(out, ']');
}

void store_body_line(struct buf *out, const char *body, size_t blen, const char *model,
		     const unsigned char *vec, size_t vbytes, const struct buf *errs)
{
	const struct stage *vst = &stage_table[STAGE_EMBED];
	size_t close = blen;
	while (close > 0 && body[close - 1] != '}')
		close--;
	if (close == 0) { /* not an object: cannot happen for stored bodies */
		buf_append(out, body, blen);
		return;
	}
	close--;
	size_t last = close;
	while (last > 0 && (body[last - 1] == ' ' || body[last - 1] == '\t' ||
			    body[last - 1] == '\n' || body[last - 1] == '\r'))
		last--;
	int empty = last > 0 && body[last - 1] == '{';
	buf_append(out, body, last);
	if (vec && model) {
		buf_puts(out, empty ? "" : ",");
		buf_json_str(out, vst->result, strlen(vst->result));
		buf_putc(out, ':');
		store_body_vec_json(out, vec, vbytes);
		buf_putc(out, ',');
		buf_json_str(out, vst->model, strlen(vst->model));
		buf_putc(out, ':');
		buf_json_str(out, model, strlen(model));
		empty = 0;
	}
	if (errs && errs->len) {
		buf_puts(out, empty ? "\"errors\":" : ",\"errors\":");
		buf_append(out, errs->p, errs->len);
	}
	buf_append(out, body + close, blen - close);
}
