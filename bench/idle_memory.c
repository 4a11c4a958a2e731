/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Measures the user-space memory one idle connection costs in an echod
 * worker: starts echod (one worker, loopback, ephemeral port), opens N
 * connections, echoes one byte on each so every one has been through the
 * data path, then reports (worker RSS after - before) / N.  A figure, not a
 * pass/fail check.
 *
 *   idle_memory ECHOD_BINARY [CONNECTIONS] [BACKEND]
 *
 * Or, for any server already running (bench/run uses it for every server):
 * the same against 127.0.0.1:PORT, counting the proportional set size (PSS)
 * of PID and all its descendants (a forking server's children are its
 * connections; the pages they share are counted once).
 *
 *   idle_memory -p PORT -P PID [CONNECTIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Proportional set size of pid (its resident memory, pages shared with other
 * processes divided among them), or its RSS where the kernel lacks
 * smaps_rollup. */
static long pss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return rss_kib(pid);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Pss: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* PSS of pid and, recursively, of every child of each of its threads: a
 * forking server's children count, their shared pages only once. */
static long tree_kib(pid_t pid)
{
	char path[96];
	long total = pss_kib(pid), child;

	if (total < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return total;
	while (fscanf(f, "%ld", &child) == 1)
		total += tree_kib((pid_t)child);
	fclose(f);
	return total;
}

static pid_t first_child(pid_t parent)
{
	char path[64];
	long pid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)parent, (long)parent);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static int find_port(const char *log)
{
	char line[512];
	int port = -1;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, "listening on tcp 127.0.0.1:");
		if (p != NULL)
			port = atoi(p + strlen("listening on tcp 127.0.0.1:"));
	}
	fclose(f);
	return port;
}

static int count_in_file(const char *path, const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int open_idle(int port, int n, int **fdsp)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int *fds = calloc((size_t)n, sizeof(int));
	char c = 'x';
	int opened = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (; fds != NULL && opened < n; opened++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			perror("idle_memory: connection");
			if (fd != -1)
				close(fd);
			break;
		}
		fds[opened] = fd;
	}
	*fdsp = fds;
	return opened;
}

static int generic(int port, pid_t pid, int n)
{
	struct rlimit rl = {(rlim_t)n + 256, (rlim_t)n + 256};
	int *fds;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 256) {
		rl.rlim_cur = (rlim_t)n + 256;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	long before = tree_kib(pid);
	int opened = open_idle(port, n, &fds);
	pause_ms(300);
	long after = tree_kib(pid);
	double per = opened > 0 ? (double)(after - before) * 1024.0 / opened : 0;
	printf("pid %ld: %d idle connections, PSS %ld -> %ld KiB: %.0f bytes per connection\n",
	       (long)pid, opened, before, after, per);
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	return opened == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "-p") == 0 && strcmp(argv[3], "-P") == 0)
		return generic(atoi(argv[2]), (pid_t)atol(argv[4]),
		               argc > 5 ? atoi(argv[5]) : 10000);
	if (argc < 2) {
		fprintf(stderr, "usage: idle_memory ECHOD [CONNECTIONS] [BACKEND]\n"
		                "       idle_memory -p PORT -P PID [CONNECTIONS]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 10000;
	const char *backend = argc > 3 ? argv[3] : "epoll";
	char dir[] = "/tmp/echod-bench.XXXXXX", conf[128], log[128];
	struct rlimit rl = {(rlim_t)n + 256, (rlim_t)n + 256};

	if (mkdtemp(dir) == NULL || setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		perror("idle_memory: set-up");
		return 1;
	}
	snprintf(conf, sizeof(conf), "%s/echod.conf", dir);
	snprintf(log, sizeof(log), "%s/echod.log", dir);
	FILE *f = fopen(conf, "w");
	if (f == NULL)
		return 1;
	fprintf(f,
	        "workers = 1;\nbackend = \"%s\";\nmax_connections = %d;\nidle_timeout = 0;\n"
	        "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	        backend, n + 100);
	fclose(f);

	pid_t echod = fork();
	if (echod == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDERR_FILENO);
		execl(argv[1], "echod", "-c", conf, (char *)NULL);
		_exit(127);
	}
	/* "N workers serve", or "1 worker serves". */
	for (int i = 0; i < 1000 && count_in_file(log, "workers serve") == 0 &&
	                count_in_file(log, "worker serves") == 0;
	     i++)
		pause_ms(10);
	int port = find_port(log);
	pid_t worker = first_child(echod);
	if (port <= 0 || worker <= 0) {
		fprintf(stderr, "idle_memory: echod did not start (see %s)\n", log);
		kill(echod, SIGTERM);
		return 1;
	}

	/* Warm up the paths that allocate once (buffers, event arrays). */
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int *fds = calloc((size_t)n, sizeof(int));
	char c = 'x';
	long before = rss_kib(worker);
	int opened = 0;
	for (; opened < n; opened++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			perror("idle_memory: connection");
			break;
		}
		fds[opened] = fd;
	}
	pause_ms(200);
	long after = rss_kib(worker);
	double per = opened > 0 ? (double)(after - before) * 1024.0 / opened : 0;
	printf("backend %s: %d idle connections, worker RSS %ld -> %ld KiB: %.0f bytes per "
	       "connection\n",
	       backend, opened, before, after, per);

	for (int i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	kill(echod, SIGTERM);
	int status;
	waitpid(echod, &status, 0);
	unlink(conf);
	unlink(log);
	rmdir(dir);
	return opened == n ? 0 : 1;
}
