/* fuzz_html: segment's html reader under a fuzzer (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(SEG_HTML, data, size);
	return 0;
}
