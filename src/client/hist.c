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

double hist_next_level(double pct, int ticks_per_half)
{
	/* Which halving of the distance to 100 % pct is in: 0 below 50 %, 1
	 * below 75 %, ... */
	double halvings = floor(log2(100.0 / (100.0 - pct)));
	double ticks = (double)ticks_per_half * pow(2.0, halvings + 1.0);

	return pct + 100.0 / ticks;
}

/* The standard deviation, from the buckets' middles. */
static double hist_stddev(const struct hist *h)
{
	double mean = hist_mean(h), sq = 0.0;

	if (h->n == 0)
		return 0.0;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		if (h->count[i] == 0)
			continue;
		double mid = (double)hist_bucket_low(i) +
		             (double)(hist_bucket_high(i) - hist_bucket_low(i)) / 2.0;
		sq += (double)h->count[i] * (mid - mean) * (mid - mean);
	}
	return sqrt(sq / (double)h->n);
}

void hist_write_percentiles(const struct hist *h, FILE *out, double unit)
{
	size_t i = 0;
	uint64_t seen;
	double level = 0.0;

	fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
	        "1/(1-Percentile)");
	if (h->n > 0) {
		while (h->count[i] == 0)
			i++;
		seen = h->count[i];
		for (;;) {
			/* The first bucket at which the share seen reaches the
			 * level; its highest value, as HdrHistogram reports. */
			while (100.0 * (double)seen / (double)h->n < level) {
				while (h->count[++i] == 0)
					continue;
				seen += h->count[i];
			}
			uint64_t v = hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (seen == h->n) {
				fprintf(out, "%12.3f %2.12f %10llu\n", (double)v / unit, 1.0,
				        (unsigned long long)seen);
				break;
			}
			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", (double)v / unit,
			        level / 100.0, (unsigned long long)seen,
			        1.0 / (1.0 - level / 100.0));
			level = hist_next_level(level, 5);
		}
	}
	fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / unit,
	        hist_stddev(h) / unit);
	fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n",
	        h->n > 0 ? (double)h->max / unit : 0.0, (unsigned long long)h->n);
	fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", 64 - HIST_SUB_BITS,
	        (int)(2 * HIST_SUB));
}
