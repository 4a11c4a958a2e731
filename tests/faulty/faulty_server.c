/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A deliberately faulty echo server for echod-bench's tests: a correct
 * RFC 862 echo server (TCP, UDP or Unix stream) that can be told to corrupt
 * every Nth byte, drop every Nth datagram, reset or close a connection after
 * N bytes, or stop echoing after N bytes; each must make echod-bench report
 * an error and exit non-zero.  --pause N stops echoing for 300 ms after N
 * bytes, once, to show that paced latencies count a server's stall.
 *
 *   faulty_server [-u] [-6] [-U PATH] [-p PORT] [-t LIFETIME]
 *                 [--corrupt N | --drop N | --reset N | --eof N | --stall N |
 *                  --pause N]
 *
 * It prints the port it listens on (or the socket path) and a newline on
 * stdout once it is ready, and exits after LIFETIME seconds (default 60) so
 * that a crashed test cannot leave it behind.
 */
#include "acconfig.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_SIZE  65536

enum fault_kind {
	FAULT_NONE,
	FAULT_CORRUPT,
	FAULT_DROP,
	FAULT_RESET,
	FAULT_EOF,
	FAULT_STALL,
	FAULT_PAUSE,
};

/* How long --pause stops echoing. */
#define PAUSE_MS 300

struct fault {
	enum fault_kind kind;
	unsigned long long n;
};

struct fconn {
	int fd;
	unsigned long long echoed; /* bytes echoed so far: the fault's clock */
	size_t len;                /* bytes in buf not yet written back */
	size_t off;
	int discard; /* after --eof: read and drop until the peer closes */
	int stalled;
	long long resume_ms; /* --pause: when to echo again (0: not paused) */
	unsigned char buf[BUF_SIZE];
};

static struct fault fault;
static struct fconn *conns[MAX_CONNS];
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fputs("usage: faulty_server [-u] [-6] [-U PATH] [-p PORT] [-t LIFETIME]\n"
	      "                     [--corrupt N | --drop N | --reset N | --eof N | --stall N |\n"
	      "                      --pause N]\n",
	      stderr);
	exit(2);
}

/* Flip the bytes of buf[0..len) that fall on a multiple of N, counting from
 * *clock (the bytes echoed before these). */
static void corrupt(unsigned char *buf, size_t len, unsigned long long *clock)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((*clock + i + 1) % fault.n == 0)
			buf[i] ^= 0x5a;
	*clock += len;
}

static int open_listener(int udp, int v6, const char *path, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (path != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		if (strlen(path) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		len = sizeof(*sun);
		(void)unlink(path);
	} else if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	}
	fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 || (!udp && listen(fd, 512) == -1))
		goto fail;
	if (path != NULL) {
		printf("%s\n", path);
	} else {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
			goto fail;
		printf("%u\n",
		       ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                      : ((struct sockaddr_in *)&ss)->sin_port));
	}
	fflush(stdout);
	return fd;
fail:
	close(fd);
	return -1;
}

static void conn_close(int i, int reset)
{
	struct fconn *c = conns[i];

	if (reset) {
		/* Linger 0: close() sends RST instead of FIN. */
		struct linger lg = {1, 0};

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	free(c);
	conns[i] = NULL;
}

static void accept_conns(int lfd)
{
	int fd, i, on = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (i = 0; i < MAX_CONNS && conns[i] != NULL; i++)
			;
		if (i == MAX_CONNS || (conns[i] = calloc(1, sizeof(*conns[i]))) == NULL) {
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		conns[i]->fd = fd;
	}
}

/* Read what there is, apply the fault, echo.  Returns -1 to close. */
static int conn_serve(int i)
{
	struct fconn *c = conns[i];
	ssize_t n;

	if (c->len == 0 && !c->stalled) {
		size_t room = BUF_SIZE;

		n = read(c->fd, c->buf, room);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n <= 0)
			return 0;
		if (c->discard)
			return 0;
		c->len = (size_t)n;
		c->off = 0;
		/* The faults that act at byte N echo exactly N bytes first. */
		if (fault.kind == FAULT_RESET || fault.kind == FAULT_EOF ||
		    fault.kind == FAULT_STALL || fault.kind == FAULT_PAUSE)
			if (c->echoed + c->len > fault.n)
				c->len = (size_t)(fault.n - c->echoed);
		if (fault.kind == FAULT_CORRUPT) {
			unsigned long long clock = c->echoed;

			corrupt(c->buf, c->len, &clock);
		}
	}
	while (c->off < c->len) {
		n = write(c->fd, c->buf + c->off, c->len - c->off);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->off += (size_t)n;
		c->echoed += (unsigned long long)n;
	}
	c->len = c->off = 0;
	if (c->echoed >= fault.n) {
		switch (fault.kind) {
		case FAULT_RESET:
			conn_close(i, 1);
			return 1;
		case FAULT_EOF:
			if (!c->discard)
				(void)shutdown(c->fd, SHUT_WR);
			c->discard = 1;
			break;
		case FAULT_PAUSE:
			/* Once, then a plain echo server. */
			c->resume_ms = now_ms() + PAUSE_MS;
			c->stalled = 1;
			fault.kind = FAULT_NONE;
			break;
		case FAULT_STALL:
			c->stalled = 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void serve_udp(int fd)
{
	static unsigned long long datagrams, clock;
	struct sockaddr_storage from;
	unsigned char buf[BUF_SIZE];
	socklen_t flen;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n == -1)
			return;
		datagrams++;
		if (fault.kind == FAULT_DROP && datagrams % fault.n == 0)
			continue;
		if (fault.kind == FAULT_CORRUPT)
			corrupt(buf, (size_t)n, &clock);
		(void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"corrupt", required_argument, NULL, 'C'},
	    {"drop", required_argument, NULL, 'D'},
	    {"reset", required_argument, NULL, 'R'},
	    {"eof", required_argument, NULL, 'E'},
	    {"stall", required_argument, NULL, 'S'},
	    {"pause", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	struct pollfd pfd[MAX_CONNS + 1];
	int map[MAX_CONNS + 1];
	const char *path = NULL;
	int timeout, ch, udp = 0, v6 = 0, port = 0, lifetime = 60, lfd, i, n;
	time_t end;

	fault.kind = FAULT_NONE;
	fault.n = (unsigned long long)-1;
	while ((ch = getopt_long(argc, argv, "u6U:p:t:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			udp = 1;
			break;
		case '6':
			v6 = 1;
			break;
		case 'U':
			path = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 't':
			lifetime = atoi(optarg);
			break;
		case 'C':
			fault.kind = FAULT_CORRUPT;
			break;
		case 'D':
			fault.kind = FAULT_DROP;
			break;
		case 'R':
			fault.kind = FAULT_RESET;
			break;
		case 'E':
			fault.kind = FAULT_EOF;
			break;
		case 'P':
			fault.kind = FAULT_PAUSE;
			break;
		case 'S':
			fault.kind = FAULT_STALL;
			break;
		default:
			usage();
		}
		if (strchr("CDREPS", ch) != NULL && (fault.n = strtoull(optarg, NULL, 10)) == 0)
			usage();
	}
	if (optind != argc || (udp && path != NULL))
		usage();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = open_listener(udp, v6, path, port)) == -1) {
		perror("faulty_server: listen");
		return 1;
	}
	end = time(NULL) + lifetime;
	while (!stop && time(NULL) < end) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		n = 1;
		timeout = 200;
		for (i = 0; i < MAX_CONNS; i++) {
			if (conns[i] == NULL)
				continue;
			pfd[n].fd = conns[i]->fd;
			if (conns[i]->resume_ms != 0 && now_ms() >= conns[i]->resume_ms) {
				conns[i]->resume_ms = 0;
				conns[i]->stalled = 0;
			}
			if (conns[i]->resume_ms != 0)
				timeout = 5;
			pfd[n].events = conns[i]->len ? POLLOUT : conns[i]->stalled ? 0 : POLLIN;
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, timeout) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			if (udp)
				serve_udp(lfd);
			else
				accept_conns(lfd);
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0 && conns[map[i]] != NULL &&
			    ((conns[map[i]]->stalled && (pfd[i].revents & (POLLHUP | POLLERR))) ||
			     conn_serve(map[i]) == -1))
				conn_close(map[i], 0);
	}
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] != NULL)
			conn_close(i, 0);
	close(lfd);
	if (path != NULL)
		(void)unlink(path);
	return 0;
}
