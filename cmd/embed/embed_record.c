/* embed_record: reading the text out of a record and writing the vector
 * back in place (record.h), so that other fields pass through byte for
 * byte. */
#include "embed_record.h"
#include "record.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int embed_same_model(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 1;
	size_t na = strlen(a), nb = strlen(b);
	if (na + 7 == nb && !strchr(a, ':') && !strncmp(a, b, na) && !strcmp(b + na, ":latest"))
		return 1;
	return nb + 7 == na && !strchr(b, ':') && !strncmp(a, b, nb) && !strcmp(a + nb, ":latest");
}

int embed_record_done(const cJSON *j, const char *model, const char *digest, int dim)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "embedding_model");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "embedding");
	if (!cJSON_IsString(m) || !embed_same_model(m->valuestring, model))
		return 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return 0;
	if (dim > 0 && cJSON_GetArraySize(v) != dim)
		return 0;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "embedding_digest");
	/* the same name with another digest is another model (re-pulled) */
	if (digest[0] && cJSON_IsString(d) && strcmp(d->valuestring, digest))
		return 0;
	return 1;
}

int embed_record_text(const struct rec *r, const char *field, const char **text, size_t *len,
		      const char **code, char *msg, size_t msglen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->json, field);
	*code = "no_text";
	if (!cJSON_IsString(t)) {
		snprintf(msg, msglen, "no \"%s\" string in the record%s", field,
			 t ? "" : " (--field picks another)");
		return -1;
	}
	const char *s = t->valuestring;
	size_t n = strlen(s);
	/* cJSON strings end at the first NUL: an escaped \u0000 would cut the
	 * text without a word, so it is refused */
	size_t vs, ve;
	if (rec_find(r->line, r->len, field, NULL, NULL, &vs, &ve) &&
	    memmem(r->line + vs, ve - vs, "\\u0000", 6)) {
		*code = "bad_text";
		snprintf(msg, msglen, "NUL character (\\u0000) in \"%s\"", field);
		return -1;
	}
	if (n == strspn(s, " \t\r\n")) {
		snprintf(msg, msglen, "\"%s\" is %s", field, n ? "only white space" : "empty");
		return -1;
	}
	*text = s;
	*len = n;
	return 0;
}

void embed_put_vector(struct buf *b, const float *v, int dim)
{
	buf_reserve(b, (size_t)dim * 16 + 2);
	buf_putc(b, '[');
	for (int i = 0; i < dim; i++) {
		if (i)
			buf_putc(b, ',');
		/* hash vectors are mostly zeros: no need for printf there */
		if (v[i] == 0 && !signbit(v[i])) {
			buf_putc(b, '0');
			continue;
		}
		char num[32];
		/* 9 significant digits give back the same float32 */
		int n = snprintf(num, sizeof num, "%.9g", (double)v[i]);
		buf_append(b, num, (size_t)n);
	}
	buf_putc(b, ']');
}

void embed_record_ok(struct rec *r, const float *v, int dim, const char *model,
		     const char *digest)
{
	struct buf val = {0}, a = {0}, b = {0};
	embed_put_vector(&val, v, dim);
	rec_set(&a, r->line, r->len, "embedding", val.p, val.len);
	buf_reset(&val);
	buf_json_str(&val, model, strlen(model));
	rec_set(&b, a.p, a.len, "embedding_model", val.p, val.len);
	if (digest[0]) {
		buf_reset(&val);
		buf_json_str(&val, digest, strlen(digest));
		rec_set(&a, b.p, b.len, "embedding_digest", val.p, val.len);
	} else {
		rec_del(&a, b.p, b.len, "embedding_digest");
	}
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(r->json, "errors");
	if (cJSON_GetObjectItemCaseSensitive(errs, "embed")) {
		/* done now: the error of an earlier run goes */
		rec_set_error(&b, a.p, a.len, "embed", NULL, NULL, 0);
		rec_emit(r, b.p, b.len);
	} else {
		rec_emit(r, a.p, a.len);
	}
	r->outcome = REC_OK;
	buf_free(&val);
	buf_free(&a);
	buf_free(&b);
}
