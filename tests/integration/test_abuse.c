/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Abuse resistance of the real echod (issue 10): the UDP guard against
 * forged datagrams (raw sockets), access lists and per-source limits seen
 * from distinct loopback sources, the worker sandbox and the master's
 * capabilities.  Forged packets go only to loopback or into network
 * namespaces this test makes (and removes), with veth pairs where a path
 * that is not loopback is needed.  What needs root skips, saying why, when
 * not run as root.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "privs.h"

/* ---- helpers ----------------------------------------------------------- */

static int need_root(const char *why)
{
	if (geteuid() == 0)
		return 1;
	print_message("# skipped: needs root (%s)\n", why);
	return 0;
}

/* The backend the datagram tests run with a second time (setup_backend()),
 * or NULL: the configuration's own (auto). */
static const char *backend;

static struct echod *start(const char *config, const struct h_opts *opts)
{
	char *with;
	struct echod *e;

	if (backend == NULL)
		return h_echod_start(config, opts);
	assert_true(asprintf(&with, "backend = \"%s\";\n%s", backend, config) > 0);
	e = h_echod_start(with, opts);
	free(with);
	return e;
}

/* Stop e (gracefully; it must exit 0) but keep its log for reading. */
static void stop_only(struct echod *e)
{
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 15000), 0);
}

static void stop(struct echod *e)
{
	stop_only(e);
	h_echod_free(e);
}

static socklen_t sockaddr_of(const char *host, int port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, host, &sin->sin_addr), 1);
	return sizeof(*sin);
}

/* A socket of `type` bound to src:sport (0: any port). */
static int bound(int type, const char *src, int sport)
{
	struct sockaddr_in sin;
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t len = sockaddr_of(src, sport, &sin);
	if (bind(fd, (struct sockaddr *)&sin, len) == -1)
		fail_msg("bind %s:%d: %s", src, sport, strerror(errno));
	return fd;
}

/* A TCP connection from src to 127.0.0.1:port, or -1. */
static int connect_from(const char *src, const char *dst, int port)
{
	struct sockaddr_in sin;
	int fd = bound(SOCK_STREAM, src, 0);
	socklen_t len = sockaddr_of(dst, port, &sin);

	if (connect(fd, (struct sockaddr *)&sin, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Whether a connection is served: 1 if a message comes back echoed, 0 if it
 * was refused (closed at once: EOF or a reset, and no echo), within 3 s.
 */
static int served(int fd)
{
	char buf[16];
	uint64_t end = h_now_ms() + 3000;

	if (send(fd, "abuse?", 6, MSG_NOSIGNAL) != 6)
		return 0;
	size_t got = 0;
	while (got < 6 && h_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - h_now_ms())) <= 0)
			break;
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return 0;
		if (n > 0)
			got += (size_t)n;
	}
	if (got != 6)
		fail_msg("neither an echo nor a close within 3 s (%zu bytes)", got);
	return memcmp(buf, "abuse?", 6) == 0;
}

/* Send a datagram from sock to dst:port; 1 if it comes back within ms. */
static int udp_echoed(int sock, const char *dst, int port, int ms)
{
	struct sockaddr_in sin;
	char buf[64];
	socklen_t len = sockaddr_of(dst, port, &sin);

	assert_int_equal(sendto(sock, "datagram", 8, 0, (struct sockaddr *)&sin, len), 8);
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	return recv(sock, buf, sizeof(buf), MSG_DONTWAIT) == 8 && memcmp(buf, "datagram", 8) == 0;
}

/* Whether sock receives anything within ms. */
static int receives(int sock, int ms)
{
	char buf[64];
	struct pollfd pfd = {.fd = sock, .events = POLLIN};

	return poll(&pfd, 1, ms) > 0 && recv(sock, buf, sizeof(buf), MSG_DONTWAIT) >= 0;
}

/* A forged IPv4 UDP datagram, src:sport -> dst:dport, through a raw socket
 * (the kernel fills in the IP checksum; the UDP checksum is left out). */
static void forge(const char *src, int sport, const char *dst, int dport, const char *payload)
{
	unsigned char pkt[256];
	struct iphdr *ip = (struct iphdr *)(void *)pkt;
	struct udphdr *udp = (struct udphdr *)(void *)(pkt + sizeof(*ip));
	size_t plen = strlen(payload), total = sizeof(*ip) + sizeof(*udp) + plen;
	struct sockaddr_in to;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	assert_true(fd >= 0);
	assert_true(total <= sizeof(pkt));
	memset(pkt, 0, sizeof(pkt));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)total);
	assert_int_equal(inet_pton(AF_INET, src, &ip->saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &ip->daddr), 1);
	udp->source = htons((uint16_t)sport);
	udp->dest = htons((uint16_t)dport);
	udp->len = htons((uint16_t)(sizeof(*udp) + plen));
	memcpy(pkt + sizeof(*ip) + sizeof(*udp), payload, plen);
	socklen_t len = sockaddr_of(dst, 0, &to);
	assert_int_equal(sendto(fd, pkt, total, 0, (struct sockaddr *)&to, len), (ssize_t)total);
	close(fd);
}

static pid_t first_worker(struct echod *e)
{
	pid_t pid;

	assert_int_equal(h_children(e->pid, &pid, 1), 1);
	return pid;
}

/* ---- network namespaces, made and removed by this test ----------------- */

#define MAX_NS 4

struct netns {
	char name[64];
	char path[128];
	int fd;
};

static struct netns made[MAX_NS];
static int nmade;
static int home_ns = -1; /* the namespace this test started in */

static const char *ip_bin(void)
{
	static const char *const paths[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Run `ip` with the arguments up to NULL; fails the test if it fails. */
static void ip(const char *arg, ...)
{
	const char *argv[24];
	size_t n = 0;
	va_list ap;
	struct h_run r;

	argv[n++] = ip_bin();
	assert_non_null(argv[0]);
	va_start(ap, arg);
	for (; arg != NULL && n < 23; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	h_run(&r, 10000, argv);
	if (r.status != 0)
		fail_msg("ip %s %s %s: %s", argv[1], argv[2], n > 3 ? argv[3] : "", r.err);
	h_run_free(&r);
}

static int need_netns(void)
{
	if (!need_root("network namespaces"))
		return 0;
	if (ip_bin() == NULL) {
		print_message("# skipped: needs ip(8) from iproute2 for network namespaces\n");
		return 0;
	}
	return 1;
}

/* A new namespace with its loopback up. */
static struct netns *ns_make(const char *tag)
{
	assert_true(nmade < MAX_NS);
	struct netns *n = &made[nmade];
	snprintf(n->name, sizeof(n->name), "echod-t%ld-%s", (long)getpid(), tag);
	ip("netns", "add", n->name, NULL);
	nmade++;
	snprintf(n->path, sizeof(n->path), "/run/netns/echod-t%ld-%s", (long)getpid(), tag);
	n->fd = open(n->path, O_RDONLY | O_CLOEXEC);
	assert_true(n->fd >= 0);
	ip("-n", n->name, "link", "set", "lo", "up", NULL);
	return n;
}

/* Make the sockets this process opens from now on belong to n. */
static void ns_enter(const struct netns *n)
{
	if (home_ns == -1)
		home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(home_ns >= 0);
	assert_int_equal(setns(n->fd, CLONE_NEWNET), 0);
}

static void ns_leave(void)
{
	if (home_ns != -1)
		assert_int_equal(setns(home_ns, CLONE_NEWNET), 0);
}

/* Write a sysctl of the namespace we are in (/proc/sys/net follows the
 * namespace of the process that opens it). */
static void ns_sysctl(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(value, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Teardown: stop the echods (they may run in the namespaces), come home,
 * and remove every namespace made (a veth pair goes with its namespace). */
static int teardown(void **state)
{
	struct h_run r;

	h_teardown(state);
	if (home_ns != -1)
		setns(home_ns, CLONE_NEWNET);
	while (nmade > 0) {
		struct netns *n = &made[--nmade];
		const char *argv[] = {ip_bin(), "netns", "del", n->name, NULL};
		close(n->fd);
		h_run(&r, 10000, argv);
		h_run_free(&r);
	}
	return 0;
}

/* A packet socket on the loopback device of the namespace we are in: it
 * sees every datagram between two local addresses. */
static int sniff_lo(void)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = 1 /* lo */};
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* Count, for ms, the UDP datagrams the sniffer sees from port `from` to
 * port `to` and back; *last gets when the last one came. */
static void count_flow(int sniffer, int from, int to, int ms, int *there, int *back, uint64_t *last)
{
	unsigned char buf[2048];
	uint64_t end = h_now_ms() + (uint64_t)ms;

	*there = *back = 0;
	while (h_now_ms() < end) {
		struct pollfd pfd = {.fd = sniffer, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - h_now_ms())) <= 0)
			continue;
		struct sockaddr_ll sll;
		socklen_t slen = sizeof(sll);
		ssize_t n = recvfrom(sniffer, buf, sizeof(buf), MSG_DONTWAIT,
		                     (struct sockaddr *)&sll, &slen);
		/* Loopback shows each packet twice: going out and coming in. */
		if (n < (ssize_t)(sizeof(struct iphdr) + sizeof(struct udphdr)) ||
		    sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		const struct iphdr *iph = (const struct iphdr *)(void *)buf;
		if (iph->protocol != IPPROTO_UDP)
			continue;
		const struct udphdr *u = (const struct udphdr *)(void *)(buf + iph->ihl * 4);
		int s = ntohs(u->source), d = ntohs(u->dest);
		if (s == from && d == to)
			(*there)++;
		else if (s == to && d == from)
			(*back)++;
		else
			continue;
		*last = h_now_ms();
	}
}

/* ---- the UDP guard ------------------------------------------------------ */

#define UDP_ON(addr, port)                                                                         \
	"workers = 1;\n"                                                                           \
	"listen = ( { address = \"" addr "\"; port = " port "; protocol = \"udp\"; } );\n"

/*
 * The Loop DoS of the issue: one datagram forged to come from echod's own
 * address and port.  Without the guard the worker echoed to itself for
 * ever (82% of a CPU); now it is dropped, counted, the worker stays idle,
 * and it still echoes everyone else.
 */
static void test_self_spoof(void **state)
{
	(void)state;
	if (!need_root("raw sockets"))
		skip();
	struct echod *e = start(UDP_ON("127.0.0.1", "0"), NULL);
	int port = e->ports[0];
	pid_t worker = first_worker(e);
	long cpu0 = h_cpu_ms(worker);

	forge("127.0.0.1", port, "127.0.0.1", port, "loop forever");
	assert_true(h_log_wait(e, "udp datagram dropped (source is one of echod's own listeners)",
	                       1, 5000));
	/* A loop would be a busy CPU; the worker must be idle. */
	uint64_t end = h_now_ms() + 1000;
	while (h_now_ms() < end)
		poll(NULL, 0, 50);
	long used = h_cpu_ms(worker) - cpu0;
	print_message("# worker CPU over the second after the forged datagram: %ld ms\n", used);
	assert_true(used < 200);
	int s = bound(SOCK_DGRAM, "127.0.0.1", 0);
	assert_true(udp_echoed(s, "127.0.0.1", port, 2000));
	close(s);
	stop(e);
}

/* A wildcard listener is every local address: a datagram forged from
 * another local address with its port is echod too (in a namespace of our
 * own, so that nothing outside sees a wildcard listener). */
static void test_self_spoof_wildcard(void **state)
{
	(void)state;
	if (!need_netns())
		skip();
	struct netns *n = ns_make("wild");
	struct h_opts opts = {.netns = n->path};
	struct echod *e = start(UDP_ON("0.0.0.0", "0"), &opts);
	int port = e->ports[0];

	ns_enter(n);
	forge("127.0.0.5", port, "127.0.0.1", port, "from my other address");
	forge("127.0.0.1", port, "127.0.0.1", port, "from myself");
	int s = bound(SOCK_DGRAM, "127.0.0.1", 0);
	assert_true(udp_echoed(s, "127.0.0.1", port, 2000));
	close(s);
	ns_leave();
	assert_true(h_log_wait(e, "udp datagram dropped (source is one of echod's own listeners)",
	                       1, 5000));
	/* The second drop is in the count of the next line, at the latest
	 * when the worker stops. */
	stop(e);
}

/* Datagrams forged from the echo (7) and chargen (19) ports get no reply: a
 * socket bound there sees nothing, while one on an ordinary port, forged
 * the same way, gets its echo (so the forging works).  In a namespace of
 * our own, where ports 7 and 19 are free. */
static void test_privileged_source_ports(void **state)
{
	(void)state;
	if (!need_netns())
		skip();
	struct netns *n = ns_make("ports");
	struct h_opts opts = {.netns = n->path};
	struct echod *e = start(UDP_ON("127.0.0.1", "0"), &opts);
	int port = e->ports[0];

	ns_enter(n);
	int echo = bound(SOCK_DGRAM, "127.0.0.1", 7);
	int chargen = bound(SOCK_DGRAM, "127.0.0.1", 19);
	int control = bound(SOCK_DGRAM, "127.0.0.1", 40007);
	forge("127.0.0.1", 7, "127.0.0.1", port, "from echo");
	forge("127.0.0.1", 19, "127.0.0.1", port, "from chargen");
	forge("127.0.0.1", 40007, "127.0.0.1", port, "from a client");
	assert_true(receives(control, 2000));
	assert_false(receives(echo, 500));
	assert_false(receives(chargen, 100));
	close(echo);
	close(chargen);
	close(control);
	ns_leave();
	assert_true(h_log_wait(e, "udp datagram dropped (source port below 1024)", 1, 5000));
	stop_only(e);
	/* The second drop was reported when the worker stopped. */
	assert_int_equal(h_log_count(e, "(source port below 1024)"), 2);
	h_echod_free(e);
}

/*
 * Two echo services and one datagram forged from one to the other: echod A
 * on an ordinary port, echod B on port 7.  B answers A once; A drops B's
 * answer (source port 7), and the wire stays silent.  Without A's guard the
 * two would echo to each other for ever: the control run shows the loop
 * this test would see.  A packet socket on the namespace's loopback counts.
 */
static void test_two_echods(void **state)
{
	(void)state;
	if (!need_netns())
		skip();
	struct netns *n = ns_make("pair");
	struct h_opts opts = {.netns = n->path};
	struct echod *a = start(UDP_ON("127.0.0.1", "0"), &opts);
	struct echod *b = start(UDP_ON("127.0.0.2", "7"), &opts);
	int pa = a->ports[0], there, back;
	uint64_t last = 0;

	ns_enter(n);
	int sniffer = sniff_lo();
	uint64_t sent = h_now_ms();
	forge("127.0.0.1", pa, "127.0.0.2", 7, "ping-pong");
	count_flow(sniffer, pa, 7, 2500, &there, &back, &last);
	ns_leave();
	print_message("# guarded: %d datagrams A->B, %d B->A, the last %llu ms after the forged "
	              "one\n",
	              there, back, (unsigned long long)(last - sent));
	assert_int_equal(there, 1);     /* the forged one */
	assert_true(back <= 1);         /* at most one reply */
	assert_true(last - sent < 500); /* then silence for 2 s */
	assert_true(h_log_wait(a, "udp datagram dropped (source port below 1024)", 1, 2000));
	stop(a);

	/* The control: A without its guard. */
	a = start("workers = 1;\nudp_guard = false;\n"
	          "listen = ( { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; } );\n",
	          &opts);
	pa = a->ports[0];
	ns_enter(n);
	forge("127.0.0.1", pa, "127.0.0.2", 7, "ping-pong");
	count_flow(sniffer, pa, 7, 300, &there, &back, &last);
	close(sniffer);
	ns_leave();
	print_message("# unguarded: %d datagrams A->B and %d B->A in 300 ms\n", there, back);
	assert_true(there > 20 && back > 20);
	stop(a);
	stop(b);
}

/*
 * A loopback source that does not come in on the loopback device is forged.
 * Two namespaces joined by a veth pair; the receiving side accepts such
 * packets from the wire (route_localnet) so that echod's own check is what
 * is tested.  A datagram from the peer's real address is echoed.
 */
static void test_loopback_from_outside(void **state)
{
	(void)state;
	if (!need_netns())
		skip();
	struct netns *out = ns_make("out"), *in = ns_make("in");
	char peer_out[32], peer_in[32];

	snprintf(peer_out, sizeof(peer_out), "eo%ld", (long)getpid() % 100000);
	snprintf(peer_in, sizeof(peer_in), "ei%ld", (long)getpid() % 100000);
	ip("link", "add", peer_out, "netns", out->name, "type", "veth", "peer", "name", peer_in,
	   "netns", in->name, NULL);
	ip("-n", out->name, "addr", "add", "10.199.0.1/24", "dev", peer_out, NULL);
	ip("-n", in->name, "addr", "add", "10.199.0.2/24", "dev", peer_in, NULL);
	ip("-n", out->name, "link", "set", peer_out, "up", NULL);
	ip("-n", in->name, "link", "set", peer_in, "up", NULL);
	ns_enter(in);
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", peer_in);
	ns_sysctl(path, "1");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", peer_in);
	ns_sysctl(path, "0");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", peer_in);
	ns_sysctl(path, "1");
	ns_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
	ns_leave();

	struct h_opts opts = {.netns = in->path};
	struct echod *e = start(UDP_ON("0.0.0.0", "0"), &opts);
	int port = e->ports[0];

	ns_enter(out);
	/* The real peer first: the path works both ways. */
	int s = bound(SOCK_DGRAM, "10.199.0.1", 0);
	assert_true(udp_echoed(s, "10.199.0.2", port, 3000));
	close(s);
	forge("127.0.0.1", 40000, "10.199.0.2", port, "from loopback, really");
	ns_leave();
	assert_true(h_log_wait(e, "udp datagram dropped (loopback source from another interface)",
	                       1, 5000));
	stop(e);
}

/* ---- access lists --------------------------------------------------------- */

/*
 * allow = [ "127.0.0.2" ]: 127.0.0.2 is served over TCP and UDP, 127.0.0.3
 * is refused (closed at once, never echoed) and its datagrams dropped.  A
 * listener with its own list replaces the global one.
 */
static void test_access(void **state)
{
	(void)state;
	struct echod *e = start("workers = 2;\n"
	                        "access = { allow = [ \"127.0.0.2\" ]; };\n"
	                        "listen = (\n"
	                        "  { address = \"127.0.0.1\"; port = 0; },\n"
	                        "  { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; },\n"
	                        "  { address = \"127.0.0.1\"; port = 0;\n"
	                        "    access = { deny = [ \"127.0.0.2\" ]; }; }\n"
	                        ");\n",
	                        NULL);
	int tcp = e->ports[0], udp = e->ports[1], own = e->ports[2];

	int fd = connect_from("127.0.0.2", "127.0.0.1", tcp);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	for (int i = 0; i < 4; i++) {
		fd = connect_from("127.0.0.3", "127.0.0.1", tcp);
		assert_true(fd >= 0);
		assert_false(served(fd));
		close(fd);
	}
	int s2 = bound(SOCK_DGRAM, "127.0.0.2", 0), s3 = bound(SOCK_DGRAM, "127.0.0.3", 0);
	assert_true(udp_echoed(s2, "127.0.0.1", udp, 2000));
	assert_false(udp_echoed(s3, "127.0.0.1", udp, 500));
	close(s2);
	close(s3);
	/* The third listener: its deny replaces the global allow. */
	fd = connect_from("127.0.0.2", "127.0.0.1", own);
	assert_true(fd >= 0);
	assert_false(served(fd));
	close(fd);
	fd = connect_from("127.0.0.3", "127.0.0.1", own);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	assert_true(h_log_wait(e, "connection refused (access list)", 1, 2000));
	assert_true(h_log_wait(e, "udp datagram dropped (access list)", 1, 2000));
	stop(e);
}

/* deny = [ "127.0.0.3" ] alone: everyone else gets in. */
static void test_access_deny(void **state)
{
	(void)state;
	struct echod *e = start("workers = 1;\n"
	                        "access = { deny = [ \"127.0.0.3/32\" ]; };\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        NULL);
	int fd;

	fd = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
	assert_true(served(fd));
	close(fd);
	fd = connect_from("127.0.0.3", "127.0.0.1", e->ports[0]);
	assert_false(served(fd));
	close(fd);
	fd = connect_from("127.0.0.4", "127.0.0.1", e->ports[0]);
	assert_true(served(fd));
	close(fd);
	stop(e);
}

/*
 * Behind a PROXY balancer the source every rule judges is the client the
 * header names, not the balancer (SPEC: the claimed client address is the
 * source address for every other rule).  A TCP listener that trusts
 * 127.0.0.1 as its proxy, denies 192.0.2.66 and lets one connection per
 * source in: a header naming 192.0.2.66 is refused, another client is
 * served, a second connection of that client is refused, and a third
 * client, through the same proxy, is served still.  Over UDP, a PROXY v2
 * datagram naming the denied client is dropped, another is echoed.
 */
static void test_access_behind_proxy(void **state)
{
	(void)state;
	struct echod *e = start("workers = 1;\n"
	                        "limits = { per_source_connections = 1; };\n"
	                        "listen = (\n"
	                        "  { address = \"127.0.0.1\"; port = 0;\n"
	                        "    proxy_protocol = { from = [ \"127.0.0.1\" ]; };\n"
	                        "    access = { deny = [ \"192.0.2.66\" ]; }; },\n"
	                        "  { address = \"127.0.0.1\"; port = 0; protocol = \"udp\";\n"
	                        "    proxy_protocol = { from = [ \"127.0.0.1\" ]; };\n"
	                        "    access = { deny = [ \"192.0.2.66\" ]; }; }\n"
	                        ");\n",
	                        NULL);
	static const char denied[] = "PROXY TCP4 192.0.2.66 127.0.0.1 5555 7\r\n";
	static const char client[] = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 7\r\n";
	static const char other[] = "PROXY TCP4 192.0.2.8 127.0.0.1 5555 7\r\n";
	int fd, kept;

	fd = connect_from("127.0.0.1", "127.0.0.1", e->ports[0]);
	h_send_all(fd, denied, sizeof(denied) - 1);
	assert_false(served(fd));
	close(fd);
	kept = connect_from("127.0.0.1", "127.0.0.1", e->ports[0]);
	h_send_all(kept, client, sizeof(client) - 1);
	assert_true(served(kept));
	fd = connect_from("127.0.0.1", "127.0.0.1", e->ports[0]);
	h_send_all(fd, client, sizeof(client) - 1);
	assert_false(served(fd));
	close(fd);
	fd = connect_from("127.0.0.1", "127.0.0.1", e->ports[0]);
	h_send_all(fd, other, sizeof(other) - 1);
	assert_true(served(fd));
	close(fd);
	close(kept);
	assert_true(
	    h_log_wait(e, "connection refused (access list); last from 192.0.2.66", 1, 2000));

	/* PROXY v2, UDP over IPv4: signature, version 2 PROXY, DGRAM over
	 * IPv4, 12 bytes of addresses and ports, then the payload. */
	unsigned char dgram[64] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
	                           0x54, 0x0a, 0x21, 0x12, 0x00, 0x0c, 192,  0,    2,    66,
	                           127,  0,    0,    1,    0x15, 0xb3, 0x00, 0x07, 'h',  'i'};
	struct sockaddr_in to;
	char buf[64];
	socklen_t len = sockaddr_of("127.0.0.1", e->ports[1], &to);
	int s = bound(SOCK_DGRAM, "127.0.0.1", 0);
	assert_int_equal(sendto(s, dgram, 30, 0, (struct sockaddr *)&to, len), 30);
	assert_false(receives(s, 500));
	dgram[19] = 7; /* 192.0.2.7 */
	assert_int_equal(sendto(s, dgram, 30, 0, (struct sockaddr *)&to, len), 30);
	struct pollfd pfd = {.fd = s, .events = POLLIN};
	assert_true(poll(&pfd, 1, 2000) == 1);
	assert_int_equal(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 2);
	assert_memory_equal(buf, "hi", 2);
	close(s);
	assert_true(
	    h_log_wait(e, "udp datagram dropped (access list); last from 192.0.2.66", 1, 2000));
	stop(e);
}

/* ---- per-source limits ----------------------------------------------------- */

/* echod-bench started in the background; its output goes to a file. */
struct bench {
	pid_t pid;
	char out[300];
};

static void bench_start(struct bench *b, struct echod *e, const char *const *args)
{
	const char *bin = getenv("ECHOD_BENCH_BIN");
	const char *argv[32];
	size_t n = 0;

	assert_non_null(bin);
	argv[n++] = bin;
	for (; *args != NULL && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	snprintf(b->out, sizeof(b->out), "%s/bench.json", e->dir);
	b->pid = fork();
	assert_true(b->pid != -1);
	if (b->pid == 0) {
		int fd = open(b->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd == -1)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
}

/* Wait for it (bounded); returns its output, which must show no error. */
static void bench_check(struct bench *b)
{
	uint64_t end = h_now_ms() + 20000;
	int status;
	pid_t w;

	while ((w = waitpid(b->pid, &status, WNOHANG)) == 0 && h_now_ms() < end)
		poll(NULL, 0, 20);
	if (w == 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, &status, 0);
		fail_msg("echod-bench did not finish");
	}
	char *out = h_file_read(b->out);
	print_message("# echod-bench meanwhile: %.200s\n", out);
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	         strstr(out, "\"errors\": {\"total\": 0") != NULL;
	free(out);
	assert_true(ok);
}

/*
 * per_source_connections = 8 over two workers: a ninth connection from the
 * same source is refused whichever worker takes it, while echod-bench holds
 * 8 connections from another source at the same time with no error.
 */
static void test_per_source_connections(void **state)
{
	(void)state;
	struct echod *e = start("workers = 2;\n"
	                        "limits = { per_source_connections = 8; };\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        NULL);
	char port[16];
	snprintf(port, sizeof(port), "%d", e->ports[0]);
	const char *args[] = {"-H", "127.0.0.1", "-p", port, "-S",     "127.0.0.3",
	                      "-c", "8",         "-d", "2",  "--json", "--no-progress",
	                      NULL};
	struct bench b;
	int fds[12], ok = 0;

	bench_start(&b, e, args);
	for (int i = 0; i < 12; i++) {
		fds[i] = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
		assert_true(fds[i] >= 0);
		ok += served(fds[i]);
	}
	assert_int_equal(ok, 8);
	/* Two close: two more may come. */
	int closed = 0;
	for (int i = 0; i < 12 && closed < 2; i++) {
		char c;
		if (recv(fds[i], &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN) {
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
	}
	/* The worker counts them off when it sees the close: poll for it. */
	int again = 0, more[2];
	for (uint64_t end = h_now_ms() + 3000; again < 2 && h_now_ms() < end;) {
		int fd = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		if (served(fd))
			more[again++] = fd;
		else
			close(fd);
	}
	assert_int_equal(again, 2);
	close(more[0]);
	close(more[1]);
	bench_check(&b);
	for (int i = 0; i < 12; i++)
		if (fds[i] != -1)
			close(fds[i]);
	assert_true(h_log_wait(e, "(limits.per_source_connections)", 1, 2000));
	stop(e);
}

/* per_source_rate = 5, burst 5: a source opening 20 connections at once gets
 * about 5 through, while echod-bench opens and closes connections from
 * other sources all along without error. */
static void test_per_source_rate(void **state)
{
	(void)state;
	struct echod *e = start("workers = 2;\n"
	                        "limits = { per_source_rate = 5; per_source_burst = 5; };\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        NULL);
	char port[16];
	snprintf(port, sizeof(port), "%d", e->ports[0]);
	/* 20 connections a second over 10 sources: 2 per source per second. */
	const char *args[] = {"-H",
	                      "127.0.0.1",
	                      "-p",
	                      port,
	                      "-S",
	                      "127.0.0.10-127.0.0.19",
	                      "--connect-rate",
	                      "-r",
	                      "20",
	                      "-c",
	                      "2",
	                      "-d",
	                      "2",
	                      "--json",
	                      "--no-progress",
	                      NULL};
	struct bench b;
	int ok = 0;
	uint64_t t0 = h_now_ms();

	bench_start(&b, e, args);
	for (int i = 0; i < 20; i++) {
		int fd = connect_from("127.0.0.4", "127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		ok += served(fd);
		close(fd);
	}
	uint64_t took = h_now_ms() - t0;
	print_message("# 20 connections in %llu ms, %d served\n", (unsigned long long)took, ok);
	/* The burst, and what the rate refilled meanwhile. */
	assert_true(ok >= 5);
	assert_true(ok <= 5 + 1 + (int)(took * 5 / 1000));
	bench_check(&b);
	assert_true(h_log_wait(e, "(limits.per_source_rate)", 1, 2000));
	stop(e);
}

/* Limits turned on by a reload: the master makes the shared table then,
 * and the new generation of workers uses it. */
static void test_limits_on_reload(void **state)
{
	(void)state;
	struct echod *e = start("workers = 2;\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        NULL);
	char config[256];
	int fds[2];

	snprintf(config, sizeof(config),
	         "workers = 2;\nlimits = { per_source_connections = 1; };\n"
	         "listen = ( { address = \"127.0.0.1\"; port = %d; } );\n",
	         e->ports[0]);
	h_echod_rewrite(e, config);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "generation 2 serves", 1, 10000));
	assert_int_equal(h_log_count(e, "per-source limits: a table of"), 1);
	fds[0] = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
	assert_true(served(fds[0]));
	fds[1] = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
	assert_false(served(fds[1]));
	close(fds[0]);
	close(fds[1]);
	stop(e);
}

/*
 * A reload hands open connections to the new generation: their source's
 * count goes with them (the old worker counts them off, the new one on),
 * so the limit still holds after it, and nothing is left counted once
 * they close.
 */
static void test_limits_across_handover(void **state)
{
	(void)state;
	struct echod *e = start("workers = 1;\n"
	                        "limits = { per_source_connections = 2; };\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        NULL);
	char config[256];
	int fds[3];

	for (int i = 0; i < 2; i++) {
		fds[i] = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
		assert_true(served(fds[i]));
	}
	snprintf(config, sizeof(config),
	         "workers = 1;\nlimits = { per_source_connections = 2; };\n"
	         "listen = ( { address = \"127.0.0.1\"; port = %d; } );\n",
	         e->ports[0]);
	h_echod_rewrite(e, config);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "2 connections handed to the new generation", 1, 10000));
	/* Both still served, by the new worker; a third still refused. */
	assert_true(served(fds[0]));
	assert_true(served(fds[1]));
	fds[2] = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
	assert_false(served(fds[2]));
	close(fds[2]);
	/* Both close: two new ones come (once the worker saw the closes). */
	close(fds[0]);
	close(fds[1]);
	int again = 0;
	for (uint64_t end = h_now_ms() + 3000; again < 2 && h_now_ms() < end;) {
		int fd = connect_from("127.0.0.2", "127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		if (served(fd))
			fds[again++] = fd;
		else
			close(fd);
	}
	assert_int_equal(again, 2);
	close(fds[0]);
	close(fds[1]);
	stop(e);
}

/* udp_per_source_rate = 20: of 100 datagrams at once from one source, about
 * 20 are echoed; another source is echoed as before. */
static void test_udp_per_source_rate(void **state)
{
	(void)state;
	struct echod *e = start("workers = 1;\n"
	                        "limits = { udp_per_source_rate = 20; };\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; protocol = "
	                        "\"udp\"; } );\n",
	                        NULL);
	int s = bound(SOCK_DGRAM, "127.0.0.5", 0);
	struct sockaddr_in to;
	char buf[64];
	int got = 0;
	socklen_t len = sockaddr_of("127.0.0.1", e->ports[0], &to);
	uint64_t t0 = h_now_ms();

	for (int i = 0; i < 100; i++)
		assert_int_equal(sendto(s, "flood", 5, 0, (struct sockaddr *)&to, len), 5);
	for (;;) {
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		if (poll(&pfd, 1, 500) <= 0)
			break;
		if (recv(s, buf, sizeof(buf), MSG_DONTWAIT) == 5)
			got++;
	}
	uint64_t took = h_now_ms() - t0;
	print_message("# %d of 100 datagrams echoed (%llu ms)\n", got, (unsigned long long)took);
	assert_true(got >= 20);
	assert_true(got <= 20 + 1 + (int)(took * 20 / 1000));
	int other = bound(SOCK_DGRAM, "127.0.0.6", 0);
	assert_true(udp_echoed(other, "127.0.0.1", e->ports[0], 2000));
	close(other);
	close(s);
	assert_true(h_log_wait(e, "(limits.udp_per_source_rate)", 1, 2000));
	stop(e);
}

/* ---- sandbox and capabilities ------------------------------------------------ */

/*
 * A worker that makes a system call outside its allow-list (the shim opens
 * an IPv4 socket before its first accept) dies of SIGSYS, and the master
 * names the call; a new worker replaces it.  With sandbox = false the same
 * worker goes on serving.
 */
static void test_sandbox_violation(void **state)
{
	(void)state;
	const char *shim = getenv("ECHOD_SANDBOX_SHIM_SO");
	assert_non_null(shim);
	struct h_opts opts = {.preload = shim};
	/* The shim hooks accept4(), which only a readiness backend calls (on
	 * io_uring the kernel accepts). */
	struct echod *e = start("workers = 1;\nbackend = \"epoll\";\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        &opts);
	int fd = h_connect("127.0.0.1", e->ports[0]);

	assert_true(fd >= 0);
	/* Named when the report comes, and with the worker's end. */
	assert_true(h_log_wait(e, "its sandbox refused system call socket (number", 2, 5000));
	assert_true(h_log_wait(e, "killed by signal 31 (SIGSYS", 1, 5000));
	assert_true(h_log_wait(e, "worker 0 started", 2, 5000));
	close(fd);
	stop(e);

	e = start("workers = 1;\nbackend = \"epoll\";\nsandbox = false;\n"
	          "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	          &opts);
	fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(h_log_count(e, "SIGSYS"), 0);
	stop(e);
}

/* The field `key` of /proc/PID/status, as a number in `base`. */
static unsigned long long proc_status(pid_t pid, const char *key, int base);

/*
 * A worker's first log line, when the master has logged nothing before the
 * fork (log.level = "warning"), made its time zone load from
 * /etc/localtime, a file the sandbox does not let it open: it died of
 * SIGSYS.  Here the first line is the warning about running out of
 * descriptors; the worker must live on.
 */
static void test_sandbox_first_log_line(void **state)
{
	(void)state;
	enum { N = 100 };
	/* Nothing is logged at start, so the harness cannot wait for the
	 * workers by the log, nor learn a port from it: a Unix socket, and
	 * the first echo, say when the worker serves. */
	struct h_opts opts = {.nofile = 64, .no_wait = 1};
	struct echod *e = start("workers = 1;\nlog = { level = \"warning\"; };\n"
	                        "listen = ( { path = \"@DIR@/e.sock\"; } );\n",
	                        &opts);
	char path[320];
	int fds[N], fd = -1;

	snprintf(path, sizeof(path), "%s/e.sock", e->dir);
	for (uint64_t end = h_now_ms() + 10000; fd < 0 && h_now_ms() < end;) {
		if ((fd = h_connect_unix(path)) < 0)
			poll(NULL, 0, 10); /* poll interval */
	}
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	pid_t worker = first_worker(e);
	h_raise_nofile(N + 64);
	for (int i = 0; i < N; i++)
		fds[i] = h_connect_unix(path);
	assert_true(h_log_wait(e, "pausing new connections", 1, 5000));
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fd = h_connect_unix(path);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	assert_int_equal(first_worker(e), worker);
	assert_int_equal(h_log_count(e, "SIGSYS"), 0);
	stop(e);
}

/*
 * Under systemd's SystemCallFilter=@system-service (the packaged unit's),
 * seccomp(2) fails with EPERM; the sandbox must go in all the same, loaded
 * with prctl(2).  Bug: asking libseccomp for SCMP_ACT_KILL_PROCESS (for
 * calls of a foreign architecture) made it refuse the whole filter there
 * (EINVAL), and every worker exited at start.
 */
static void test_sandbox_under_systemd_filter(void **state)
{
	(void)state;
	const char *shim = getenv("ECHOD_DENY_SECCOMP_SO");
	assert_non_null(shim);
	struct h_opts opts = {.preload = shim};
	struct echod *e = start("workers = 1;\n"
	                        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                        &opts);
	pid_t worker = first_worker(e);

	assert_int_equal(proc_status(worker, "Seccomp", 10), 2);
	assert_int_equal(proc_status(worker, "Seccomp_filters", 10), 2);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	stop(e);
}

/* The field `key` of /proc/PID/status, as a number in `base`. */
static unsigned long long proc_status(pid_t pid, const char *key, int base)
{
	char path[64], line[256];
	unsigned long long v = ~0ull;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			v = strtoull(line + klen + 1, NULL, base);
	fclose(f);
	return v;
}

/*
 * Started as root: the master keeps only its few capabilities (and its
 * bounding set no more); each worker, dropped to nobody, has none, no way
 * to gain one, and its seccomp filter on.
 */
static void test_capabilities(void **state)
{
	(void)state;
	if (!need_root("capabilities are only dropped when started as root"))
		skip();
	const char *user = getpwnam("nobody") != NULL ? "user = \"nobody\";\n" : "";
	char config[256];
	snprintf(config, sizeof(config),
	         "workers = 2;\n%slisten = ( { address = \"127.0.0.1\"; port = 0; } );\n", user);
	struct echod *e = start(config, NULL);
	pid_t kids[4];

	assert_int_equal(proc_status(e->pid, "CapEff", 16), privs_master_caps());
	assert_int_equal(proc_status(e->pid, "CapPrm", 16), privs_master_caps());
	assert_int_equal(proc_status(e->pid, "CapBnd", 16), privs_master_caps());
	assert_true(h_wait_children(e, 2, 5000));
	assert_int_equal(h_children(e->pid, kids, 4), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(proc_status(kids[i], "CapEff", 16), 0);
		assert_int_equal(proc_status(kids[i], "CapPrm", 16), 0);
		assert_int_equal(proc_status(kids[i], "NoNewPrivs", 10), 1);
		assert_int_equal(proc_status(kids[i], "Seccomp", 10), 2);
	}
	/* It still does what it kept them for: a reload forks and drops new
	 * workers, and they serve. */
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "generation 2 serves", 1, 10000));
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	assert_true(served(fd));
	close(fd);
	stop(e);
}

/* auto takes io_uring where it starts, and udp_uring.c then serves the
 * datagrams: the datagram checks run again on epoll, through udp.c. */
static int setup_epoll(void **state)
{
	(void)state;
	backend = "epoll";
	return 0;
}

static int teardown_epoll(void **state)
{
	backend = NULL;
	return teardown(state);
}

#define ON_EPOLL(t)                                                                                \
	{                                                                                          \
		"epoll: " #t, t, setup_epoll, teardown_epoll, NULL                                 \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_self_spoof, teardown),
	    cmocka_unit_test_teardown(test_self_spoof_wildcard, teardown),
	    cmocka_unit_test_teardown(test_privileged_source_ports, teardown),
	    cmocka_unit_test_teardown(test_two_echods, teardown),
	    cmocka_unit_test_teardown(test_loopback_from_outside, teardown),
	    cmocka_unit_test_teardown(test_access, teardown),
	    cmocka_unit_test_teardown(test_access_deny, teardown),
	    cmocka_unit_test_teardown(test_access_behind_proxy, teardown),
	    cmocka_unit_test_teardown(test_per_source_connections, teardown),
	    cmocka_unit_test_teardown(test_per_source_rate, teardown),
	    cmocka_unit_test_teardown(test_limits_on_reload, teardown),
	    cmocka_unit_test_teardown(test_limits_across_handover, teardown),
	    cmocka_unit_test_teardown(test_udp_per_source_rate, teardown),
	    cmocka_unit_test_teardown(test_sandbox_violation, teardown),
	    cmocka_unit_test_teardown(test_sandbox_under_systemd_filter, teardown),
	    cmocka_unit_test_teardown(test_sandbox_first_log_line, teardown),
	    cmocka_unit_test_teardown(test_capabilities, teardown),
	    ON_EPOLL(test_self_spoof),
	    ON_EPOLL(test_self_spoof_wildcard),
	    ON_EPOLL(test_privileged_source_ports),
	    ON_EPOLL(test_two_echods),
	    ON_EPOLL(test_loopback_from_outside),
	    ON_EPOLL(test_access),
	    ON_EPOLL(test_udp_per_source_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
