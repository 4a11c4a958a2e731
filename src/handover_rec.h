/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The record that travels beside a connection's socket when one worker hands
 * it to another (handover.c): its state and the bytes it had read but not yet
 * echoed.  A list of tagged fields, so that later per-connection state (PROXY
 * addresses, connection ids) is one more tag, and a receiver skips tags it
 * does not know.  Pure: encoding and decoding touch nothing but the buffers.
 */
#ifndef ECHOD_HANDOVER_REC_H
#define ECHOD_HANDOVER_REC_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct handover_rec {
	struct conn_transfer t;
	uint64_t queue_len;       /* bytes read and not yet echoed */
	const void *queue_inline; /* all of them, if they travel in the record */
	size_t queue_inline_len;  /* 0 or queue_len; else a memfd carries them */
};

/* Bytes a record takes besides an inline queue. */
#define HANDOVER_REC_FIXED 112

/*
 * Write r into buf (cap bytes).  Returns the length, or -1 if it does not fit
 * (an inline queue too large for cap: send the queue in a memfd instead).
 */
long handover_rec_encode(const struct handover_rec *r, void *buf, size_t cap);

/*
 * Read a record from buf (len bytes) into *r; r->queue_inline then points
 * into buf.  Returns 0, or -1 if the record is malformed: a field cut short,
 * a known field of the wrong size, a required one (counters, queue length)
 * missing, or an inline queue that is neither empty nor the whole queue.
 */
int handover_rec_decode(const void *buf, size_t len, struct handover_rec *r);

#endif
