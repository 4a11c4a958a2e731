/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test support for integration tests: a temporary directory, a config
 * written into it, the real echod started in the foreground with its log
 * captured, conditions polled with a deadline, loopback clients, and a stop
 * by PID.  Functions that cannot go on fail the current cmocka test.
 */
#ifndef ECHOD_HARNESS_H
#define ECHOD_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAX_PORTS 16

struct echod {
	pid_t pid;
	char dir[256];          /* temporary directory, removed by h_echod_free */
	char conf[300];         /* its config file */
	char log[300];          /* its stderr */
	int ports[H_MAX_PORTS]; /* TCP/UDP ports in the order "listening on" logged them */
	int nports;
	int status;         /* wait status once it ended, else -1 */
	struct echod *next; /* the harness's list of echods not yet freed */
};

/* Options for h_echod_start. */
struct h_opts {
	long nofile;       /* RLIMIT_NOFILE (soft and hard) for echod, 0: inherit */
	const char *env;   /* one "NAME=value" added to echod's environment, or NULL */
	int no_wait;       /* do not wait for "N workers serve" */
	int cpus;          /* run echod on only the first `cpus` CPUs of our
	                    * affinity mask, 0: inherit */
	int fail_epoll;    /* preload tests/lib/fail_epoll.so: a worker whose
	                    * backend is "epoll" dies at start */
	int deny_io_uring; /* run echod under a seccomp filter that makes
	                    * io_uring_setup fail with EPERM, as a container's
	                    * profile does (see h_can_deny_io_uring) */
	/* A command (absolute path, arguments, NULL) that runs echod: its
	 * arguments are followed by echod's path, "-c" and the config; e.g.
	 * systemd-socket-activate.  NULL: echod itself. */
	const char *const *wrap;
	const char *preload; /* another LD_PRELOAD shim (a path), or NULL */
	const char *netns;   /* run echod in this network namespace (a file
	                      * such as /run/netns/NAME), or NULL */
};

/* Whether this system call filter can be installed here (a kernel with
 * seccomp, a known architecture); if not, a test skips. */
int h_can_deny_io_uring(void);

/* Monotonic milliseconds. */
uint64_t h_now_ms(void);

/*
 * Start echod with `config` (every "@DIR@" replaced by the temp dir) and wait
 * up to 10 s until its workers serve.  Fails the test if it does not.
 */
struct echod *h_echod_start(const char *config, const struct h_opts *opts);

/*
 * The two halves of h_echod_start: make the temp dir and write the config
 * (pid is 0: nothing runs yet, h_echod_free just removes the dir), then start
 * echod and, unless opts->no_wait, wait for its workers.  Between the two a
 * test can prepare the temp dir, e.g. bind a socket echod will talk to.
 */
struct echod *h_echod_prepare(const char *config);
void h_echod_launch(struct echod *e, const struct h_opts *opts);

/* Write `config` over the running echod's config file. */
void h_echod_rewrite(struct echod *e, const char *config);

/* Wait until the log contains `needle` (at least `count` times) or timeout_ms
 * passes.  Returns 1 if seen. */
int h_log_wait(struct echod *e, const char *needle, int count, int timeout_ms);

/* How many times the log contains `needle` now. */
int h_log_count(struct echod *e, const char *needle);

/* The same for any file (missing: 0 times). */
int h_file_wait(const char *path, const char *needle, int count, int timeout_ms);
int h_file_count(const char *path, const char *needle);
/* A file's whole content, NUL-terminated ("" if it cannot be read); free it. */
char *h_file_read(const char *path);

/* How many times the log at path says that echod serves: "N workers serve",
 * or "1 worker serves". */
int h_file_serving(const char *path);
/* Wait up to timeout_ms until it has said so once; returns 1 if it did. */
int h_file_wait_serving(const char *path, int timeout_ms);

/* Send signo to echod (by its PID) and wait up to timeout_ms for it to exit.
 * Returns its wait status, or -1 if it still runs. */
int h_echod_signal_wait(struct echod *e, int signo, int timeout_ms);

/* Stop echod if it still runs (TERM, then KILL after 15 s), remove the temp
 * dir, free e. */
void h_echod_free(struct echod *e);

/* A cmocka teardown: h_echod_free every echod the test started and did not
 * free itself (it failed before its own stop). */
int h_teardown(void **state);

/* The PIDs of echod's worker processes (its children); returns how many. */
int h_children(pid_t parent, pid_t *pids, int max);

/* Wait until echod has exactly n children, up to timeout_ms; returns 1 if so. */
int h_wait_children(struct echod *e, int n, int timeout_ms);

/* CPU time (user + system) in ms a process has used. */
long h_cpu_ms(pid_t pid);
/* Resident set size of a process in KiB. */
long h_rss_kib(pid_t pid);

/* Blocking connect to host:port (IPv4 or IPv6 literal), or a Unix path;
 * returns the fd or -1. */
int h_connect(const char *host, int port);
int h_connect_unix(const char *path);
/* A UDP socket connected to host:port. */
int h_udp(const char *host, int port);

/* Send all of buf (fails the test on error). */
void h_send_all(int fd, const void *buf, size_t len);
/* Receive exactly len bytes within timeout_ms; returns bytes received
 * (less on EOF, error or timeout). */
size_t h_recv_exact(int fd, void *buf, size_t len, int timeout_ms);
/* Wait for EOF within timeout_ms: 1 on EOF, 0 on timeout, -1 on error (errno). */
int h_wait_eof(int fd, int timeout_ms);

/*
 * Send buf and receive its echo concurrently (non-blocking, so a large
 * message cannot deadlock both sides' buffers); checks every byte.  Returns
 * 1 if the echo came back whole and identical within timeout_ms.
 */
int h_echo_check(int fd, const void *buf, size_t len, int timeout_ms);

/* Deterministic pseudo-random bytes. */
void h_fill_random(void *buf, size_t len, uint32_t seed);

/* What a command run by h_run did. */
struct h_run {
	int status; /* wait status, or -1 if it still ran at the deadline (then killed) */
	char *out;  /* everything it wrote on stdout, NUL-terminated */
	char *err;  /* everything it wrote on stderr */
};

/*
 * Run argv (argv[0] a path, NULL-terminated) with stdin from /dev/null and
 * capture its stdout and stderr, for up to timeout_ms.  Free with h_run_free.
 */
void h_run(struct h_run *r, int timeout_ms, const char *const *argv);
/* h_run of $ECHOD_BIN with the arguments that follow, up to a NULL. */
void h_run_echod(struct h_run *r, int timeout_ms, ...);
void h_run_free(struct h_run *r);

/* Check page against the Prometheus text format 0.0.4 (tests/lib/promtext.c);
 * fails the test at the first problem.  Returns the number of families. */
size_t h_promtext_validate(const char *page);

/* Raise this process's RLIMIT_NOFILE soft limit to at least n (if allowed). */
void h_raise_nofile(long n);

#endif
