/* fuzz_pdf: segment's pdf reader under a fuzzer (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(SEG_PDF, data, size);
	return 0;
}
