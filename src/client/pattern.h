/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The byte pattern echod-bench sends: a deterministic function of (stream,
 * offset), so that the sender never copies and the verifier is one memcmp
 * against a slice of a static table.
 */
#ifndef ECHOD_CLIENT_PATTERN_H
#define ECHOD_CLIENT_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * The pattern repeats every PATTERN_PERIOD bytes.  A prime, so that no power
 * of two message or buffer size lines up with it: a server that loses or
 * repeats a whole buffer shifts the stream by a non-multiple of the period
 * and the very next byte is (with probability 255/256) wrong.
 */
#define PATTERN_PERIOD 65521u

/* Fill the table.  Idempotent; call once before anything else here. */
void pattern_init(void);

/* The phase of stream `id` (a connection or datagram flow number): streams
 * with different ids see different bytes at the same offset, so bytes that a
 * server sends to the wrong client are caught too. */
uint32_t pattern_phase(uint64_t id);

/* The byte at `off` of the stream with phase `phase`. */
uint8_t pattern_byte(uint32_t phase, uint64_t off);

/* A pointer to the bytes at `off`: at least PATTERN_PERIOD of them are
 * contiguous from there. */
const uint8_t *pattern_at(uint32_t phase, uint64_t off);

/*
 * Compare `buf` with the `len` pattern bytes that start at `off`.  Returns
 * `len` if they all match, else the index of the first byte that differs.
 */
size_t pattern_check(uint32_t phase, uint64_t off, const void *buf, size_t len);

/*
 * Describe the `len` pattern bytes at `off` in at most `max` iovecs (for
 * writev/sendmsg straight from the table).  Returns the number of iovecs
 * filled; *covered gets how many bytes they hold (less than len only when
 * max iovecs are not enough).
 */
int pattern_iov(uint32_t phase, uint64_t off, size_t len, struct iovec *iov, int max,
                size_t *covered);

#endif
