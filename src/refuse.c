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
	const char *text; /* the log line's subject */
} reasons[REFUSE_COUNT] = {
    [REFUSE_NONE] = {"none", "nothing"},
    [REFUSE_ACCESS] = {"access", "connections refused (access list)"},
    [REFUSE_CONNECTIONS] = {"per_source_connections",
                            "connections refused (limits.per_source_connections)"},
    [REFUSE_RATE] = {"per_source_rate", "connections refused (limits.per_source_rate)"},
    [REFUSE_UNTRACKED] = {"limits_table_full",
                          "sources let in without per-source limits (their slot of the "
                          "table is full of sources with open connections)"},
    [REFUSE_UDP_ACCESS] = {"udp_access", "udp datagrams dropped (access list)"},
    [REFUSE_UDP_MARTIAN] = {"udp_martian", "udp datagrams dropped (source is no unicast address)"},
    [REFUSE_UDP_LOOPBACK] = {"udp_loopback_spoofed",
                             "udp datagrams dropped (loopback source from another "
                             "interface)"},
    [REFUSE_UDP_PORT] = {"udp_privileged_port", "udp datagrams dropped (source port below 1024)"},
    [REFUSE_UDP_SELF] = {"udp_own_address",
                         "udp datagrams dropped (source is one of echod's own listeners)"},
    [REFUSE_UDP_RATE] = {"udp_per_source_rate",
                         "udp datagrams dropped (limits.udp_per_source_rate)"},
};

const char *refuse_name(enum refuse_reason why)
{
	return why < REFUSE_COUNT ? reasons[why].name : "unknown";
}

static void describe(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, ", the latest from %s port %u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, ", the latest from %s port %u", host, ntohs(sin6->sin6_port));
	} else {
		buf[0] = '\0';
	}
}

static void report(struct refuse *r, enum refuse_reason why, uint64_t n)
{
	char from[96];

	describe(&r->latest[why], from, sizeof(from));
	log_notice("%s: %llu since the last report%s", reasons[why].text, (unsigned long long)n,
	           from);
}

/* Arm the timer for the earliest line held back, if any. */
static void arm(struct refuse *r)
{
	uint64_t now = ev_now(r->loop), next = UINT64_MAX;

	for (int i = 0; i < REFUSE_COUNT; i++)
		if (r->log[i].pending > 0 && log_limit_next(&r->log[i], REFUSE_LOG_MS) < next)
			next = log_limit_next(&r->log[i], REFUSE_LOG_MS);
	if (next == UINT64_MAX)
		return;
	/* If the timer cannot be armed the tail waits for the next event. */
	(void)ev_timer_start(r->loop, &r->timer, next > now ? next - now : 0);
}

static void on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct refuse *r = ev_container_of(t, struct refuse, timer);
	uint64_t now = ev_now(loop), n;

	for (int i = 0; i < REFUSE_COUNT; i++)
		if ((n = log_limit_due(&r->log[i], now, REFUSE_LOG_MS)) > 0)
			report(r, (enum refuse_reason)i, n);
	arm(r);
}

void refuse_init(struct refuse *r, struct ev_loop *loop)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	ev_timer_init(&r->timer, on_timer);
}

void refuse_note(struct refuse *r, enum refuse_reason why, const struct sockaddr *from,
                 socklen_t len)
{
	uint64_t n;

	if (why <= REFUSE_NONE || why >= REFUSE_COUNT)
		return;
	r->count[why]++;
	if (from != NULL && len > 0 && (size_t)len <= sizeof(r->latest[why]))
		memcpy(&r->latest[why], from, len);
	else
		r->latest[why].ss_family = AF_UNSPEC;
	n = log_limit_hit(&r->log[why], ev_now(r->loop), REFUSE_LOG_MS);
	if (n > 0)
		report(r, why, n);
	else if (!ev_timer_active(&r->timer))
		arm(r);
}

void refuse_flush(struct refuse *r)
{
	uint64_t n;

	if (r->loop == NULL)
		return;
	ev_timer_stop(r->loop, &r->timer);
	for (int i = 0; i < REFUSE_COUNT; i++)
		if ((n = log_limit_due(&r->log[i], 0, 0)) > 0)
			report(r, (enum refuse_reason)i, n);
}
