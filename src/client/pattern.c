/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The verification pattern: a table of pseudo-random bytes, stored twice in a
 * row so that any PATTERN_PERIOD bytes starting anywhere in the first copy
 * are contiguous.  Pseudo-random rather than a counter because a counter
 * repeats with small periods and lets a byte lost here and a byte repeated
 * there cancel out.
 */
#include "acconfig.h"

#include <string.h>

#include "pattern.h"

static uint8_t pattern_table[2 * PATTERN_PERIOD];
static int pattern_ready;

/* splitmix64: small, fast and well mixed; the seed is fixed so that every
 * run (and every version) sends the same bytes, which helps when reading a
 * packet capture. */
static uint64_t pattern_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void pattern_init(void)
{
	uint32_t i;
	uint64_t r = 0;

	if (pattern_ready)
		return;
	for (i = 0; i < PATTERN_PERIOD; i++) {
		if (i % 8 == 0)
			r = pattern_mix(0x6563686f64ull + i);
		pattern_table[i] = (uint8_t)r;
		r >>= 8;
	}
	memcpy(pattern_table + PATTERN_PERIOD, pattern_table, PATTERN_PERIOD);
	pattern_ready = 1;
}

uint32_t pattern_phase(uint64_t id)
{
	return (uint32_t)(pattern_mix(id) % PATTERN_PERIOD);
}

static inline uint32_t pattern_pos(uint32_t phase, uint64_t off)
{
	return (uint32_t)((phase + off % PATTERN_PERIOD) % PATTERN_PERIOD);
}

uint8_t pattern_byte(uint32_t phase, uint64_t off)
{
	return pattern_table[pattern_pos(phase, off)];
}

const uint8_t *pattern_at(uint32_t phase, uint64_t off)
{
	return pattern_table + pattern_pos(phase, off);
}

size_t pattern_check(uint32_t phase, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t pos = pattern_pos(phase, off);
	size_t done = 0;

	while (done < len) {
		size_t n = len - done;
		size_t i;

		if (n > PATTERN_PERIOD)
			n = PATTERN_PERIOD;
		/* memcmp is the fast path; only a mismatch pays for the byte loop
		 * that finds where it is. */
		if (memcmp(p + done, pattern_table + pos, n) != 0) {
			for (i = 0; p[done + i] == pattern_table[pos + i]; i++)
				;
			return done + i;
		}
		done += n;
		pos = (uint32_t)((pos + n) % PATTERN_PERIOD);
	}
	return len;
}

int pattern_iov(uint32_t phase, uint64_t off, size_t len, struct iovec *iov, int max,
                size_t *covered)
{
	uint32_t pos = pattern_pos(phase, off);
	size_t done = 0;
	int n = 0;

	while (done < len && n < max) {
		/* From pos the table holds 2 * PERIOD - pos contiguous bytes. */
		size_t chunk = 2 * (size_t)PATTERN_PERIOD - pos;

		if (chunk > len - done)
			chunk = len - done;
		iov[n].iov_base = pattern_table + pos;
		iov[n].iov_len = chunk;
		n++;
		done += chunk;
		pos = (uint32_t)((pos + chunk) % PATTERN_PERIOD);
	}
	*covered = done;
	return n;
}
