/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Integration test harness (see harness.h).  Every wait polls a condition
 * against a deadline; nothing sleeps as a way to synchronise.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* Poll interval while waiting on a condition. */
#define TICK_MS 5

uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick(void)
{
	struct timespec ts = {0, TICK_MS * 1000000L};
	nanosleep(&ts, NULL);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return strdup("");
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void write_config(const struct echod *e, const char *path, const char *config)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (const char *p = config; *p != '\0';) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			fputs(e->dir, f);
			p += 5;
		} else {
			fputc(*p++, f);
		}
	}
	assert_int_equal(fclose(f), 0);
}

void h_echod_rewrite(struct echod *e, const char *config)
{
	/* Through a temporary file and rename: echod must never read half a
	 * file, whatever the timing of its reload. */
	char tmp[320];

	snprintf(tmp, sizeof(tmp), "%s.new", e->conf);
	write_config(e, tmp, config);
	assert_int_equal(rename(tmp, e->conf), 0);
}

char *h_file_read(const char *path)
{
	return read_file(path);
}

int h_file_count(const char *path, const char *needle)
{
	char *text = read_file(path);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

int h_file_wait(const char *path, const char *needle, int count, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		if (h_file_count(path, needle) >= count)
			return 1;
		tick();
	} while (h_now_ms() < end);
	return h_file_count(path, needle) >= count;
}

int h_file_serving(const char *path)
{
	return h_file_count(path, " workers serve") + h_file_count(path, " worker serves");
}

int h_file_wait_serving(const char *path, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		if (h_file_serving(path) > 0)
			return 1;
		tick();
	} while (h_now_ms() < end);
	return h_file_serving(path) > 0;
}

int h_log_count(struct echod *e, const char *needle)
{
	return h_file_count(e->log, needle);
}

int h_log_wait(struct echod *e, const char *needle, int count, int timeout_ms)
{
	return h_file_wait(e->log, needle, count, timeout_ms);
}

static void parse_ports(struct echod *e)
{
	char *log = read_file(e->log);
	const char *needle = "listening on ";

	e->nports = 0;
	for (char *p = log; (p = strstr(p, needle)) != NULL && e->nports < H_MAX_PORTS;) {
		p += strlen(needle);
		char *eol = strchr(p, '\n');
		if (eol != NULL)
			*eol = '\0';
		char *colon = strrchr(p, ':');
		if (strncmp(p, "unix", 4) != 0 && colon != NULL)
			e->ports[e->nports++] = atoi(colon + 1);
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	free(log);
}

/* Every echod prepared and not yet freed, for h_teardown. */
static struct echod *unfreed;

struct echod *h_echod_prepare(const char *config)
{
	struct echod *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->next = unfreed;
	unfreed = e;
	e->status = -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/echod-test.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->conf, sizeof(e->conf), "%s/echod.conf", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/stderr.log", e->dir);
	write_config(e, e->conf, config);
	return e;
}

/* In the child: keep the first n CPUs of the affinity mask. */
static void restrict_cpus(int n)
{
	cpu_set_t have, keep;

	if (sched_getaffinity(0, sizeof(have), &have) == -1)
		_exit(125);
	CPU_ZERO(&keep);
	for (int cpu = 0; cpu < CPU_SETSIZE && n > 0; cpu++) {
		if (CPU_ISSET(cpu, &have)) {
			CPU_SET(cpu, &keep);
			n--;
		}
	}
	if (sched_setaffinity(0, sizeof(keep), &keep) == -1)
		_exit(125);
}

/* In echod's child: LD_PRELOAD the shim `so`.  An echod built with gcc's
 * ASan insists on its runtime coming first in the library list; the shims
 * use nothing ASan intercepts, so that check is turned off. */
static int preload(const char *so)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];

	if (so == NULL || setenv("LD_PRELOAD", so, 1) == -1)
		return -1;
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ? asan : "",
	         asan && *asan ? ":" : "");
	return setenv("ASAN_OPTIONS", opts, 1);
}

/* The seccomp filter of h_opts.deny_io_uring: io_uring_setup fails with
 * EPERM, everything else is allowed.  The architecture is checked first, so
 * that a system call number means what it says. */
#if defined(__x86_64__)
#define H_AUDIT_ARCH 0xc000003eu /* AUDIT_ARCH_X86_64 */
#elif defined(__aarch64__)
#define H_AUDIT_ARCH 0xc00000b7u /* AUDIT_ARCH_AARCH64 */
#endif

int h_can_deny_io_uring(void)
{
#if defined(H_AUDIT_ARCH) && defined(__NR_io_uring_setup)
	return 1;
#else
	return 0;
#endif
}

static int deny_io_uring(void)
{
#if defined(H_AUDIT_ARCH) && defined(__NR_io_uring_setup)
	struct sock_filter filter[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, H_AUDIT_ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

void h_echod_launch(struct echod *e, const struct h_opts *opts)
{
	struct h_opts none = {0};
	const char *bin = getenv("ECHOD_BIN");

	if (opts == NULL)
		opts = &none;
	assert_non_null(bin);
	pid_t parent = getpid();
	e->pid = fork();
	assert_true(e->pid != -1);
	if (e->pid == 0) {
		/* A test that fails before its stop must not leave echod behind:
		 * it dies with the test process (its workers follow it). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(125);
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1)
			_exit(127);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (opts->nofile > 0) {
			struct rlimit rl = {(rlim_t)opts->nofile, (rlim_t)opts->nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				_exit(126);
		}
		if (opts->cpus > 0)
			restrict_cpus(opts->cpus);
		if (opts->env != NULL)
			putenv((char *)opts->env);
		if (opts->fail_epoll && preload(getenv("ECHOD_FAIL_EPOLL_SO")) == -1)
			_exit(124);
		if (opts->deny_io_uring && deny_io_uring() == -1)
			_exit(123);
		if (opts->preload != NULL && preload(opts->preload) == -1)
			_exit(124);
		if (opts->netns != NULL) {
			int ns = open(opts->netns, O_RDONLY | O_CLOEXEC);
			if (ns == -1 || setns(ns, CLONE_NEWNET) == -1)
				_exit(123);
			close(ns);
		}
		/* The test process may have blocked signals; echod starts clean. */
		sigset_t none_set;
		sigemptyset(&none_set);
		sigprocmask(SIG_SETMASK, &none_set, NULL);
		if (opts->wrap != NULL) {
			const char *argv[64];
			size_t n = 0;
			while (opts->wrap[n] != NULL && n < 60) {
				argv[n] = opts->wrap[n];
				n++;
			}
			argv[n++] = bin;
			argv[n++] = "-c";
			argv[n++] = e->conf;
			argv[n] = NULL;
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		execl(bin, "echod", "-c", e->conf, (char *)NULL);
		_exit(127);
	}
	if (!opts->no_wait) {
		int ok = h_file_wait_serving(e->log, 10000);
		if (!ok) {
			char *log = read_file(e->log);
			fprintf(stderr, "# echod did not start; its log:\n%s\n", log);
			free(log);
		}
		assert_true(ok);
	}
	parse_ports(e);
}

struct echod *h_echod_start(const char *config, const struct h_opts *opts)
{
	struct echod *e = h_echod_prepare(config);

	h_echod_launch(e, opts);
	return e;
}

int h_echod_signal_wait(struct echod *e, int signo, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int status;

	if (e->status != -1)
		return e->status;
	if (signo != 0)
		kill(e->pid, signo);
	do {
		pid_t r = waitpid(e->pid, &status, WNOHANG);
		if (r == e->pid) {
			e->status = status;
			return status;
		}
		tick();
	} while (h_now_ms() < end);
	return -1;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void h_echod_free(struct echod *e)
{
	if (e == NULL)
		return;
	for (struct echod **p = &unfreed; *p != NULL; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	/* pid 0: prepared, never launched (kill(0, ...) would hit our group). */
	if (e->pid > 0 && e->status == -1 && h_echod_signal_wait(e, SIGTERM, 15000) == -1) {
		kill(e->pid, SIGKILL);
		h_echod_signal_wait(e, 0, 5000);
	}
	/* A sanitizer report from the master or any worker fails the test,
	 * even though the process that made it may have exited 0. */
	int dirty = h_log_count(e, "Sanitizer") + h_log_count(e, "runtime error:");
	if (dirty) {
		char *log = read_file(e->log);
		fprintf(stderr, "# sanitizer report in echod's log:\n%s\n", log);
		free(log);
	}
	if (getenv("ECHOD_KEEP_TEST_DIRS") == NULL)
		remove_tree(e->dir);
	free(e);
	assert_int_equal(dirty, 0);
}

int h_teardown(void **state)
{
	(void)state;
	while (unfreed != NULL)
		h_echod_free(unfreed);
	return 0;
}

int h_children(pid_t parent, pid_t *pids, int max)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)parent, (long)parent);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long pid;
	while (n < max && fscanf(f, "%ld", &pid) == 1)
		pids[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

int h_wait_children(struct echod *e, int n, int timeout_ms)
{
	pid_t pids[256];
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		if (h_children(e->pid, pids, 256) == n)
			return 1;
		tick();
	} while (h_now_ms() < end);
	return h_children(e->pid, pids, 256) == n;
}

long h_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may contain spaces. */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long utime = 0, stime = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
	    2)
		return -1;
	return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

long h_rss_kib(pid_t pid)
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

static socklen_t make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	return sizeof(*sin6);
}

int h_connect(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int h_connect_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int h_udp(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd != -1);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

void h_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

size_t h_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	while (got < len) {
		int64_t left = (int64_t)(end - h_now_ms());
		if (left <= 0 || end < h_now_ms())
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int h_wait_eof(int fd, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	char buf[4096];

	for (;;) {
		uint64_t now = h_now_ms();
		if (now >= end)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			return 0;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
}

int h_echo_check(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *out = buf;
	char *in = malloc(len ? len : 1);
	size_t sent = 0, got = 0;
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int ok = 0;

	assert_non_null(in);
	while (got < len) {
		uint64_t now = h_now_ms();
		if (now >= end)
			goto out;
		struct pollfd pfd = {.fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			goto out;
		if ((pfd.revents & POLLOUT) && sent < len) {
			ssize_t n = send(fd, out + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				goto out;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, in + got, len - got, MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
				goto out;
			if (n > 0)
				got += (size_t)n;
		}
	}
	ok = memcmp(in, out, len) == 0;
out:
	free(in);
	return ok;
}

void h_fill_random(void *buf, size_t len, uint32_t seed)
{
	unsigned char *p = buf;
	uint32_t x = seed ? seed : 0x9e3779b9u;

	for (size_t i = 0; i < len; i++) {
		/* xorshift32: cheap, deterministic, no zero runs. */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* Append what fd has to read to *buf (NUL-terminated); 0 at EOF or error. */
static int drain(int fd, char **buf, size_t *len)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	char *p = realloc(*buf, *len + (size_t)n + 1);
	assert_non_null(p);
	memcpy(p + *len, chunk, (size_t)n);
	*len += (size_t)n;
	p[*len] = '\0';
	*buf = p;
	return 1;
}

void h_run(struct h_run *r, int timeout_ms, const char *const *argv)
{
	int out[2], err[2];
	size_t nout = 0, nerr = 0;
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	r->status = -1;
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	assert_non_null(r->out);
	assert_non_null(r->err);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null == -1)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		sigset_t none_set;
		sigemptyset(&none_set);
		sigprocmask(SIG_SETMASK, &none_set, NULL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	struct pollfd pfd[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
	while (pfd[0].fd != -1 || pfd[1].fd != -1) {
		uint64_t now = h_now_ms();
		if (now >= end)
			break;
		if (poll(pfd, 2, (int)(end - now)) <= 0)
			continue;
		if (pfd[0].revents != 0 && !drain(out[0], &r->out, &nout))
			pfd[0].fd = -1;
		if (pfd[1].revents != 0 && !drain(err[0], &r->err, &nerr))
			pfd[1].fd = -1;
	}
	close(out[0]);
	close(err[0]);
	int status;
	do {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			r->status = status;
			return;
		}
		tick();
	} while (h_now_ms() < end);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

void h_run_echod(struct h_run *r, int timeout_ms, ...)
{
	const char *argv[16];
	size_t n = 0;
	va_list ap;

	argv[n++] = getenv("ECHOD_BIN");
	assert_non_null(argv[0]);
	va_start(ap, timeout_ms);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	h_run(r, timeout_ms, argv);
}

void h_run_free(struct h_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void h_raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= (rlim_t)n)
		return;
	rl.rlim_cur = (rlim_t)n;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur; /* allowed as root */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
