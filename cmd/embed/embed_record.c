/* embed_record: reading the text out of a record and writing the vector
 * back in place (record.h), so that other fields pass through byte for
 * byte. */
#include "embed_record.h"
#include "record.h"
#include "stage.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct stage *const st = &stage_table[STAGE_EMBED];

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
	/* no \u0000 cuts s short: ndjson_parse refused such lines (json.h) */
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
		buf_put_float(b, v[i]);
	}
	buf_putc(b, ']');
}

void embed_record_ok(struct rec *r, const float *v, int dim, const struct stage_stamp *stamp)
{
	struct buf val = {0};
	embed_put_vector(&val, v, dim);
	stage_set(st, r, val.p, val.len, stamp);
	buf_free(&val);
}
