/* Unit tests of common/record.c: fields set and removed in place. */
#include "record.h"
#include "t.h"

#include <stdlib.h>

static void set(const char *in, const char *key, const char *val, const char *want)
{
	struct buf b = {0};
	record_set(&b, in, strlen(in), key, val, strlen(val));
	T_EQ_STR(b.p, want, in);
	buf_free(&b);
}

static void del(const char *in, const char *key, const char *want)
{
	struct buf b = {0};
	record_del(&b, in, strlen(in), key);
	T_EQ_STR(b.p, want, in);
	buf_free(&b);
}

int main(void)
{
	set("{}", "a", "1", "{\"a\":1}");
	set("{ }", "a", "1", "{\"a\":1}");
	set("{\"x\":1.50,\"big\":12345678901234567890}", "a", "[1]",
	    "{\"x\":1.50,\"big\":12345678901234567890,\"a\":[1]}");
	set("{\"a\":{\"b\":\"}\"},\"c\":2}", "a", "3", "{\"a\":3,\"c\":2}");
	set("{\"s\":\"a\\\"b\",\"a\":[1,[2]],\"z\":0}", "a", "null",
	    "{\"s\":\"a\\\"b\",\"a\":null,\"z\":0}");
	set("{\"ab\":1}", "a", "2", "{\"ab\":1,\"a\":2}");
	set("{\"nested\":{\"a\":1}}", "a", "2", "{\"nested\":{\"a\":1},\"a\":2}");
	set("  {\"x\" : true }  ", "x", "false", "  {\"x\" : false }  ");

	del("{\"a\":1,\"b\":2}", "a", "{\"b\":2}");
	del("{\"a\":1,\"b\":2}", "b", "{\"a\":1}");
	del("{\"a\":1}", "a", "{}");
	del("{\"a\":1 , \"b\":2 , \"c\":3}", "b", "{\"a\":1 , \"c\":3}");
	del("{\"a\":1}", "zz", "{\"a\":1}");
	/* a name written with escapes is that name (issue 8: embed and store
	 * added a second "embedding" beside "\u0065mbedding") */
	set("{\"\\u0065mbedding\":[1],\"x\":2}", "embedding", "[3]",
	    "{\"\\u0065mbedding\":[3],\"x\":2}");
	del("{\"id\":1,\"\\u0074ext\":\"t\"}", "text", "{\"id\":1}");

	size_t ms, me, vs, ve;
	const char *j = "{\"k\":\"v\",\"e\":[1,2,3]}";
	T_OK(record_find(j, strlen(j), "e", &ms, &me, &vs, &ve), "find e");
	T_EQ_INT(ve - vs, 7, "value span of e");
	T_OK(!record_find(j, strlen(j), "v", NULL, NULL, NULL, NULL), "a value is not a key");
	struct record_members mems = {0};
	size_t close;
	const char *o = " {\"a\" : [1,{\"b\":\"}\"}], \"c\":\"x\\\"y\"} ";
	T_EQ_INT(record_scan(o, strlen(o), &mems, &close), 0, "scan an object");
	T_EQ_INT(mems.n, 2, "two members");
	T_OK(mems.n == 2 && !strncmp(o + mems.m[0].vs, "[1,{\"b\":\"}\"}]", mems.m[0].ve - mems.m[0].vs),
	     "first value span");
	T_OK(mems.n == 2 && !strncmp(o + mems.m[1].ks, "\"c\"", mems.m[1].ke - mems.m[1].ks), "second key span");
	T_EQ_INT(o[close], '}', "close is the final brace");
	T_EQ_INT(record_scan("[1]", 3, &mems, &close), -1, "an array is not an object");
	free(mems.m);
	return t_done();
}
