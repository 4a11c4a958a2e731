/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hot counters in memory shared between the master and its workers, one
 * writer per slot (see stats.h), and the master's pool of slots.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stats.h"

/* Slots per shared mapping: 64 slots of about 700 bytes, 11 pages. */
#define CHUNK_SLOTS 64

const uint64_t stats_duration_le_ms[STATS_DURATION_BUCKETS - 1] = {
    10, 100, 1000, 10000, 60000, 300000, 3600000,
};

const char *const stats_close_names[STATS_CLOSE_COUNT] = {
    [STATS_CLOSE_CLIENT] = "client",     [STATS_CLOSE_IDLE] = "idle",
    [STATS_CLOSE_RETIRED] = "retired",   [STATS_CLOSE_ERROR] = "error",
    [STATS_CLOSE_SHUTDOWN] = "shutdown", [STATS_CLOSE_WORKER_EXIT] = "worker_exit",
};

const char *const stats_reject_names[STATS_REJECT_COUNT] = {
    [STATS_REJECT_MAX_CONNECTIONS] = "max_connections",
    [STATS_REJECT_ERROR] = "error",
    [STATS_REJECT_PROXY] = "proxy",
    [STATS_REJECT_ACCESS] = "access",
    [STATS_REJECT_SOURCE_CONNECTIONS] = "per_source_connections",
    [STATS_REJECT_SOURCE_RATE] = "per_source_rate",
};

const char *const stats_drop_names[STATS_DROP_COUNT] = {
    [STATS_DROP_BUFFER] = "buffer_full",
    [STATS_DROP_ERROR] = "error",
    [STATS_DROP_PROXY] = "proxy",
    [STATS_DROP_ACCESS] = "access",
    [STATS_DROP_MARTIAN] = "martian",
    [STATS_DROP_LOOPBACK] = "loopback_spoofed",
    [STATS_DROP_PORT] = "privileged_port",
    [STATS_DROP_SELF] = "own_address",
    [STATS_DROP_SOURCE_RATE] = "per_source_rate",
};

void stats_dgrams_out(struct stats_slot *s, unsigned sent, uint64_t bytes, unsigned full,
                      unsigned failed)
{
	if (s == NULL)
		return;
	stats_add(&s->c.dgrams_out, sent);
	stats_add(&s->c.bytes_out, bytes);
	stats_dropped(s, STATS_DROP_BUFFER, full);
	stats_dropped(s, STATS_DROP_ERROR, failed);
}

enum stats_close stats_close_reason(const char *reason)
{
	/* conn_close()'s reasons are free text for the log; these are the
	 * words they start with. */
	static const struct {
		const char *prefix;
		enum stats_close why;
	} table[] = {
	    {"client", STATS_CLOSE_CLIENT},
	    {"idle", STATS_CLOSE_IDLE},
	    {"retired", STATS_CLOSE_RETIRED},
	    {"shutdown", STATS_CLOSE_SHUTDOWN},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strncmp(reason, table[i].prefix, strlen(table[i].prefix)) == 0)
			return table[i].why;
	return STATS_CLOSE_ERROR;
}

void stats_conn_closed(struct stats_slot *s, const char *reason, uint64_t ms)
{
	size_t b = 0;

	if (s == NULL)
		return;
	while (b < STATS_DURATION_BUCKETS - 1 && ms > stats_duration_le_ms[b])
		b++;
	stats_add(&s->c.closed[stats_close_reason(reason)], 1);
	stats_add(&s->c.duration[b], 1);
	stats_add(&s->c.duration_sum_ms, ms);
}

/* The counters as an array of uint64_t, which they are: every field is one. */
#define NFIELDS (sizeof(struct stats_counters) / sizeof(uint64_t))
_Static_assert(sizeof(struct stats_counters) % sizeof(uint64_t) == 0,
               "struct stats_counters holds uint64_t only");

void stats_read(const struct stats_slot *s, struct stats_counters *out)
{
	const uint64_t *from = (const uint64_t *)(const void *)&s->c;
	uint64_t *to = (uint64_t *)(void *)out;

	for (size_t i = 0; i < NFIELDS; i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

void stats_sum(struct stats_counters *sum, const struct stats_counters *add)
{
	uint64_t *to = (uint64_t *)(void *)sum;
	const uint64_t *from = (const uint64_t *)(const void *)add;

	for (size_t i = 0; i < NFIELDS; i++)
		to[i] += from[i];
}

uint64_t stats_open(const struct stats_counters *c)
{
	uint64_t in = 0, out = 0;

	for (size_t i = 0; i < STATS_MAX_LISTENERS; i++)
		in += c->accepted[i];
	in += c->handed_in;
	out += c->handed_out;
	for (size_t i = 0; i < STATS_REJECT_COUNT; i++)
		out += c->rejected[i];
	for (size_t i = 0; i < STATS_CLOSE_COUNT; i++)
		out += c->closed[i];
	return in > out ? in - out : 0;
}

struct stats_chunk {
	struct stats_slot *slots; /* CHUNK_SLOTS of them, shared */
	unsigned char used[CHUNK_SLOTS];
};

struct stats_pool {
	struct stats_chunk *chunks;
	size_t n;
};

struct stats_pool *stats_pool_new(void)
{
	return calloc(1, sizeof(struct stats_pool));
}

void stats_pool_free(struct stats_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		munmap(p->chunks[i].slots, CHUNK_SLOTS * sizeof(struct stats_slot));
	free(p->chunks);
	free(p);
}

void stats_pool_forget(struct stats_pool *p)
{
	if (p == NULL)
		return;
	free(p->chunks);
	free(p);
}

struct stats_slot *stats_slot_get(struct stats_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < CHUNK_SLOTS; j++)
			if (!p->chunks[i].used[j]) {
				p->chunks[i].used[j] = 1;
				return &p->chunks[i].slots[j];
			}
	struct stats_chunk *c = realloc(p->chunks, (p->n + 1) * sizeof(*c));
	if (c == NULL)
		return NULL;
	p->chunks = c;
	/* MAP_SHARED before the fork: the worker's stores land where the
	 * master reads.  Anonymous memory starts zeroed. */
	void *mem = mmap(NULL, CHUNK_SLOTS * sizeof(struct stats_slot), PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	c = &p->chunks[p->n++];
	memset(c->used, 0, sizeof(c->used));
	c->slots = mem;
	c->used[0] = 1;
	return &c->slots[0];
}

void stats_slot_retire(struct stats_pool *p, struct stats_slot *s, uint64_t handed_in,
                       uint64_t handed_out, struct stats_counters *retired)
{
	struct stats_counters c;

	stats_read(s, &c);
	c.handed_in += handed_in;
	c.handed_out += handed_out;
	/* Their worker is gone, and the kernel closed them with it. */
	c.closed[STATS_CLOSE_WORKER_EXIT] += stats_open(&c);
	stats_sum(retired, &c);
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < p->n; i++) {
		struct stats_chunk *ch = &p->chunks[i];
		if (s >= ch->slots && s < ch->slots + CHUNK_SLOTS)
			ch->used[s - ch->slots] = 0;
	}
}
