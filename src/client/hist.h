/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: fixed size,
 * no allocation, O(1) recording, and every recorded value is known to within
 * a relative error of 2^-HIST_SUB_BITS, from one nanosecond to centuries.
 */
#ifndef ECHOD_CLIENT_HIST_H
#define ECHOD_CLIENT_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Each power of two is split into 2^HIST_SUB_BITS equal buckets: 7 bits keep
 * a bucket's width below 1/128 (0.8 %) of its values. */
#define HIST_SUB_BITS 7
#define HIST_SUB      ((size_t)1 << HIST_SUB_BITS)
/* Values below 2 * HIST_SUB have a bucket each; every further power of two
 * up to 2^63 adds HIST_SUB buckets. */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t n;
	uint64_t min;
	uint64_t max;
	uint64_t sum; /* for the mean; 2^64 ns is 584 years */
};

void hist_reset(struct hist *h);

/* The bucket that holds v, and the range [low, high] of values it holds. */
size_t hist_index(uint64_t v);
uint64_t hist_bucket_low(size_t idx);
uint64_t hist_bucket_high(size_t idx);

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Add every value of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value below which `pct` percent (0..100) of the recorded values lie:
 * the middle of the bucket that holds it, clamped to [min, max], so its
 * relative error is at most 2^-(HIST_SUB_BITS + 1).  0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double pct);

/* The mean, or 0 when empty. */
double hist_mean(const struct hist *h);

#endif
