/* fingerprint: FNV-1a 64 over tagged fields ("stage\0mine\0model\0...").
 * Model names are taken as Ollama reads them: "m" is "m:latest". */
#include "fingerprint.h"
#include "record.h"
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL

static uint64_t add(uint64_t h, const char *key, const char *val, size_t len)
{
	h = fnv64(h, key, strlen(key) + 1);
	h = fnv64(h, val, len);
	return fnv64(h, "", 1);
}

static uint64_t add_str(uint64_t h, const char *key, const char *val)
{
	return val ? add(h, key, val, strlen(val)) : add(h, key, "\1null", 5);
}

static uint64_t add_num(uint64_t h, const char *key, double v)
{
	char t[64];
	int n = snprintf(t, sizeof t, "%.17g", v);
	return add(h, key, t, (size_t)n);
}

/* The model as Ollama names it: an untagged name is name:latest (the rule
 * of stage_same_model, as one spelling to hash). */
static uint64_t add_model(uint64_t h, const char *key, const char *model)
{
	if (!model || strchr(model, ':'))
		return add_str(h, key, model);
	char t[512];
	int n = snprintf(t, sizeof t, "%s:latest", model);
	if (n < 0 || (size_t)n >= sizeof t)
		return add_str(h, key, model);
	return add(h, key, t, (size_t)n);
}

static void hex(uint64_t h, char out[FINGERPRINT_LEN])
{
	snprintf(out, FINGERPRINT_LEN, "%016llx", (unsigned long long)h);
}

void fingerprint_mine(const char *model, const char *template_src, const char *schema,
		      const char *field, double temperature, long seed,
		      char out[FINGERPRINT_LEN])
{
	uint64_t h = add_str(FNV_OFFSET, "stage", "mine");
	h = add_model(h, "model", model);
	h = add_str(h, "template", template_src);
	h = add_str(h, "schema", schema);
	h = add_str(h, "field", field);
	h = add_num(h, "temperature", temperature);
	h = add_num(h, "seed", (double)seed);
	hex(h, out);
}

void fingerprint_embed(const char *model, long dimensions, const char *field,
		       char out[FINGERPRINT_LEN])
{
	uint64_t h = add_str(FNV_OFFSET, "stage", "embed");
	h = add_model(h, "model", model);
	h = add_num(h, "dimensions", (double)dimensions);
	h = add_str(h, "field", field);
	hex(h, out);
}

void fingerprint_classify(const struct fingerprint_classify_in *in, char out[FINGERPRINT_LEN])
{
	uint64_t h = add_str(FNV_OFFSET, "stage", "classify");
	h = add_str(h, "taxonomy", in->taxonomy);
	h = add_str(h, "mode", in->mode);
	h = add_model(h, "embed_model", in->embed_model);
	h = add_num(h, "threshold", in->threshold);
	h = add_num(h, "top_k", (double)in->top_k);
	h = add_str(h, "field", in->field);
	h = add_str(h, "examples", in->examples);
	if (in->model) {
		h = add_model(h, "model", in->model);
		h = add_str(h, "prompt", in->prompt_src);
		h = add_num(h, "temperature", in->temperature);
		h = add_num(h, "seed", (double)in->seed);
	}
	hex(h, out);
}

void fingerprint_input(const char *line, size_t len, const char *const *fields, size_t n,
		       char out[FINGERPRINT_LEN])
{
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < n; i++) {
		size_t vs, ve;
		if (record_find(line, len, fields[i], NULL, NULL, &vs, &ve))
			h = add(h, fields[i], line + vs, ve - vs);
		else
			h = add(h, fields[i], "\1missing", 8);
	}
	hex(h, out);
}

void fingerprint_spec(const char *fp, const char *const *fields, size_t n, struct buf *out)
{
	buf_puts(out, fp);
	for (size_t i = 0; i < n; i++) {
		buf_putc(out, i ? ',' : ':');
		buf_puts(out, fields[i]);
	}
}

void fingerprint_fields_split(const char *list, char ***fields, size_t *n)
{
	*fields = NULL;
	*n = 0;
	const char *p = list;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len) {
			*fields = xrealloc(*fields, (*n + 1) * sizeof **fields);
			(*fields)[(*n)++] = xstrndup(p, len);
		}
		p = comma ? comma + 1 : NULL;
	}
}

void fingerprint_fields_free(char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
}

int fingerprint_spec_parse(const char *spec, char fp[FINGERPRINT_LEN], char ***fields,
			   size_t *n)
{
	*fields = NULL;
	*n = 0;
	for (int i = 0; i < FINGERPRINT_LEN - 1; i++)
		if (!isxdigit((unsigned char)spec[i]))
			return -1;
	if (spec[FINGERPRINT_LEN - 1] && spec[FINGERPRINT_LEN - 1] != ':')
		return -1;
	memcpy(fp, spec, FINGERPRINT_LEN - 1);
	fp[FINGERPRINT_LEN - 1] = '\0';
	if (spec[FINGERPRINT_LEN - 1] == ':')
		fingerprint_fields_split(spec + FINGERPRINT_LEN, fields, n);
	return 0;
}
