/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the handover record decoder: any input is decoded;
 * an accepted record must encode again and decode to the same fields.
 * (The record comes from another echod worker, not from a client, but a
 * decoder that a corrupted message could crash is a bug all the same.)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "channel.h"
#include "handover_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handover_rec r, again;
	unsigned char buf[CHAN_MAX_PAYLOAD + 64];

	if (handover_rec_decode(data, size, &r) == -1)
		return 0;
	if (r.queue_inline_len > 0 && r.queue_inline_len != r.queue_len)
		__builtin_trap();
	long len = handover_rec_encode(&r, buf, sizeof(buf));
	if (len < 0)
		return 0; /* an inline queue too large to re-encode here */
	if (handover_rec_decode(buf, (size_t)len, &again) == -1 ||
	    again.t.bytes_in != r.t.bytes_in || again.t.idle_ms != r.t.idle_ms ||
	    again.t.peer_eof != r.t.peer_eof || again.queue_len != r.queue_len ||
	    again.queue_inline_len != r.queue_inline_len || again.t.has_proxy != r.t.has_proxy)
		__builtin_trap();
	return 0;
}
