/* fuzz_office: segment's DOCX and ODT reader under a fuzzer (see fuzz.h):
 * the first byte picks the format, the rest is the file. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_one(data[0] & 1 ? SEG_ODT : SEG_DOCX, data + 1, size - 1);
	return 0;
}
