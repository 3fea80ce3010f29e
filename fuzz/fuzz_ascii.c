/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_ascii.c: libFuzzer target for the ASCII (EtherPIPE line) reader, its split handling and the writer round trip. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(SP_FMT_ASCII, data, size);
}
