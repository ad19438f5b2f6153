/* store_reuse: filling a pending record with a result kept by content. */
#include "store_reuse.h"
#include "fingerprint.h"
#include "record.h"
#include "store_body.h"

#include <stdlib.h>
#include <string.h>

int store_reuse_fill(struct store_reuse *r, const char *line, size_t len, struct buf *out,
		     char *err, size_t errlen)
{
	char input[FINGERPRINT_LEN];
	fingerprint_input(line, len, r->fields, r->nfields, input);
	int rc = store_result_get(r->s, r->stage->name, r->fingerprint, input, &r->members, &r->vec,
				  err, errlen);
	if (rc <= 0)
		return rc;
	struct record_members ms = {0};
	size_t close;
	if (record_scan(r->members.p, r->members.len, &ms, &close)) {
		free(ms.m);
		return 0; /* not an object: cannot happen for what put kept */
	}
	buf_reset(out);
	buf_append(out, line, len);
	for (size_t i = 0; i < ms.n; i++) {
		const struct record_member *m = &ms.m[i];
		/* keys are the stage table's names: no escapes */
		char *key = xstrndup(r->members.p + m->ks + 1, m->ke - m->ks - 2);
		record_set(&r->tmp, out->p, out->len, key, r->members.p + m->vs, m->ve - m->vs);
		free(key);
		buf_reset(out);
		buf_append(out, r->tmp.p, r->tmp.len);
	}
	free(ms.m);
	if (r->stage->vector && r->vec.len) {
		buf_reset(&r->json);
		store_body_vec_json(&r->json, (const unsigned char *)r->vec.p, r->vec.len);
		record_set(&r->tmp, out->p, out->len, r->stage->result, r->json.p, r->json.len);
		buf_reset(out);
		buf_append(out, r->tmp.p, r->tmp.len);
	}
	r->reused++;
	return 1;
}

void store_reuse_free(struct store_reuse *r)
{
	buf_free(&r->members);
	buf_free(&r->vec);
	buf_free(&r->tmp);
	buf_free(&r->json);
}
