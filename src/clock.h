/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one clock for intervals, deadlines and latencies: CLOCK_MONOTONIC, in
 * the unit each caller counts in.  Every reading comes from the same clock, so
 * a time in ms from the event loop and one in ns from the client compare.
 */
#ifndef ECHOD_CLOCK_H
#define ECHOD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an arbitrary point (boot, on Linux); never goes back. */
static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same clock in microseconds (sd_notify's MONOTONIC_USEC). */
static inline uint64_t clock_mono_us(void)
{
	return clock_mono_ns() / 1000u;
}

/* The same clock in milliseconds (the event loop's timers). */
static inline uint64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000u;
}

#endif
