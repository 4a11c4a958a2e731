/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counting and reporting refusals (see refuse.h).  A line that is not due
 * yet arms one timer, so that the tail of a burst is reported too, 10
 * seconds after the line before it, and not only when the next event comes.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "refuse.h"

static const struct {
	const char *name; /* the metric label */
	const char *text; /* what the log line says happened */
} reasons[REFUSE_COUNT] = {
    [REFUSE_NONE] = {"none", "nothing"},
    [REFUSE_ACCESS] = {"access", "connection refused (access list)"},
    [REFUSE_CONNECTIONS] = {"per_source_connections",
                            "connection refused (limits.per_source_connections)"},
    [REFUSE_RATE] = {"per_source_rate", "connection refused (limits.per_source_rate)"},
    [REFUSE_UNTRACKED] = {"limits_table_full",
                          "source let in without per-source limits (its slot of the table "
                          "is full of sources with open connections)"},
    [REFUSE_UDP_ACCESS] = {"udp_access", "udp datagram dropped (access list)"},
    [REFUSE_UDP_MARTIAN] = {"udp_martian", "udp datagram dropped (source is no unicast address)"},
    [REFUSE_UDP_LOOPBACK] = {"udp_loopback_spoofed",
                             "udp datagram dropped (loopback source from another interface)"},
    [REFUSE_UDP_PORT] = {"udp_privileged_port", "udp datagram dropped (source port below 1024)"},
    [REFUSE_UDP_SELF] = {"udp_own_address",
                         "udp datagram dropped (source is one of echod's own listeners)"},
    [REFUSE_UDP_RATE] = {"udp_per_source_rate",
                         "udp datagram dropped (limits.udp_per_source_rate)"},
};

const char *refuse_name(enum refuse_reason why)
{
	return why < REFUSE_COUNT ? reasons[why].name : "unknown";
}

/* "; last from ADDR port N", or "" if the source is not an IP one. */
static void describe(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "; last from %s port %u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "; last from %s port %u", host, ntohs(sin6->sin6_port));
	} else {
		buf[0] = '\0';
	}
}

/* Arm the timer for the earliest line held back, if any. */
static void arm(struct refuse *r)
{
	uint64_t now = ev_now(r->loop), next = 0;

	for (int i = 0; i < REFUSE_COUNT; i++) {
		uint64_t due = log_rate_due(&r->log[i]);
		if (due != 0 && (next == 0 || due < next))
			next = due;
	}
	/* If the timer cannot be armed the tail waits for the next event. */
	if (next != 0)
		(void)ev_timer_start(r->loop, &r->timer, next > now ? next - now : 0);
}

/* Write what reason i holds back, if due (or at once with force). */
static void flush(struct refuse *r, int i, int force)
{
	char from[96];

	describe(&r->latest[i], from, sizeof(from));
	log_rate_flush(&r->log[i], ev_now(r->loop), force, LOG_LEVEL_NOTICE, "%s%s",
	               reasons[i].text, from);
}

static void on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct refuse *r = ev_container_of(t, struct refuse, timer);
	(void)loop;

	for (int i = 0; i < REFUSE_COUNT; i++)
		flush(r, i, 0);
	arm(r);
}

/* The stats reason of each datagram reason; -1: not a datagram's. */
static const int drop_of[REFUSE_COUNT] = {
    [REFUSE_NONE] = -1,
    [REFUSE_ACCESS] = -1,
    [REFUSE_CONNECTIONS] = -1,
    [REFUSE_RATE] = -1,
    [REFUSE_UNTRACKED] = -1,
    [REFUSE_UDP_ACCESS] = STATS_DROP_ACCESS,
    [REFUSE_UDP_MARTIAN] = STATS_DROP_MARTIAN,
    [REFUSE_UDP_LOOPBACK] = STATS_DROP_LOOPBACK,
    [REFUSE_UDP_PORT] = STATS_DROP_PORT,
    [REFUSE_UDP_SELF] = STATS_DROP_SELF,
    [REFUSE_UDP_RATE] = STATS_DROP_SOURCE_RATE,
};

enum stats_reject refuse_stats_reject(enum refuse_reason why)
{
	switch (why) {
	case REFUSE_CONNECTIONS:
		return STATS_REJECT_SOURCE_CONNECTIONS;
	case REFUSE_RATE:
		return STATS_REJECT_SOURCE_RATE;
	default:
		return STATS_REJECT_ACCESS;
	}
}

void refuse_init(struct refuse *r, struct ev_loop *loop, struct stats_slot *stats)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->stats = stats;
	ev_timer_init(&r->timer, on_timer);
}

void refuse_note(struct refuse *r, enum refuse_reason why, const struct sockaddr *from,
                 socklen_t len)
{
	char src[96];

	if (why <= REFUSE_NONE || why >= REFUSE_COUNT)
		return;
	r->count[why]++;
	if (drop_of[why] >= 0)
		stats_dropped(r->stats, (enum stats_drop)drop_of[why], 1);
	if (from != NULL && len > 0 && (size_t)len <= sizeof(r->latest[why]))
		memcpy(&r->latest[why], from, len);
	else
		r->latest[why].ss_family = AF_UNSPEC;
	if (!log_enabled(LOG_LEVEL_NOTICE))
		return;
	/* Under a flood, the line is seldom due: then the source is not
	 * formatted for nothing (log_rate() only counts). */
	uint64_t now = ev_now(r->loop);
	const struct log_rate *lr = &r->log[why];
	if (lr->written && now - lr->last_ms < LOG_RATE_MS)
		src[0] = '\0';
	else
		describe(&r->latest[why], src, sizeof(src));
	if (!log_rate(&r->log[why], now, 1, LOG_LEVEL_NOTICE, "%s%s", reasons[why].text, src) &&
	    !ev_timer_active(&r->timer))
		arm(r);
}

void refuse_flush(struct refuse *r)
{
	if (r->loop == NULL)
		return;
	ev_timer_stop(r->loop, &r->timer);
	for (int i = 0; i < REFUSE_COUNT; i++)
		flush(r, i, 1);
}
