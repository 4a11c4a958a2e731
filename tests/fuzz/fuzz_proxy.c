/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the PROXY header parser: every input is parsed as a
 * stream and as a datagram, and every answer is checked against the
 * parser's contract (a length within the input, need-more never for a
 * datagram, a "need" past what was given).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "proxy.h"

const char fuzz_name[] = "proxy";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h;
	size_t need = 0;

	long rc = proxy_parse(data, size, PROXY_STREAM, &h, &need);
	if (rc > (long)size || (rc == 0 && need <= size) || (rc > 0 && h.version == 0))
		abort();
	/* An answer given on a prefix stands once more bytes arrive. */
	if (rc > 0 && proxy_parse(data, (size_t)rc, PROXY_STREAM, &h, NULL) != rc)
		abort();
	rc = proxy_parse(data, size, PROXY_DGRAM, &h, &need);
	if (rc == 0 || rc > (long)size)
		abort();
	return 0;
}
