/* Unit tests of common/embedder.c without a server: the hash embedder's
 * results and costs, and which records already hold a model's vector.
 * Splitting refused requests is proven against the test double in
 * tests/shell/test_embed.sh and test_classify.sh. */
#include "embedder_hash.h"
#include "embedder.h"
#include "t.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_hash(void)
{
	struct embedder e = {.model = "hash", .name = "hash-16", .digest = "", .hash_dim = 16};
	const char *texts[] = {"alpha beta", "   ", "gamma"};
	struct embedder_result res[3] = {0};
	struct embedder_stats st = {0};
	embedder_run(&e, texts, NULL, 3, res, &st);
	float want[16];
	embedder_hash("alpha beta", 10, 16, want);
	T_OK(res[0].vec && res[0].dim == 16 && !memcmp(res[0].vec, want, sizeof want),
	     "hash: the first text gets embedder_hash's vector");
	T_OK(!res[1].vec && !strcmp(res[1].err.code, "no_text"),
	     "hash: a blank text fails with no_text (%s)", res[1].err.code);
	T_OK(res[2].vec != NULL, "hash: the text after a failure still gets its vector");
	T_EQ_INT(st.texts, 3, "hash: 3 texts counted");
	T_EQ_INT(st.calls, 0, "hash: no requests");
	for (int i = 0; i < 3; i++)
		free(res[i].vec);
}

static void test_has(void)
{
	struct embedder e = {.model = "m", .name = "m", .digest = ""};
	cJSON *j = cJSON_Parse("{\"embedding\":[1,2],\"embedding_model\":\"m\",\"embedding_digest\":\"abc\"}");
	float v[2] = {0};
	T_OK(embedder_has(&e, j, 0, NULL), "done: same model");
	T_OK(embedder_has(&e, j, 2, v) && v[0] == 1 && v[1] == 2, "done: copies the numbers");
	e.digest = "abc";
	T_OK(embedder_has(&e, j, 2, NULL), "done: same digest, same size");
	e.digest = "abd";
	T_OK(!embedder_has(&e, j, 0, NULL), "not done: the model changed under its name");
	e.digest = "";
	T_OK(!embedder_has(&e, j, 3, NULL), "not done: another size was asked for");
	e.name = "n";
	T_OK(!embedder_has(&e, j, 0, NULL), "not done: another model");
	e.name = "m:latest";
	T_OK(embedder_has(&e, j, 0, NULL), "done: m is m:latest");
	cJSON_Delete(j);
	e.name = "m";
	j = cJSON_Parse("{\"embedding\":[],\"embedding_model\":\"m\"}");
	T_OK(!embedder_has(&e, j, 0, NULL), "not done: empty embedding");
	cJSON_Delete(j);
	j = cJSON_Parse("{\"embedding\":[1,\"x\"],\"embedding_model\":\"m\"}");
	T_OK(!embedder_has(&e, j, 0, NULL), "not done: a non-number in the embedding");
	cJSON_Delete(j);
	j = cJSON_Parse("{\"embedding\":[1,2]}");
	T_OK(!embedder_has(&e, j, 0, NULL), "not done: no embedding_model");
	cJSON_Delete(j);
}

int main(void)
{
	test_hash();
	test_has();
	return t_done();
}
