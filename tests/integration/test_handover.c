/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection handover on reload, against the real echod: long-lived
 * connections, chatty and streaming, live through a storm of reloads that
 * change the worker count, with every byte verified and no EOF or reset, and
 * end up held by the newest workers (found through /proc/net/tcp and
 * /proc/PID/fd); a queue of unechoed bytes and a half-close move with their
 * connection; "drain" keeps the old behaviour; a new worker out of
 * descriptors leaves connections to drain in the old one, losing nothing.
 */
#include "acconfig.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define EXITED(code) ((code) << 8)

/* The byte at position pos of connection c's stream: any loss, repeat or
 * reordering shows as a mismatch. */
static unsigned char pattern(unsigned c, uint64_t pos)
{
	uint64_t x = (pos + 1) * 0x9E3779B97F4A7C15ULL + c * 0x2545F4914F6CDD1DULL;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	return (unsigned char)(x >> 32);
}

enum kind { CHATTY, STREAM };

struct client {
	int fd;
	enum kind kind;
	unsigned id;
	uint64_t sent, got;
	uint64_t next_send; /* CHATTY: when the next message goes */
	uint64_t waiting;   /* CHATTY: since when an echo is awaited, or 0 */
	int local_port;
};

#define CHATTY_MSG   64
#define CHATTY_EVERY 50
#define STREAM_CHUNK 16384
#define STREAM_AHEAD (256 * 1024)

static int local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void client_open(struct client *c, unsigned id, enum kind kind, int port)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->kind = kind;
	c->fd = h_connect("127.0.0.1", port);
	assert_true(c->fd >= 0);
	c->local_port = local_port(c->fd);
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	c->next_send = h_now_ms() + id % CHATTY_EVERY;
}

static void client_send(struct client *c, size_t len)
{
	unsigned char buf[STREAM_CHUNK];

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(c->id, c->sent + i);
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0)
		fail_msg("client %u: send: %s after %llu bytes", c->id, strerror(errno),
		         (unsigned long long)c->sent);
	c->sent += (uint64_t)n;
}

/* Read what came and check it; EOF or an error fails the test. */
static void client_recv(struct client *c)
{
	unsigned char buf[65536];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0)
			fail_msg("client %u (%s): EOF after %llu of %llu bytes", c->id,
			         c->kind == CHATTY ? "chatty" : "stream",
			         (unsigned long long)c->got, (unsigned long long)c->sent);
		if (n < 0)
			fail_msg("client %u: %s after %llu bytes", c->id, strerror(errno),
			         (unsigned long long)c->got);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(c->id, c->got + (uint64_t)i))
				fail_msg("client %u: wrong byte at %llu", c->id,
				         (unsigned long long)(c->got + (uint64_t)i));
		c->got += (uint64_t)n;
		if (c->got > c->sent)
			fail_msg("client %u: %llu bytes echoed, %llu sent", c->id,
			         (unsigned long long)c->got, (unsigned long long)c->sent);
	}
}

/* One round of every client: poll up to wait_ms, read, send what is due.
 * With `quiet`, nothing new is sent. */
static void clients_run(struct client *cs, size_t n, int wait_ms, int quiet)
{
	struct pollfd pfd[512];
	uint64_t now = h_now_ms();

	assert_true(n <= 512);
	for (size_t i = 0; i < n; i++) {
		struct client *c = &cs[i];
		pfd[i].fd = c->fd;
		pfd[i].events = POLLIN;
		if (!quiet && c->kind == STREAM && c->sent - c->got < STREAM_AHEAD)
			pfd[i].events |= POLLOUT;
	}
	poll(pfd, n, wait_ms);
	now = h_now_ms();
	for (size_t i = 0; i < n; i++) {
		struct client *c = &cs[i];
		if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			client_recv(c);
		if (c->kind == CHATTY) {
			if (c->got == c->sent)
				c->waiting = 0;
			else if (now - c->waiting > 3000)
				fail_msg("client %u: echo missing for %llu ms", c->id,
				         (unsigned long long)(now - c->waiting));
			if (!quiet && c->got == c->sent && now >= c->next_send) {
				client_send(c, CHATTY_MSG);
				c->waiting = now;
				c->next_send = now + CHATTY_EVERY;
			}
		} else if (!quiet && (pfd[i].revents & POLLOUT)) {
			client_send(c, STREAM_CHUNK);
		}
	}
}

/* A connection opened, echoed and closed, all checked. */
static void connect_echo_close(int port, unsigned seq)
{
	char out[100], in[100];

	h_fill_random(out, sizeof(out), seq);
	int fd = h_connect("127.0.0.1", port);
	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, out, sizeof(out), 5000));
	shutdown(fd, SHUT_WR);
	assert_int_equal(h_wait_eof(fd, 5000), 1);
	(void)in;
	close(fd);
}

/* The inode of the server's side of the loopback TCP connection whose
 * client has local port cport, or 0. */
static unsigned long server_inode(int sport, int cport)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long found = 0;

	if (f == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned la, lp, ra, rp, st;
		unsigned long inode;
		if (sscanf(line, " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &la, &lp,
		           &ra, &rp, &st, &inode) == 6 &&
		    (int)lp == sport && (int)rp == cport)
			found = inode;
	}
	fclose(f);
	return found;
}

/* Whether process pid has a descriptor on socket inode. */
static int holds_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[PATH_MAX], link[128], want[64];
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	for (struct dirent *de; !found && (de = readdir(d)) != NULL;) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* Which of the pids holds the server side of client c: its index, or -1. */
static int holder(const pid_t *pids, int npids, int sport, const struct client *c)
{
	unsigned long inode = server_inode(sport, c->local_port);

	if (inode == 0)
		return -1;
	for (int i = 0; i < npids; i++)
		if (holds_socket(pids[i], inode))
			return i;
	return -1;
}

/* The master an upgrade started: not our child, so the tests stop it by its
 * pid themselves, and a failed test's teardown does. */
static pid_t upgraded_pid;

static int teardown(void **state)
{
	if (upgraded_pid > 0) {
		kill(upgraded_pid, SIGKILL);
		upgraded_pid = 0;
	}
	return h_teardown(state);
}

/* The pid the old master says it upgraded to, or 0. */
static pid_t upgraded_to(struct echod *e)
{
	char *log = h_file_read(e->log);
	const char *needle = "echod stopped: upgraded to pid ";
	const char *p = strstr(log, needle);
	pid_t pid = p != NULL ? (pid_t)atol(p + strlen(needle)) : 0;
	free(log);
	return pid;
}

/* Stop a master that is not our child (TERM; it exits gracefully) and
 * wait, bounded, until it is gone. */
static void stop_upgraded(pid_t pid)
{
	assert_int_equal(kill(pid, SIGTERM), 0);
	uint64_t end = h_now_ms() + 15000;
	while (kill(pid, 0) == 0 && h_now_ms() < end)
		poll(NULL, 0, 10);
	assert_int_equal(kill(pid, 0), -1);
	upgraded_pid = 0;
}

#define STORM_FMT                                                                                  \
	"workers = %d;\n"                                                                          \
	"shutdown_timeout = 10;\n"                                                                 \
	"pid_file = \"@DIR@/echod.pid\";\n"                                                        \
	"listen = ( { address = \"127.0.0.1\"; port = %d; } );\n"

/*
 * 200 chatty connections (a verified message each every 50 ms), 20 streaming
 * without pause, and a connect/echo/close loop, through 20 reloads that
 * alternate workers between 1 and 3, then a binary upgrade: nothing ends,
 * every byte comes back once and in order, and each connection is held by a
 * worker of the new master, spread over all three.
 */
static void storm(unsigned nchatty, unsigned nstream, int nreloads)
{
	const unsigned n = nchatty + nstream;
	struct client *cs = calloc(n, sizeof(*cs));
	char config[256];

	assert_non_null(cs);
	h_raise_nofile(4096);
	snprintf(config, sizeof(config), STORM_FMT, 3, 0);
	struct echod *e = h_echod_start(config, NULL);
	int port = e->ports[0];
	snprintf(config, sizeof(config), STORM_FMT, 3, port);
	h_echod_rewrite(e, config);
	for (unsigned i = 0; i < n; i++)
		client_open(&cs[i], i, i < nchatty ? CHATTY : STREAM, port);

	unsigned short_done = 0;
	int reloads = 0, workers = 3;
	uint64_t next_reload = h_now_ms() + 300;
	for (;;) {
		clients_run(cs, n, 5, 0);
		connect_echo_close(port, short_done++);
		char needle[64];
		snprintf(needle, sizeof(needle), "reload: generation %d serves", reloads + 1);
		if (reloads > 0 && h_log_count(e, needle) == 0) {
			/* the last reload's workers are starting */
			if (h_now_ms() > next_reload + 15000)
				fail_msg("reload %d: its workers did not serve", reloads);
			continue;
		}
		if (reloads == nreloads)
			break;
		if (h_now_ms() < next_reload)
			continue;
		workers = workers == 3 ? 1 : 3;
		snprintf(config, sizeof(config), STORM_FMT, workers, port);
		h_echod_rewrite(e, config);
		assert_int_equal(kill(e->pid, SIGHUP), 0);
		reloads++;
		next_reload = h_now_ms() + 150;
	}
	assert_int_equal(workers, 3);
	/* Keep the load on until only the last generation runs. */
	pid_t pids[16];
	uint64_t end = h_now_ms() + 15000;
	while (h_children(e->pid, pids, 16) != 3 && h_now_ms() < end) {
		clients_run(cs, n, 5, 0);
		connect_echo_close(port, short_done++);
	}
	assert_int_equal(h_children(e->pid, pids, 16), 3);
	/* Then a binary upgrade, under the same load. */
	assert_int_equal(kill(e->pid, SIGUSR2), 0);
	end = h_now_ms() + 20000;
	pid_t newpid = 0;
	while ((newpid = upgraded_to(e)) == 0 && h_now_ms() < end) {
		clients_run(cs, n, 5, 0);
		connect_echo_close(port, short_done++);
	}
	assert_true(newpid > 0);
	upgraded_pid = newpid;
	/* The pid file (and its lock) passed to the new master. */
	char pidpath[320], *text;
	snprintf(pidpath, sizeof(pidpath), "%s/echod.pid", e->dir);
	text = h_file_read(pidpath);
	assert_int_equal(atol(text), (long)newpid);
	free(text);
	assert_int_equal(h_echod_signal_wait(e, 0, 10000), 0); /* the old master: exit 0 */
	while (h_children(newpid, pids, 16) != 3 && h_now_ms() < end)
		clients_run(cs, n, 5, 0);
	assert_int_equal(h_children(newpid, pids, 16), 3);
	end = h_now_ms() + 500;
	while (h_now_ms() < end) {
		clients_run(cs, n, 5, 0);
		connect_echo_close(port, short_done++);
	}
	/* Let every echo come home, then see who serves each connection. */
	end = h_now_ms() + 10000;
	for (int done = 0; !done && h_now_ms() < end;) {
		clients_run(cs, n, 10, 1);
		done = 1;
		for (size_t i = 0; i < n; i++)
			done &= cs[i].got == cs[i].sent;
	}
	int per_worker[3] = {0};
	uint64_t chatty_bytes = 0, stream_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(cs[i].got, cs[i].sent);
		assert_int_equal(local_port(cs[i].fd), cs[i].local_port);
		int k = holder(pids, 3, port, &cs[i]);
		if (k < 0)
			fail_msg("client %zu: no worker of the last generation holds it", i);
		per_worker[k]++;
		*(cs[i].kind == CHATTY ? &chatty_bytes : &stream_bytes) += cs[i].got;
	}
	print_message("# %d reloads and an upgrade: %u short connections, %llu chatty and %llu "
	              "streamed bytes echoed; the new master's workers hold %d/%d/%d; %d handover "
	              "lines\n",
	              reloads, short_done, (unsigned long long)chatty_bytes,
	              (unsigned long long)stream_bytes, per_worker[0], per_worker[1], per_worker[2],
	              h_log_count(e, "handed to the new generation"));
	/* Round robin from every old worker: no worker is left out. */
	for (int k = 0; k < 3; k++)
		assert_true(per_worker[k] >= (int)n / 3 / 2);
	assert_int_equal(h_log_count(e, "stays with the old worker"), 0);
	assert_true(stream_bytes > nstream * 1024 * 1024);
	for (size_t i = 0; i < n; i++)
		close(cs[i].fd);
	free(cs);
	stop_upgraded(newpid);
	h_echod_free(e);
}

static void test_reload_storm_keeps_connections(void **state)
{
	(void)state;
	storm(200, 20, 20);
}

/*
 * The same, smaller, in a network namespace of our own with
 * net.ipv4.tcp_migrate_req at 0 and at 1: the outcome must not depend on
 * whether the kernel migrates requests off a closing listener, because
 * neither a reload nor an upgrade closes one.  (Moves this test process into
 * the namespace for good: these tests come last.)
 */
static int own_netns(void)
{
	static int done;
	struct ifreq ifr = {0};

	if (done)
		return 0;
	if (unshare(CLONE_NEWNET) == -1)
		return -1;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd == -1)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	int rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	done = rc == 0;
	return rc;
}

static void storm_with_migrate_req(const char *value)
{
	if (geteuid() != 0) {
		print_message("# skipped: a network namespace of its own needs root\n");
		skip();
	}
	assert_int_equal(own_netns(), 0);
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "w");
	assert_non_null(f);
	assert_true(fputs(value, f) >= 0);
	assert_int_equal(fclose(f), 0);
	storm(50, 5, 6);
}

static void test_storm_migrate_req_0(void **state)
{
	(void)state;
	storm_with_migrate_req("0");
}

static void test_storm_migrate_req_1(void **state)
{
	(void)state;
	storm_with_migrate_req("1");
}

/*
 * A failed upgrade rolls back: the new binary cannot read the config (made
 * invalid on purpose) and exits; the old master says so, with the exit
 * status, and goes on serving its connections, which notice nothing.
 */
static void test_failed_upgrade_rolls_back(void **state)
{
	const char *conf = "workers = 2;\nlisten = ( { address = \"127.0.0.1\"; port = 0; } );\n";
	char msg[300];
	(void)state;

	struct echod *e = h_echod_start(conf, NULL);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_fill_random(msg, sizeof(msg), 9);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	h_echod_rewrite(e, "workers = 2;\nfrobnicate = 1;\n");
	assert_int_equal(kill(e->pid, SIGUSR2), 0);
	assert_true(h_log_wait(e, "upgrade failed: the new master", 1, 10000));
	assert_int_equal(h_log_count(e, "exited with status 78 before it served; still serving"),
	                 1);
	assert_int_equal(h_echod_signal_wait(e, 0, 200), -1); /* still runs */
	h_fill_random(msg, sizeof(msg), 10);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	int fd2 = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd2 >= 0 && h_echo_check(fd2, msg, sizeof(msg), 5000));
	close(fd);
	close(fd2);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

#define UPGRADE_CTL_CONF                                                                           \
	"workers = 2;\n"                                                                           \
	"pid_file = \"@DIR@/echod.pid\";\n"                                                        \
	"control_socket = \"@DIR@/control.sock\";\n"                                               \
	"listen = ( { address = \"127.0.0.1\"; port = 0; } );\n"

/* The pid a pid file names, or 0. */
static pid_t pid_in(const char *path)
{
	char *text = h_file_read(path);
	pid_t pid = text != NULL ? (pid_t)atol(text) : 0;
	free(text);
	return pid;
}

/*
 * With a control socket, `-s upgrade` returns once the new master serves and
 * the old one retires: exit 0, naming the new master, which the pid file
 * names too.  The control socket passed to it (`-s status` answers there);
 * the connection open across the upgrade goes on echoing, from the new
 * master's workers, and once that master stops the socket file is gone.
 */
static void test_upgrade_over_control_socket(void **state)
{
	char pidfile[300], sock[300], msg[300];
	struct h_run r;
	(void)state;

	struct echod *e = h_echod_start(UPGRADE_CTL_CONF, NULL);
	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	snprintf(sock, sizeof(sock), "%s/control.sock", e->dir);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_fill_random(msg, sizeof(msg), 21);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));

	h_run_echod(&r, 60000, "-c", e->conf, "-s", "upgrade", (char *)NULL);
	print_message("# -s upgrade: status %d, out: %s, err: %s\n", r.status, r.out, r.err);
	assert_int_equal(r.status, 0);
	const char *needle = "upgraded: the new master (pid ";
	const char *p = strstr(r.out, needle);
	assert_non_null(p);
	pid_t newpid = (pid_t)atol(p + strlen(needle));
	h_run_free(&r);
	upgraded_pid = newpid;
	assert_true(newpid > 0 && newpid != e->pid);
	assert_int_equal(pid_in(pidfile), newpid);
	/* The old master exits 0 on its own. */
	assert_int_equal(h_echod_signal_wait(e, 0, 15000), 0);

	h_fill_random(msg, sizeof(msg), 22);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	int fd2 = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd2 >= 0 && h_echo_check(fd2, msg, sizeof(msg), 5000));
	h_run_echod(&r, 10000, "-c", e->conf, "-s", "status", (char *)NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	close(fd);
	close(fd2);
	stop_upgraded(newpid);
	assert_int_equal(access(sock, F_OK), -1);
	h_echod_free(e);
}

/*
 * A failed upgrade asked over the control socket: `-s upgrade` exits 1 with
 * the reason (the new binary's exit status 78) on standard error, and the
 * old master goes on serving, its control socket included.  The client reads
 * a valid copy of the file: the one the master reads is broken on purpose.
 */
static void test_failed_upgrade_over_control_socket(void **state)
{
	char client_conf[300], msg[300];
	struct h_run r;
	(void)state;

	struct echod *e = h_echod_start(UPGRADE_CTL_CONF, NULL);
	char *good = h_file_read(e->conf);
	assert_non_null(good);
	snprintf(client_conf, sizeof(client_conf), "%s/client.conf", e->dir);
	FILE *f = fopen(client_conf, "w");
	assert_non_null(f);
	fputs(good, f);
	fclose(f);
	free(good);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_fill_random(msg, sizeof(msg), 23);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));

	h_echod_rewrite(e, "workers = 2;\nfrobnicate = 1;\n");
	h_run_echod(&r, 60000, "-c", client_conf, "-s", "upgrade", (char *)NULL);
	print_message("# -s upgrade: status %d, out: %s, err: %s\n", r.status, r.out, r.err);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "upgrade failed: the new master (pid "));
	assert_non_null(strstr(r.err, "exited with status 78 before it served"));
	h_run_free(&r);

	assert_int_equal(h_echod_signal_wait(e, 0, 200), -1); /* still runs */
	h_fill_random(msg, sizeof(msg), 24);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	h_run_echod(&r, 10000, "-c", client_conf, "-s", "status", (char *)NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	close(fd);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

/*
 * Bytes read but not yet echoed move with the connection: two clients send
 * without reading until the worker holds up to max_pending for each (far
 * past what fits a message); the second then half-closes.  After a reload
 * each gets exactly its bytes back from the new worker, the second then EOF.
 */
static void test_queue_and_half_close_move(void **state)
{
	enum { BIG = 8 * 1024 * 1024, HALF = BIG };
	static unsigned char out[BIG], in[BIG], inb[HALF + 1];
	(void)state;

	h_raise_nofile(4096);
	struct echod *e = h_echod_start("workers = 1;\nmax_pending = 262144;\n"
	                                "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                                NULL);
	int port = e->ports[0];
	pid_t old[4], now[4];
	assert_int_equal(h_children(e->pid, old, 4), 1);
	h_fill_random(out, BIG, 7);
	int a = h_connect("127.0.0.1", port), b = h_connect("127.0.0.1", port);
	assert_true(a >= 0 && b >= 0);
	int bufsz = 64 * 1024; /* keep the kernel's share small: the queue is echod's */
	setsockopt(a, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(b, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(a, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(b, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	size_t sa = 0, sb = 0;
	/* Send until neither socket takes more for 300 ms: both queues are
	 * then full. */
	uint64_t end = h_now_ms() + 10000, progress = h_now_ms();
	while (h_now_ms() - progress < 300 && h_now_ms() < end) {
		struct pollfd p[2] = {{a, POLLOUT, 0}, {b, POLLOUT, 0}};
		poll(p, 2, 50);
		ssize_t n;
		if ((p[0].revents & POLLOUT) && (n = send(a, out + sa, BIG - sa, MSG_NOSIGNAL)) > 0)
			sa += (size_t)n, progress = h_now_ms();
		if ((p[1].revents & POLLOUT) &&
		    (n = send(b, out + sb, HALF - sb, MSG_NOSIGNAL)) > 0)
			sb += (size_t)n, progress = h_now_ms();
	}
	print_message("# %zu and %zu bytes sent before the reload\n", sa, sb);
	assert_true(sa > 262144 && sa < BIG);
	assert_true(sb > 262144 && sb < HALF);
	assert_int_equal(shutdown(b, SHUT_WR), 0);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	if (!h_log_wait(e, "2 connections handed to the new generation", 1, 10000)) {
		char *log = h_file_read(e->log);
		fail_msg("no handover of both connections; the log:\n%s", log);
	}
	assert_true(h_wait_children(e, 1, 10000));
	assert_int_equal(h_children(e->pid, now, 4), 1);
	assert_true(now[0] != old[0]);
	/* a: read everything, sending the rest as room comes. */
	size_t ga = 0, gb = 0;
	int beof = 0;
	end = h_now_ms() + 10000;
	while ((ga < BIG || !beof) && h_now_ms() < end) {
		struct pollfd p[2] = {{a, POLLIN | (sa < BIG ? POLLOUT : 0), 0},
		                      {beof ? -1 : b, POLLIN, 0}};
		poll(p, 2, 100);
		ssize_t n;
		if ((p[0].revents & POLLOUT) && (n = send(a, out + sa, BIG - sa, MSG_NOSIGNAL)) > 0)
			sa += (size_t)n;
		if ((p[0].revents & POLLIN) && (n = recv(a, in + ga, BIG - ga, 0)) > 0)
			ga += (size_t)n;
		if (p[1].revents & (POLLIN | POLLHUP)) {
			n = recv(b, inb + gb, sb - gb + 1, 0);
			if (n == 0)
				beof = 1;
			else if (n > 0 && gb + (size_t)n <= sb)
				gb += (size_t)n;
			else if (n > 0 || errno != EAGAIN)
				fail_msg("b: %zd after %zu bytes", n, gb);
		}
	}
	assert_int_equal(ga, BIG);
	assert_memory_equal(in, out, BIG);
	assert_int_equal(beof, 1);
	assert_int_equal(gb, sb);
	assert_memory_equal(inb, out, sb);
	close(a);
	close(b);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

/* reload_handover = "drain": the previous behaviour, the old worker closes
 * an idle connection at its first quiet moment after a complete echo. */
static void test_drain_keeps_old_behaviour(void **state)
{
	const char *conf = "workers = 1;\nreload_handover = \"drain\";\n"
	                   "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n";
	char msg[1000];
	(void)state;

	struct echod *e = h_echod_start(conf, NULL);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_fill_random(msg, sizeof(msg), 3);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 2 serves", 1, 10000));
	assert_int_equal(h_wait_eof(fd, 5000), 1);
	assert_int_equal(h_log_count(e, "handed to the new generation"), 0);
	close(fd);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

/*
 * The new worker runs out of descriptors (RLIMIT_NOFILE 64 for all of
 * echod; two old workers hold 70 connections between them, one new worker
 * cannot take them all): what it cannot take stays with the old workers,
 * which drain it; every connection either still echoes or ended with EOF
 * after its whole echo, never a reset.
 */
static void test_descriptor_limit_drains(void **state)
{
	enum { N = 70 };
	const char *conf = "workers = 2;\nmax_connections = 50;\n"
	                   "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n";
	struct h_opts opts = {.nofile = 64};
	int fds[N];
	char msg[200];
	(void)state;

	h_raise_nofile(4096);
	struct echod *e = h_echod_start(conf, &opts);
	int port = e->ports[0];
	char reload[256];
	snprintf(reload, sizeof(reload),
	         "workers = 1;\nmax_connections = 1000;\n"
	         "listen = ( { address = \"127.0.0.1\"; port = %d; } );\n",
	         port);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		assert_true(fds[i] >= 0);
		h_fill_random(msg, sizeof(msg), (uint32_t)i);
		assert_true(h_echo_check(fds[i], msg, sizeof(msg), 5000));
	}
	h_echod_rewrite(e, reload);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 2 serves", 1, 10000));
	assert_true(h_wait_children(e, 1, 15000));
	int handed = 0, drained = 0;
	for (int i = 0; i < N; i++) {
		struct pollfd p = {fds[i], POLLIN, 0};
		if (poll(&p, 1, 0) == 1) {
			assert_int_equal(h_wait_eof(fds[i], 1000), 1);
			drained++;
		} else {
			h_fill_random(msg, sizeof(msg), (uint32_t)(i + 1000));
			assert_true(h_echo_check(fds[i], msg, sizeof(msg), 5000));
			handed++;
		}
		close(fds[i]);
	}
	print_message("# %d handed over, %d drained\n", handed, drained);
	assert_true(handed > 0);
	assert_true(drained > 0);
	assert_true(h_log_count(e, "no descriptor left") > 0);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_reload_storm_keeps_connections, teardown),
	    cmocka_unit_test_teardown(test_failed_upgrade_rolls_back, teardown),
	    cmocka_unit_test_teardown(test_upgrade_over_control_socket, teardown),
	    cmocka_unit_test_teardown(test_failed_upgrade_over_control_socket, teardown),
	    cmocka_unit_test_teardown(test_queue_and_half_close_move, h_teardown),
	    cmocka_unit_test_teardown(test_drain_keeps_old_behaviour, h_teardown),
	    cmocka_unit_test_teardown(test_descriptor_limit_drains, h_teardown),
	    cmocka_unit_test_teardown(test_storm_migrate_req_0, teardown),
	    cmocka_unit_test_teardown(test_storm_migrate_req_1, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
