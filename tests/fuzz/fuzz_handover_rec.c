/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the record that comes beside a handed-over connection from
 * another worker, possibly of another binary after an upgrade
 * (handover_rec_decode, src/handover_rec.c).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "handover_rec.h"

const char fuzz_name[] = "handover_rec";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that ASan sees any read past the
	 * record. */
	uint8_t *buf = malloc(size ? size : 1);
	struct handover_rec r;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (handover_rec_decode(buf, size, &r) == 0) {
		const uint8_t *q = r.queue_inline;
		/* What the decoder promises: an inline queue is empty or the
		 * whole queue, and lies inside the record. */
		if (r.queue_inline_len != 0 && (r.queue_inline_len != r.queue_len || q < buf ||
		                                q + r.queue_inline_len > buf + size))
			abort();
		/* A decoded record encodes again and decodes to the same state. */
		size_t cap = HANDOVER_REC_FIXED + r.queue_inline_len;
		uint8_t *again = malloc(cap);
		struct handover_rec r2;
		long n = again != NULL ? handover_rec_encode(&r, again, cap) : -1;
		if (again != NULL && n < 0)
			abort();
		if (n >= 0 &&
		    (handover_rec_decode(again, (size_t)n, &r2) != 0 ||
		     r2.queue_len != r.queue_len || r2.queue_inline_len != r.queue_inline_len ||
		     r2.t.bytes_in != r.t.bytes_in || !r2.t.peer_eof != !r.t.peer_eof ||
		     (r.queue_inline_len != 0 &&
		      memcmp(r2.queue_inline, r.queue_inline, r.queue_inline_len) != 0)))
			abort();
		free(again);
	}
	free(buf);
	return 0;
}
