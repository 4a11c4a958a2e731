/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The histogram's bucket arithmetic.  A value v >= 2 * HIST_SUB keeps its
 * HIST_SUB_BITS + 1 most significant bits; the number of bits dropped picks
 * the group of buckets and the kept bits the bucket in it.  Smaller values
 * are their own index, so the two ranges join without a gap.
 */
#include "acconfig.h"

#include <math.h>
#include <string.h>

#include "hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * HIST_SUB)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	/* (v >> shift) is in [HIST_SUB, 2 * HIST_SUB). */
	return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

uint64_t hist_bucket_low(size_t idx)
{
	size_t shift;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = idx / HIST_SUB - 1;
	return (uint64_t)(idx - shift * HIST_SUB) << shift;
}

uint64_t hist_bucket_high(size_t idx)
{
	size_t shift;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = idx / HIST_SUB - 1;
	return hist_bucket_low(idx) + (((uint64_t)1 << shift) - 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	if (src->n == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0, v;
	double x;
	size_t i;

	if (h->n == 0)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	/* The smallest rank r (1-based) with r >= pct% of n; the slack keeps
	 * 99.9% of 10000 at 9990 although the product comes out 9989.99... */
	x = pct / 100.0 * (double)h->n;
	rank = (uint64_t)ceil(x - 1e-9 * (x + 1.0));
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max;
	v = hist_bucket_low(i) + (hist_bucket_high(i) - hist_bucket_low(i)) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

double hist_mean(const struct hist *h)
{
	return h->n != 0 ? (double)h->sum / (double)h->n : 0.0;
}
