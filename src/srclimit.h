/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-source limits over all workers: a table in shared memory, made by the
 * master before it forks, that every worker updates.  It has a fixed size
 * (a flood of forged sources cannot make it grow), each operation touches
 * one slot of SRCLIMIT_WAYS entries under that slot's lock (O(1)), and the
 * locks are robust: a worker that dies holding one does not stall the rest.
 *
 * A source is an IPv4 address or an IPv6 prefix of limits.source_prefix_v6
 * bits, found by a hash keyed with a secret chosen at creation, so that
 * nobody can aim sources at one slot.  A new source takes the free entry of
 * its slot, or the one least recently seen among those with no connection
 * open; if every entry of the slot holds open connections, the source is
 * not tracked (SRCLIMIT_FULL).
 */
#ifndef ECHOD_SRCLIMIT_H
#define ECHOD_SRCLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "config.h"

#define SRCLIMIT_WAYS        8
#define SRCLIMIT_MIN_ENTRIES 4096
#define SRCLIMIT_MAX_ENTRIES (1u << 20)

struct srclimit;

enum srclimit_verdict {
	SRCLIMIT_OK,          /* within every limit; counted */
	SRCLIMIT_CONNECTIONS, /* over per_source_connections: refuse */
	SRCLIMIT_RATE,        /* over per_source_rate or udp_per_source_rate: refuse */
	SRCLIMIT_FULL,        /* no room to track the source: let it in, untracked */
};

/* The entries a configuration needs: 4 x workers x max_connections, as a
 * power of two within [SRCLIMIT_MIN_ENTRIES, SRCLIMIT_MAX_ENTRIES]. */
size_t srclimit_size_for(int workers, int max_connections);

/*
 * Make a table of `entries` (a power of two, at least SRCLIMIT_WAYS) in
 * anonymous shared memory, which processes forked afterwards share.  Returns
 * it, or NULL with errno.
 */
struct srclimit *srclimit_new(size_t entries);

/* Unmap the table from this process (others keep their mapping). */
void srclimit_free(struct srclimit *t);

size_t srclimit_entries(const struct srclimit *t);

/*
 * A new stream connection from `src` at now_ms (CLOCK_MONOTONIC, the same in
 * every process).  SRCLIMIT_OK: it is counted, and *ticket is what to give
 * srclimit_close() when it ends.  Otherwise *ticket is 0: SRCLIMIT_FULL lets
 * it in uncounted; SRCLIMIT_CONNECTIONS and SRCLIMIT_RATE refuse it (and it
 * is not counted).  A limit that is 0 in `lim` is not checked.
 */
enum srclimit_verdict srclimit_connect(struct srclimit *t, const struct limits_conf *lim,
                                       const struct cidr_addr *src, uint64_t now_ms,
                                       uint64_t *ticket);

/* A connection that srclimit_connect() counted has ended.  A ticket whose
 * entry has since been given to another source is ignored. */
void srclimit_close(struct srclimit *t, uint64_t ticket);

/* The same, for a connection another worker counted and handed over (and
 * counted off): counted again whatever the limits say, for it is already
 * open.  SRCLIMIT_OK with a ticket, or SRCLIMIT_FULL uncounted. */
enum srclimit_verdict srclimit_adopt(struct srclimit *t, const struct limits_conf *lim,
                                     const struct cidr_addr *src, uint64_t now_ms,
                                     uint64_t *ticket);

/* One datagram from `src`: SRCLIMIT_OK, SRCLIMIT_RATE (drop it) or
 * SRCLIMIT_FULL (echo it, untracked). */
enum srclimit_verdict srclimit_datagram(struct srclimit *t, const struct limits_conf *lim,
                                        const struct cidr_addr *src, uint64_t now_ms);

/* Forget every count of open connections: a worker died without counting
 * its connections off, and which ones were its is not recorded. */
void srclimit_forget_connections(struct srclimit *t);

/* The open connections counted for `src` (for tests). */
unsigned srclimit_connections(struct srclimit *t, const struct limits_conf *lim,
                              const struct cidr_addr *src);

#endif
