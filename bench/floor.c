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
#include <string.h>
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

int main(int argc, char **argv)
{
	int udp = argc == 3 && strcmp(argv[1], "-u") == 0;
	int port = argc >= 2 ? atoi(argv[argc - 1]) : 0;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct epoll_event ev = {.events = EPOLLIN}, events[MAX_EVENTS];
	int one = 1;

	if (port <= 0 || port > 65535 || (argc == 3 && !udp)) {
		fprintf(stderr, "usage: floor [-u] PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int lfd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	if (lfd == -1 || ep == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
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
				/* Every datagram queued, each sent straight back. */
				struct sockaddr_storage peer;
				socklen_t len = sizeof(peer);
				ssize_t r;
				while ((r = recvfrom(fd, buf, sizeof(buf), 0,
				                     (struct sockaddr *)&peer, &len)) >= 0) {
					sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&peer,
					       len);
					len = sizeof(peer);
				}
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
