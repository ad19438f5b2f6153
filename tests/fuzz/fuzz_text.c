/* fuzz_text: segment's text, Markdown, SRT and WebVTT readers (format detected) under a fuzzer (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(SEG_AUTO, data, size);
	return 0;
}
