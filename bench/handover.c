/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Measures how long a reload takes to hand established connections to the
 * new generation: starts echod (loopback, ephemeral port, OLD workers),
 * opens N connections and echoes a message on each, rewrites the config
 * with NEW workers and sends HUP, then reports the time from HUP until the
 * last old worker has handed everything over and exited, the handover phase
 * each old worker logged, and the time per connection; finally checks that
 * every connection still echoes.  A figure, not a pass/fail check (the exit
 * status is 1 only if it could not measure, or a connection was lost).
 *
 *   handover ECHOD_BINARY [CONNECTIONS [OLD_WORKERS [NEW_WORKERS]]]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64], conf[128], log_path[128];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void pause_ms(int ms)
{
	poll(NULL, 0, ms);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return strdup("");
	for (;;) {
		if (cap - len < 4096 && (buf = realloc(buf, cap = cap * 2 + 8192)) == NULL)
			exit(1);
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Wait up to ms for the log to hold needle n times. */
static int wait_log(const char *needle, int n, int ms)
{
	double end = now_ms() + ms;
	do {
		char *t = slurp(log_path);
		/* "N workers serve", or "1 worker serves" */
		int c = strcmp(needle, "workers serve") == 0
		            ? count(t, "workers serve") + count(t, "worker serves")
		            : count(t, needle);
		free(t);
		if (c >= n)
			return 1;
		pause_ms(2);
	} while (now_ms() < end);
	return 0;
}

static int children(pid_t pid)
{
	char path[64];
	long c;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fscanf(f, "%ld", &c) == 1)
		n++;
	fclose(f);
	return n;
}

static void write_conf(int workers, int port, int maxc)
{
	FILE *f = fopen(conf, "w");
	if (f == NULL) {
		perror(conf);
		exit(1);
	}
	fprintf(f,
	        "workers = %d;\nmax_connections = %d;\nidle_timeout = 0;\n"
	        "listen = ( { address = \"127.0.0.1\"; port = %d; } );\n",
	        workers, maxc, port);
	fclose(f);
}

static int connect_to(int port, int i)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	/* Eight source addresses: the ephemeral ports of one would run short. */
	src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % 8));
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	dst.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send a message on each connection and read every echo; returns how many
 * came back whole. */
static int echo_all(const int *fds, int n, unsigned seed)
{
	char msg[64], in[64];
	int ok = 0;

	for (int i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg),
		         "%08x %08x handover bench message ......................", seed,
		         (unsigned)i);
		if (send(fds[i], msg, sizeof(msg), MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
			continue;
	}
	for (int i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg),
		         "%08x %08x handover bench message ......................", seed,
		         (unsigned)i);
		size_t got = 0;
		while (got < sizeof(in)) {
			struct pollfd p = {fds[i], POLLIN, 0};
			if (poll(&p, 1, 5000) != 1)
				break;
			ssize_t r = recv(fds[i], in + got, sizeof(in) - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		ok += got == sizeof(in) && memcmp(in, msg, sizeof(in)) == 0;
	}
	return ok;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 10000;
	int oldw = argc > 3 ? atoi(argv[3]) : 2;
	int neww = argc > 4 ? atoi(argv[4]) : 2;
	struct rlimit rl;
	int rc = 1;

	if (argc < 2 || n < 1 || oldw < 1 || neww < 1) {
		fprintf(stderr,
		        "usage: handover ECHOD [CONNECTIONS [OLD_WORKERS [NEW_WORKERS]]]\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < (rlim_t)n * 2 + 100)
		rl.rlim_max = (rlim_t)n * 2 + 100; /* root may raise it */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)n + 100 > rl.rlim_cur) {
		n = (int)rl.rlim_cur - 100;
		fprintf(stderr, "handover: descriptor limit: %d connections\n", n);
	}
	snprintf(dir, sizeof(dir), "/tmp/echod-handover.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(conf, sizeof(conf), "%s/echod.conf", dir);
	snprintf(log_path, sizeof(log_path), "%s/echod.log", dir);
	write_conf(oldw, 0, n + 1000);

	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		execl(argv[1], argv[1], "-c", conf, (char *)NULL);
		_exit(127);
	}
	int *fds = calloc((size_t)n, sizeof(int));
	if (pid == -1 || fds == NULL || !wait_log("workers serve", 1, 10000)) {
		fprintf(stderr, "handover: echod did not start\n");
		goto out;
	}
	char *t = slurp(log_path);
	const char *p = strstr(t, "listening on tcp 127.0.0.1:");
	int port = p != NULL ? atoi(p + strlen("listening on tcp 127.0.0.1:")) : 0;
	free(t);
	int opened = 0;
	for (; opened < n; opened++)
		if ((fds[opened] = connect_to(port, opened)) == -1)
			break;
	int before = echo_all(fds, opened, 1);
	write_conf(neww, port, n + 1000);
	double hup = now_ms();
	kill(pid, SIGHUP);
	if (!wait_log("handed to the new generation", oldw, 60000)) {
		fprintf(stderr, "handover: no handover logged\n");
		goto out;
	}
	double logged = now_ms() - hup;
	while (children(pid) != neww && now_ms() - hup < 60000)
		pause_ms(1);
	double gone = now_ms() - hup;
	int after = echo_all(fds, opened, 2);

	/* Each old worker logs "handover: H connections handed ..., K kept
	 * (M ms)". */
	long handed = 0, kept = 0, phase = 0;
	t = slurp(log_path);
	for (p = t; (p = strstr(p, "handover: ")) != NULL; p++) {
		long h, k, ms;
		if (sscanf(
		        p,
		        "handover: %ld connections handed to the new generation, %ld kept (%ld ms)",
		        &h, &k, &ms) == 3) {
			handed += h;
			kept += k;
			phase = ms > phase ? ms : phase;
		}
	}
	free(t);
	printf("handover: %d connections (%d echoed before, %d after), %d -> %d workers: "
	       "%ld handed over, %ld kept; slowest worker's handover %ld ms; "
	       "HUP to all handed %.0f ms, to old workers gone %.0f ms; %.1f us per connection\n",
	       opened, before, after, oldw, neww, handed, kept, phase, logged, gone,
	       opened > 0 ? gone * 1000 / opened : 0);
	rc = after == opened && before == opened ? 0 : 1;
out:
	for (int i = 0; fds != NULL && i < n; i++)
		if (fds[i] > 0)
			close(fds[i]);
	free(fds);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	unlink(conf);
	unlink(log_path);
	rmdir(dir);
	return rc;
}
