/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hostile neighbours for the benchmark: N connections that send 64 KiB
 * writes as fast as the server takes them and never read, so that the
 * server's queues for them fill to max_pending and the kernel's buffers
 * with them.  Prints one line per second with the bytes sent so far, and
 * "full" once a whole second passed in which no connection could send.
 *
 *   hostile HOST PORT CONNS SECONDS      loopback only; closes all at the end
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WRITE_SIZE (64 * 1024)

static char buf[WRITE_SIZE];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	if (argc != 5 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "usage: hostile 127.x.y.z PORT CONNS SECONDS\n");
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	int n = atoi(argv[3]);
	double secs = atof(argv[4]);
	int *fds = calloc((size_t)n, sizeof(*fds));
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (fds == NULL || ep == -1)
		return 1;
	memset(buf, 'h', sizeof(buf));
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] == -1 || connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			perror("hostile: connect");
			return 1;
		}
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	printf("hostile: %d connections open\n", n);
	fflush(stdout);
	double t0 = now(), last_report = t0, last_sent = t0;
	unsigned long long total = 0;
	int full = 0;
	while (now() - t0 < secs) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < k; i++) {
			ssize_t w = send(evs[i].data.fd, buf, sizeof(buf), MSG_NOSIGNAL);
			if (w > 0) {
				total += (unsigned long long)w;
				last_sent = now();
			}
		}
		double t = now();
		if (!full && t - last_sent >= 1.0) {
			full = 1;
			printf("hostile: full after %.1f s, %llu MB sent\n", last_sent - t0,
			       total >> 20);
			fflush(stdout);
		}
		if (t - last_report >= 1.0) {
			last_report = t;
			printf("hostile: %.0f s, %llu MB sent\n", t - t0, total >> 20);
			fflush(stdout);
		}
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	printf("hostile: closed after %.1f s, %llu MB sent%s\n", now() - t0, total >> 20,
	       full ? "" : " (never full)");
	return 0;
}
