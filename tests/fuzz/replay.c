/* replay: runs a fuzz target (linked with it) over files, without
 * libFuzzer, so the corpus and every crash once found replay in `make
 * check` with any compiler. Usage: fuzz_x FILE... ; exit 0 when no input
 * aborts (a failure ends the process). */
#include "fuzz.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		size_t len;
		char *data = read_file(argv[i], &len);
		if (!data) {
			fprintf(stderr, "replay: %s: cannot read\n", argv[i]);
			return 2;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		free(data);
		n++;
	}
	printf("replayed %d inputs\n", n);
	return 0;
}
