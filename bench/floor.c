/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The floor of the benchmark: the smallest correct echo server we can write.
 * One process, one level-triggered epoll set, one shared 64 KiB buffer; for
 * each readable connection one read and, at once, one write of what it read.
 * No limits, no timers, no queues, no logging.  What echod is measured
 * against: "as fast as the kernel allows" on the machine at hand.
 *
 *   floor PORT          TCP echo on 127.0.0.1:PORT
 *   floor -u PORT       UDP echo on 127.0.0.1:PORT (recvfrom, then sendto)
 *   floor -o [-u] PORT  the same with the socket options echod's listeners
 *                       have (listener.c, udp.c): SO_REUSEPORT; for TCP
 *                       TCP_NOTSENT_LOWAT of 128 KiB; for UDP IP_PKTINFO,
 *                       read with recvmsg (the UDP guard's default), so
 *                       what they cost the kernel shows apart from echod's
 *
 * Correct, not just fast: a write the socket does not take whole (the client
 * is not reading) is finished by waiting for that socket, so no byte is ever
 * dropped; it never happens in the benchmark's scenarios.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   (64 * 1024)
#define MAX_EVENTS 1024

static char buf[BUF_SIZE];

/* Write all of [p, p+n) to a non-blocking socket.  -1: drop the connection. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, -1);
		} else {
			return -1;
		}
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: floor [-o] [-u] PORT\n");
	return 2;
}

/* floor -o: echod's listener options on lfd. */
static int echod_options(int lfd, int udp)
{
	static const int one = 1, lowat = 128 * 1024;

	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		return -1;
	if (udp)
		return setsockopt(lfd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	return setsockopt(lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

/* Every datagram queued, each sent straight back; with IP_PKTINFO on, its
 * control message read too. */
static void echo_datagrams(int fd, int pktinfo)
{
	struct sockaddr_storage peer;
	char control[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr m = {.msg_name = &peer, .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t r;

	for (;;) {
		socklen_t len = sizeof(peer);
		if (pktinfo) {
			m.msg_namelen = sizeof(peer);
			m.msg_control = control;
			m.msg_controllen = sizeof(control);
			r = recvmsg(fd, &m, 0);
			len = m.msg_namelen;
		} else {
			r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);
		}
		if (r < 0)
			return;
		sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&peer, len);
	}
}

int main(int argc, char **argv)
{
	int udp = 0, opts = 0, opt;
	struct epoll_event ev = {.events = EPOLLIN}, events[MAX_EVENTS];

	while ((opt = getopt(argc, argv, "ou")) != -1) {
		if (opt == 'o')
			opts = 1;
		else if (opt == 'u')
			udp = 1;
		else
			return usage();
	}
	int port = optind == argc - 1 ? atoi(argv[optind]) : 0;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	if (port <= 0 || port > 65535)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int lfd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	if (lfd == -1 || ep == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (opts && echod_options(lfd, udp) == -1) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (!udp && listen(lfd, SOMAXCONN) == -1)) {
		perror("floor");
		return 1;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (udp) {
				echo_datagrams(fd, opts);
			} else if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (c == -1)
					continue;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.fd = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) == -1)
					close(c);
			} else {
				ssize_t r = read(fd, buf, sizeof(buf));
				if (r == -1 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0 || write_all(fd, buf, (size_t)r) == -1)
					close(fd); /* EOF or error; close leaves the epoll set */
			}
		}
	}
}
