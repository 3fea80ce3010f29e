/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_pcap.c: libFuzzer target for the pcap reader (and, by detection, the pcapng path), its split handling and the writer round trip. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run(SP_FMT_PCAP, data, size);
	/* Auto-detection sends pcapng magic to libpcap through our buffered cookie reader. */
	if (size >= 4 && memcmp(data, "\x0a\x0d\x0d\x0a", 4) == 0)
		fz_run(SP_FMT_PCAPNG, data, size);
	return 0;
}
