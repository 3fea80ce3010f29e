/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_vde.c: libFuzzer target for the VDE (2-byte length) framer, its split handling and the writer round trip. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(SP_FMT_VDE, data, size);
}
