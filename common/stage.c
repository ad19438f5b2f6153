/* stage: reading and writing the model stamp of a stage's result. */
#include "stage.h"
#include "record.h"
#include "util.h"

#include <string.h>

int stage_same_model(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 1;
	size_t na = strlen(a), nb = strlen(b);
	if (na + 7 == nb && !strchr(a, ':') && !strncmp(a, b, na) && !strcmp(b + na, ":latest"))
		return 1;
	return nb + 7 == na && !strchr(b, ':') && !strncmp(a, b, nb) && !strcmp(a + nb, ":latest");
}

int stage_stamped(const struct stage_keys *k, const cJSON *rec, const char *model,
		  const char *digest)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, k->model);
	if (!cJSON_IsString(m) || !stage_same_model(m->valuestring, model))
		return 0;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, k->digest);
	/* the same name with another digest is another model (pulled again) */
	return !digest || !*digest || !cJSON_IsString(d) || !strcmp(d->valuestring, digest);
}

void stage_set(const struct stage_keys *k, struct rec *r, const char *val, size_t len,
	       const char *model, const char *digest)
{
	struct buf a = {0}, b = {0}, v = {0};
	rec_set(&a, r->line, r->len, k->result, val, len);
	buf_json_str(&v, model, strlen(model));
	rec_set(&b, a.p, a.len, k->model, v.p, v.len);
	if (digest && *digest) {
		buf_reset(&v);
		buf_json_str(&v, digest, strlen(digest));
		rec_set(&a, b.p, b.len, k->digest, v.p, v.len);
	} else {
		rec_del(&a, b.p, b.len, k->digest);
	}
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(r->json, "errors");
	if (cJSON_GetObjectItemCaseSensitive(errs, k->stage)) {
		/* done now: the error of an earlier run goes */
		rec_set_error(&b, a.p, a.len, k->stage, NULL, NULL, 0);
		rec_emit(r, b.p, b.len);
	} else {
		rec_emit(r, a.p, a.len);
	}
	r->outcome = REC_OK;
	buf_free(&a);
	buf_free(&b);
	buf_free(&v);
}
