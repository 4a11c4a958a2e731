/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-source table (see srclimit.h).  Rates are token buckets counted in
 * thousandths, refilled from the time elapsed since the bucket was last
 * touched, whichever worker touched it: CLOCK_MONOTONIC is one clock for all
 * of them.  A ticket names an entry and the generation of its owner, so that
 * a connection that closes after its entry changed hands (or after
 * srclimit_forget_connections()) counts nothing off anyone.
 */
#include "acconfig.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "srclimit.h"

struct entry {
	uint64_t key;     /* keyed hash of the source; 0: free */
	uint64_t seen;    /* the slot's clock at its last connection or datagram */
	uint64_t conn_ms; /* when conn_tokens was last brought up to date */
	uint64_t udp_ms;
	uint32_t conn_tokens; /* in thousandths of a connection */
	uint32_t udp_tokens;  /* in thousandths of a datagram */
	uint32_t conns;       /* open connections counted */
	uint32_t gen;         /* bumped whenever the entry's counts are reset */
};

struct slot {
	pthread_mutex_t lock;
	uint64_t clock; /* ticks at each use of an entry: exact recency */
	struct entry e[SRCLIMIT_WAYS];
} __attribute__((aligned(64)));

struct srclimit {
	uint64_t k0, k1; /* the hash key */
	size_t nslots;   /* a power of two */
	size_t map_len;
	struct slot slots[];
};

size_t srclimit_size_for(int workers, int max_connections)
{
	uint64_t want = 4 * (uint64_t)(workers > 0 ? workers : 1) *
	                (uint64_t)(max_connections > 0 ? max_connections : 1);
	size_t n = SRCLIMIT_MIN_ENTRIES;

	while (n < want && n < SRCLIMIT_MAX_ENTRIES)
		n *= 2;
	return n;
}

/* SipHash-2-4: a keyed hash, so that sources cannot be chosen to collide. */
static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

static uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t len)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	uint64_t m;
	size_t i, left = len % 8;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | p[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; j < left; j++)
		m |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct srclimit *srclimit_new(size_t entries)
{
	pthread_mutexattr_t attr;
	size_t nslots, len;
	struct srclimit *t;
	uint64_t key[2];

	if (entries < SRCLIMIT_WAYS || (entries & (entries - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return NULL;
	nslots = entries / SRCLIMIT_WAYS;
	len = sizeof(*t) + nslots * sizeof(struct slot);
	t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	t->k0 = key[0];
	t->k1 = key[1];
	t->nslots = nslots;
	t->map_len = len;
	if (pthread_mutexattr_init(&attr) != 0 ||
	    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) {
		munmap(t, len);
		errno = ENOTSUP;
		return NULL;
	}
	/* The rest of the mapping is already zero: every entry free. */
	for (size_t i = 0; i < nslots; i++)
		pthread_mutex_init(&t->slots[i].lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return t;
}

void srclimit_free(struct srclimit *t)
{
	if (t != NULL)
		munmap(t, t->map_len);
}

size_t srclimit_entries(const struct srclimit *t)
{
	return t->nslots * SRCLIMIT_WAYS;
}

static void slot_lock(struct slot *s)
{
	/* The previous holder died: what it was changing is a count or a
	 * rate, wrong at worst by one event.  Carry on. */
	if (pthread_mutex_lock(&s->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&s->lock);
}

static void slot_unlock(struct slot *s)
{
	pthread_mutex_unlock(&s->lock);
}

static uint64_t key_of(const struct srclimit *t, const struct limits_conf *lim,
                       const struct cidr_addr *src)
{
	uint8_t buf[17];
	struct cidr_addr a = *src;
	uint64_t h;

	if (a.family == AF_INET6)
		cidr_addr_mask(&a, (unsigned)lim->source_prefix_v6);
	buf[0] = a.family;
	memcpy(buf + 1, a.b, 16);
	h = siphash(t->k0, t->k1, buf, sizeof(buf));
	return h != 0 ? h : 1;
}

static uint32_t burst_of(int rate, int burst)
{
	return (uint32_t)(burst > 0 ? burst : rate);
}

/* Bring a bucket up to date and take one token from it; 1 if there was one. */
static int take(uint32_t *tokens, uint64_t *stamp, uint64_t now, int rate, uint32_t burst)
{
	uint64_t cap = (uint64_t)burst * 1000, have = *tokens;

	if (now > *stamp) {
		uint64_t add = (now - *stamp) * (uint64_t)rate;
		have = add >= cap || have + add >= cap ? cap : have + add;
		*stamp = now;
	}
	if (have > cap)
		have = cap; /* a reload lowered the burst */
	if (have < 1000) {
		*tokens = (uint32_t)have;
		return 0;
	}
	*tokens = (uint32_t)(have - 1000);
	return 1;
}

/* The entry of src in its slot, which the caller has locked; made (taking
 * a free or idle entry) if absent.  NULL if the slot has no room. */
static struct entry *find(struct slot *s, uint64_t key, const struct limits_conf *lim, uint64_t now)
{
	struct entry *free_e = NULL, *idle = NULL, *victim;

	for (int i = 0; i < SRCLIMIT_WAYS; i++) {
		struct entry *e = &s->e[i];
		if (e->key == key)
			return e;
		if (e->key == 0) {
			if (free_e == NULL)
				free_e = e;
		} else if (e->conns == 0 && (idle == NULL || e->seen < idle->seen)) {
			idle = e;
		}
	}
	if ((victim = free_e != NULL ? free_e : idle) == NULL)
		return NULL;
	victim->key = key;
	victim->gen++;
	victim->conns = 0;
	victim->conn_ms = now;
	victim->udp_ms = now;
	victim->conn_tokens = burst_of(lim->per_source_rate, lim->per_source_burst) * 1000;
	victim->udp_tokens = burst_of(lim->udp_per_source_rate, 0) * 1000;
	return victim;
}

enum srclimit_verdict srclimit_connect(struct srclimit *t, const struct limits_conf *lim,
                                       const struct cidr_addr *src, uint64_t now_ms,
                                       uint64_t *ticket)
{
	uint64_t key = key_of(t, lim, src);
	size_t si = key & (t->nslots - 1);
	struct slot *s = &t->slots[si];
	enum srclimit_verdict v = SRCLIMIT_OK;
	struct entry *e;

	*ticket = 0;
	slot_lock(s);
	if ((e = find(s, key, lim, now_ms)) == NULL) {
		v = SRCLIMIT_FULL;
		goto out;
	}
	e->seen = ++s->clock;
	if (lim->per_source_connections > 0 && e->conns >= (uint32_t)lim->per_source_connections) {
		v = SRCLIMIT_CONNECTIONS;
		goto out;
	}
	if (lim->per_source_rate > 0 &&
	    !take(&e->conn_tokens, &e->conn_ms, now_ms, lim->per_source_rate,
	          burst_of(lim->per_source_rate, lim->per_source_burst))) {
		v = SRCLIMIT_RATE;
		goto out;
	}
	if (lim->per_source_connections > 0) {
		e->conns++;
		*ticket = (uint64_t)e->gen << 32 |
		          (uint64_t)(si * SRCLIMIT_WAYS + (size_t)(e - s->e) + 1);
	}
out:
	slot_unlock(s);
	return v;
}

enum srclimit_verdict srclimit_adopt(struct srclimit *t, const struct limits_conf *lim,
                                     const struct cidr_addr *src, uint64_t now_ms, uint64_t *ticket)
{
	uint64_t key = key_of(t, lim, src);
	size_t si = key & (t->nslots - 1);
	struct slot *s = &t->slots[si];
	enum srclimit_verdict v = SRCLIMIT_FULL;
	struct entry *e;

	*ticket = 0;
	if (lim->per_source_connections <= 0)
		return SRCLIMIT_OK;
	slot_lock(s);
	if ((e = find(s, key, lim, now_ms)) != NULL) {
		e->seen = ++s->clock;
		e->conns++;
		*ticket = (uint64_t)e->gen << 32 |
		          (uint64_t)(si * SRCLIMIT_WAYS + (size_t)(e - s->e) + 1);
		v = SRCLIMIT_OK;
	}
	slot_unlock(s);
	return v;
}

void srclimit_close(struct srclimit *t, uint64_t ticket)
{
	uint64_t index = (ticket & 0xffffffffu) - 1;
	uint32_t gen = (uint32_t)(ticket >> 32);

	if (ticket == 0 || index >= t->nslots * SRCLIMIT_WAYS)
		return;
	struct slot *s = &t->slots[index / SRCLIMIT_WAYS];
	struct entry *e = &s->e[index % SRCLIMIT_WAYS];
	slot_lock(s);
	if (e->gen == gen && e->conns > 0)
		e->conns--;
	slot_unlock(s);
}

enum srclimit_verdict srclimit_datagram(struct srclimit *t, const struct limits_conf *lim,
                                        const struct cidr_addr *src, uint64_t now_ms)
{
	uint64_t key = key_of(t, lim, src);
	struct slot *s = &t->slots[key & (t->nslots - 1)];
	enum srclimit_verdict v = SRCLIMIT_OK;
	struct entry *e;

	slot_lock(s);
	if ((e = find(s, key, lim, now_ms)) == NULL) {
		v = SRCLIMIT_FULL;
	} else {
		e->seen = ++s->clock;
		if (lim->udp_per_source_rate > 0 &&
		    !take(&e->udp_tokens, &e->udp_ms, now_ms, lim->udp_per_source_rate,
		          burst_of(lim->udp_per_source_rate, 0)))
			v = SRCLIMIT_RATE;
	}
	slot_unlock(s);
	return v;
}

void srclimit_forget_connections(struct srclimit *t)
{
	for (size_t i = 0; i < t->nslots; i++) {
		struct slot *s = &t->slots[i];
		slot_lock(s);
		for (int j = 0; j < SRCLIMIT_WAYS; j++) {
			if (s->e[j].conns > 0) {
				s->e[j].conns = 0;
				s->e[j].gen++;
			}
		}
		slot_unlock(s);
	}
}

unsigned srclimit_connections(struct srclimit *t, const struct limits_conf *lim,
                              const struct cidr_addr *src)
{
	uint64_t key = key_of(t, lim, src);
	struct slot *s = &t->slots[key & (t->nslots - 1)];
	unsigned n = 0;

	slot_lock(s);
	for (int i = 0; i < SRCLIMIT_WAYS; i++)
		if (s->e[i].key == key)
			n = s->e[i].conns;
	slot_unlock(s);
	return n;
}
