/* llm_wire: helpers shared by the Ollama and OpenAI wire formats. */
#include "llm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *llm_wire_single(const char *body, size_t n)
{
	const char *p = body ? body : "";
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
	if (!j || !end || (size_t)(end - p) > n) {
		cJSON_Delete(j);
		return NULL;
	}
	const char *q = end;
	while (q < p + n && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
		q++;
	if (q != p + n) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int llm_wire_stream(const char *body, size_t n, int *done,
		    int (*fn)(const cJSON *obj, void *ud), void *ud, char *err, size_t errlen)
{
	const char *p = body ? body : "";
	const char *line = p;
	while (line < p + n) {
		const char *nl = memchr(line, '\n', (size_t)(p + n - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(p + n - line);
		const char *s = line;
		line = nl ? nl + 1 : p + n;
		if (len >= 5 && !strncmp(s, "data:", 5)) {
			s += 5, len -= 5;
			while (len && *s == ' ')
				s++, len--;
			if (len >= 6 && !strncmp(s, "[DONE]", 6)) {
				*done = 1;
				continue;
			}
		}
		while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
			len--;
		if (!len || *s != '{')
			continue;
		cJSON *k = cJSON_ParseWithLength(s, len);
		if (!k) {
			snprintf(err, errlen, "a streamed chunk is not JSON");
			return -1;
		}
		int rc = fn(k, ud);
		cJSON_Delete(k);
		if (rc)
			return -1;
	}
	return 0;
}

int llm_wire_vector(const cJSON *arr, size_t idx, float **v, size_t n, int *dim, char *err,
		    size_t errlen)
{
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1) {
		snprintf(err, errlen, "embedding %zu is not an array of numbers", idx);
		return -1;
	}
	int d = cJSON_GetArraySize(arr);
	if (!*v) {
		*dim = d;
		*v = xcalloc(n * (size_t)d, sizeof **v);
	}
	if (d != *dim) {
		snprintf(err, errlen, "embeddings of different sizes (%d and %d) in one answer", *dim, d);
		return -1;
	}
	int k = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr) {
		if (!cJSON_IsNumber(x)) {
			snprintf(err, errlen, "embedding %zu holds a non-number", idx);
			return -1;
		}
		(*v)[idx * (size_t)d + (size_t)k++] = (float)x->valuedouble;
	}
	return 0;
}

void llm_wire_message(struct buf *b, int *first, const char *role, const char *content)
{
	if (!*first)
		buf_putc(b, ',');
	*first = 0;
	buf_printf(b, "{\"role\":\"%s\",\"content\":", role);
	buf_json_str(b, content, strlen(content));
	buf_putc(b, '}');
}

int llm_wire_name_matches(const char *have, const char *want)
{
	if (!strcmp(have, want))
		return 1;
	/* "llama3" means "llama3:latest" to Ollama */
	size_t n = strlen(want);
	return !strchr(want, ':') && !strncmp(have, want, n) && !strcmp(have + n, ":latest");
}
