/* Unit tests of common/strmap.c, the one hash table: string and byte keys
 * (NUL inside), values replaced in place, growth over many keys. */
#include "t.h"
#include "strmap.h"

#include <stdio.h>

int main(void)
{
	struct strmap *m = strmap_new();
	T_EQ_INT(strmap_get(m, "a"), -1, "an empty map has no key");
	strmap_put(m, "a", 1);
	strmap_put(m, "b", 2);
	strmap_put(m, "a", 3);
	T_EQ_INT(strmap_get(m, "a"), 3, "a second put replaces the value");
	T_EQ_INT(strmap_count(m), 2, "two keys");
	T_EQ_INT(strmap_getn(m, "ab", 1), 3, "getn reads a prefix as its own key");
	const char k1[] = {'x', 0, 'y'}, k2[] = {'x', 0, 'z'};
	strmap_putn(m, k1, sizeof k1, 10);
	strmap_putn(m, k2, sizeof k2, 11);
	T_EQ_INT(strmap_getn(m, k1, sizeof k1), 10, "byte keys: NUL inside, first");
	T_EQ_INT(strmap_getn(m, k2, sizeof k2), 11, "byte keys: NUL inside, second");
	T_EQ_INT(strmap_get(m, "x"), -1, "a byte key is not its C-string prefix");
	int all = 1;
	for (long i = 0; i < 20000; i++) {
		char k[32];
		snprintf(k, sizeof k, "key%ld", i);
		strmap_put(m, k, i);
	}
	for (long i = 0; i < 20000; i++) {
		char k[32];
		snprintf(k, sizeof k, "key%ld", i);
		if (strmap_get(m, k) != i)
			all = 0;
	}
	T_OK(all, "20000 keys after growing: each has its value");
	T_EQ_INT(strmap_count(m), 20004, "count after growing");
	T_EQ_INT(strmap_getn(m, k1, sizeof k1), 10, "byte keys survive growth");
	strmap_free(m);
	return t_done();
}
