/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What an operator meets, against the real echod (issue 15): one instance per
 * pid file; `-s` that signals only the master holding its pid file, never a
 * stale file's pid nor pid 1; a detached master started with a relative -c
 * that still reloads its file; Unix sockets with mode, owner and group;
 * link-local IPv6; urgent data; the messages (prefix, FILE:LINE, plurals,
 * connection ids, refusals at notice with a count, syslog with no listener).
 * Tests that need root skip with a message when not root.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
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
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define LISTEN_TCP "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n"
#define PID_FILE   "pid_file = \"@DIR@/echod.pid\";\n"

/* The exit status h_echod_signal_wait and h_run report for "exit(code)". */
#define EXITED(code) ((code) << 8)

/* A child of the test that is not echod, for pid files to name; killed by
 * the teardown if a test fails before it does. */
static pid_t bystander;

static int teardown(void **state)
{
	if (bystander > 0) {
		kill(bystander, SIGKILL);
		waitpid(bystander, NULL, 0);
		bystander = 0;
	}
	return h_teardown(state);
}

/* Start `sleep 60` as our child: a live process that must never be signalled. */
static pid_t start_bystander(void)
{
	bystander = fork();
	assert_true(bystander != -1);
	if (bystander == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	return bystander;
}

/* Still alive (not even a zombie: nothing killed it). */
static int alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* One message echoed on a fresh connection to 127.0.0.1:port. */
static int echoes(int port)
{
	int fd = h_connect("127.0.0.1", port);
	int ok = fd >= 0 && h_echo_check(fd, "still here", 10, 3000);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* The pid a pid file names, or -1. */
static pid_t pidfile_pid(const char *path)
{
	char *text = h_file_read(path);
	long pid = text[0] != '\0' ? atol(text) : -1;

	free(text);
	return (pid_t)pid;
}

static void stop_ok(struct echod *e)
{
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 10000), 0);
	h_echod_free(e);
}

/* ---- one instance per pid file ----------------------------------------- */

/* Bug: a second echod with the same config started silently, shared the
 * ports through SO_REUSEPORT and took over the pid file.  Now it exits 1,
 * naming the pid and the file, before it opens any socket; the first keeps
 * serving and keeps its pid file.  -t takes no lock. */
static void test_second_instance_refused(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" PID_FILE LISTEN_TCP, NULL);
	char pidfile[320], want[400];
	struct h_run r;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	h_run_echod(&r, 5000, "-c", e->conf, NULL);
	print_message("# second instance: %s", r.err);
	assert_int_equal(r.status, EXITED(1));
	snprintf(want, sizeof(want), "echod: already running as pid %ld (pid file %s)",
	         (long)e->pid, pidfile);
	assert_non_null(strstr(r.err, want));
	assert_null(strstr(r.err, "listening on"));
	h_run_free(&r);

	assert_true(echoes(e->ports[0]));
	assert_int_equal(h_echod_signal_wait(e, 0, 0), -1);
	char *text = h_file_read(pidfile);
	assert_int_equal(atol(text), (long)e->pid);
	free(text);
	assert_int_equal(h_log_count(e, "already running"), 0);

	h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	stop_ok(e);
}

/* ---- -s signals only the master that holds the pid file ---------------- */

/* Bug: with a stale pid file naming an unrelated process, `-s reload` sent it
 * SIGHUP (it died) and exited 0; one naming pid 1 signalled pid 1.  A file
 * nobody holds the lock of is stale: reported, exit 1, nothing signalled. */
static void test_signal_stale_pid_file(void **state)
{
	struct echod *e = h_echod_prepare("workers = 1;\n" PID_FILE LISTEN_TCP);
	char pidfile[320], text[32];
	struct h_run r;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	pid_t victim = start_bystander();
	snprintf(text, sizeof(text), "%ld\n", (long)victim);
	write_text(pidfile, text);
	static const char *const words[] = {"reload", "stop", "quit", "reopen"};
	for (size_t i = 0; i < 4; i++) {
		h_run_echod(&r, 5000, "-c", e->conf, "-s", words[i], NULL);
		assert_int_equal(r.status, EXITED(1));
		assert_non_null(strstr(r.err, "is stale"));
		assert_non_null(strstr(r.err, "nothing signalled"));
		assert_string_equal(r.out, "");
		h_run_free(&r);
	}
	assert_true(alive(victim));

	write_text(pidfile, "1\n");
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "reopen", NULL);
	print_message("# pid 1: %s", r.err);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "names pid 1, but no process holds its lock"));
	h_run_free(&r);
	h_echod_free(e);
}

/* A running master's pid file edited to name another process (ours, or pid
 * 1): -s refuses, and signals neither that process nor the master. */
static void test_signal_foreign_pid(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" PID_FILE LISTEN_TCP, NULL);
	char pidfile[320], text[32];
	struct h_run r;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	pid_t victim = start_bystander();
	/* In place: the master keeps its lock on this very file. */
	snprintf(text, sizeof(text), "%ld\n", (long)victim);
	write_text(pidfile, text);
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	print_message("# %s", r.err);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "which is not the master that holds it"));
	h_run_free(&r);
	write_text(pidfile, "1\n");
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "reopen", NULL);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "names pid 1,"));
	h_run_free(&r);
	assert_true(alive(victim));
	assert_int_equal(h_echod_signal_wait(e, 0, 0), -1);
	assert_true(echoes(e->ports[0]));
	assert_int_equal(h_log_count(e, "graceful stop"), 0);
	stop_ok(e);
}

/* Where it signals, -s says so: "sent HUP to pid N; outcome in the log". */
static void test_signal_says_what_it_did(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" PID_FILE LISTEN_TCP, NULL);
	char want[128];
	struct h_run r;
	(void)state;

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "reload", NULL);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "echod: sent HUP to pid %ld; outcome in the log\n",
	         (long)e->pid);
	assert_string_equal(r.out, want);
	h_run_free(&r);
	assert_true(h_log_wait(e, "reload accepted", 1, 5000));

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "echod: sent TERM to pid %ld; outcome in the log\n",
	         (long)e->pid);
	assert_string_equal(r.out, want);
	h_run_free(&r);
	assert_int_equal(h_echod_signal_wait(e, 0, 10000), 0);
	h_echod_free(e);
}

/* A reload moves the pid file (the old one goes), recreates one removed by
 * hand, and is rejected if the new one is another master's. */
static void test_reload_pid_file(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" PID_FILE LISTEN_TCP, NULL);
	struct echod *other =
	    h_echod_start("workers = 1;\npid_file = \"@DIR@/other.pid\";\n" LISTEN_TCP, NULL);
	char old[320], moved[320], config[800], want[800];
	(void)state;

	snprintf(old, sizeof(old), "%s/echod.pid", e->dir);
	snprintf(moved, sizeof(moved), "%s/moved.pid", e->dir);
	h_echod_rewrite(e, "workers = 1;\npid_file = \"@DIR@/moved.pid\";\n" LISTEN_TCP);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload accepted", 1, 5000));
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(pidfile_pid(moved), e->pid);

	/* Removed by hand: the next reload writes it again. */
	assert_int_equal(unlink(moved), 0);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload accepted", 2, 5000));
	assert_int_equal(pidfile_pid(moved), e->pid);

	/* Another master's: rejected, and nothing changes. */
	snprintf(config, sizeof(config), "workers = 1;\npid_file = \"%s/other.pid\";\n" LISTEN_TCP,
	         other->dir);
	h_echod_rewrite(e, config);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload rejected", 1, 5000));
	snprintf(want, sizeof(want),
	         "already running as pid %ld (pid file %s/other.pid); reload rejected",
	         (long)other->pid, other->dir);
	assert_int_equal(h_log_count(e, want), 1);
	assert_int_equal(pidfile_pid(moved), e->pid);
	assert_true(echoes(e->ports[0]));
	assert_true(echoes(other->ports[0]));
	stop_ok(other);
	stop_ok(e);
	assert_int_equal(access(moved, F_OK), -1);
}

/* ---- -d with a relative -c ----------------------------------------------- */

/* Run echod with argv in directory dir (h_run runs in ours). */
static void run_in(const char *dir, struct h_run *r, const char *a1, const char *a2, const char *a3,
                   const char *a4)
{
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(here >= 0);
	assert_int_equal(chdir(dir), 0);
	h_run_echod(r, 5000, a1, a2, a3, a4, NULL);
	assert_int_equal(fchdir(here), 0);
	close(here);
}

/* Bug: after `echod -d -c dmn.conf` (a relative path), a reload failed with
 * "dmn.conf: No such file or directory" (the daemon had changed to /) and
 * -s reload still exited 0.  The path is made absolute at start: an edit of
 * the file, reloaded, applies. */
/* Write `text` to the file `name` in e's temp dir. */
static void write_in(const struct echod *e, const char *name, const char *text)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/%s", e->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* A master detached with a relative -c, whose file @includes another by a
 * relative name: a reload after -d (which moved it to /) reads the same two
 * files and applies the edit of the included one. */
static void test_daemon_relative_config_reloads(void **state)
{
	struct echod *e =
	    h_echod_prepare("workers = 1;\n" PID_FILE "log = { target = \"@DIR@/echod.log\"; };\n"
	                    "@include \"listen.conf\"\n");
	char log[320], sock[320], listen[700];
	struct h_run r;
	(void)state;

	snprintf(listen, sizeof(listen), "listen = ( { path = \"%s/a.sock\"; } );\n", e->dir);
	write_in(e, "listen.conf", listen);
	snprintf(log, sizeof(log), "%s/echod.log", e->dir);
	snprintf(sock, sizeof(sock), "%s/b.sock", e->dir);
	/* The detached master is re-parented to us, so we can reap it. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	run_in(e->dir, &r, "-d", "-c", "echod.conf", NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_true(h_file_wait_serving(log, 10000));
	char pidfile[320];
	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	char *text = h_file_read(pidfile);
	e->pid = (pid_t)atol(text); /* our child now: the teardown stops it if we fail */
	free(text);
	assert_true(e->pid > 0);

	snprintf(listen, sizeof(listen),
	         "listen = ( { path = \"%s/a.sock\"; }, { path = \"%s/b.sock\"; } );\n", e->dir,
	         e->dir);
	write_in(e, "listen.conf", listen);
	run_in(e->dir, &r, "-c", "./echod.conf", "-s", "reload");
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_true(h_file_wait(log, "reload accepted", 1, 5000));
	assert_int_equal(h_file_count(log, "reload rejected"), 0);
	assert_true(h_file_wait(log, "listening on unix", 2, 5000));
	int fd = h_connect_unix(sock);
	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, "edited", 6, 3000));
	close(fd);

	run_in(e->dir, &r, "-c", "echod.conf", "-s", "stop");
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_int_equal(h_echod_signal_wait(e, 0, 10000), 0);
	assert_int_equal(access(pidfile, F_OK), -1);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	h_echod_free(e);
}

/* ---- Unix sockets --------------------------------------------------------- */

/* In a child that becomes user pw: connect to path and get an echo.  Returns
 * 0 if that worked, else the errno of the connect (or -1: no echo). */
static int connect_as(const struct passwd *pw, const char *path)
{
	int out[2], err = -1;

	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int rc = -1;
		close(out[0]);
		if (setgroups(0, NULL) == 0 && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0) {
			int fd = h_connect_unix(path);
			if (fd == -1)
				rc = errno;
			else
				rc = h_echo_check(fd, "as nobody", 9, 3000) ? 0 : -1;
		}
		_exit(write(out[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(out[1]);
	assert_int_equal(read(out[0], &err, sizeof(err)), (ssize_t)sizeof(err));
	close(out[0]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return err;
}

/* Bug: Unix sockets were created from the umask (srwxr-xr-x root): a client
 * of another user got EACCES.  mode = "0666" lets it in; the default "0660"
 * keeps it out; owner and group are applied. */
static void test_unix_mode_owner_group(void **state)
{
	const struct passwd *pw = getpwnam("nobody");
	char config[600], a[320], b[320], c[320];
	struct stat st;
	(void)state;

	if (geteuid() != 0 || pw == NULL) {
		print_message("# skipped: a client of another user needs root and a user "
		              "\"nobody\"\n");
		skip();
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	snprintf(
	    config, sizeof(config),
	    "workers = 1;\nlisten = (\n"
	    "  { path = \"@DIR@/a.sock\"; mode = \"0666\"; },\n"
	    "  { path = \"@DIR@/b.sock\"; },\n"
	    "  { path = \"@DIR@/c.sock\"; mode = \"0600\"; owner = \"%ld\"; group = \"%ld\"; }\n"
	    ");\n",
	    (long)uid, (long)gid);
	struct echod *e = h_echod_start(config, NULL);
	snprintf(a, sizeof(a), "%s/a.sock", e->dir);
	snprintf(b, sizeof(b), "%s/b.sock", e->dir);
	snprintf(c, sizeof(c), "%s/c.sock", e->dir);
	/* mkdtemp made the directory 0700: nobody must reach the sockets. */
	assert_int_equal(chmod(e->dir, 0755), 0);

	assert_int_equal(stat(a, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(stat(b, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);

	pw = getpwnam("nobody");
	assert_int_equal(connect_as(pw, a), 0);
	assert_int_equal(connect_as(pw, b), EACCES);
	assert_int_equal(connect_as(pw, c), 0);

	/* A reload applies a new mode to the socket it keeps. */
	h_echod_rewrite(e, "workers = 1;\nlisten = (\n"
	                   "  { path = \"@DIR@/a.sock\"; },\n"
	                   "  { path = \"@DIR@/b.sock\"; mode = \"0666\"; }\n);\n");
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 2 serves", 1, 5000));
	assert_int_equal(stat(b, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(connect_as(pw, b), 0);
	assert_int_equal(connect_as(pw, a), EACCES);
	stop_ok(e);
}

/* A file at the socket's path that is not a socket is an error and is left
 * alone; a socket left by a dead server is replaced. */
static void test_unix_path_taken(void **state)
{
	struct h_opts opts = {.no_wait = 1};
	struct echod *e = h_echod_prepare("workers = 1;\n"
	                                  "listen = ( { path = \"@DIR@/e.sock\"; } );\n");
	char path[320], want[1200];
	(void)state;

	snprintf(path, sizeof(path), "%s/e.sock", e->dir);
	write_text(path, "not a socket\n");
	h_echod_launch(e, &opts);
	assert_int_equal(h_echod_signal_wait(e, 0, 5000), EXITED(1));
	snprintf(want, sizeof(want),
	         "%s:2: cannot listen on unix %s: %s exists and is not a socket", e->conf, path,
	         path);
	assert_int_equal(h_log_count(e, want), 1);
	char *text = h_file_read(path);
	assert_string_equal(text, "not a socket\n");
	free(text);
	h_echod_free(e);

	/* A stale socket: bound, then its server gone. */
	e = h_echod_prepare("workers = 1;\nlisten = ( { path = \"@DIR@/e.sock\"; } );\n");
	snprintf(path, sizeof(path), "%s/e.sock", e->dir);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	h_echod_launch(e, NULL);
	fd = h_connect_unix(path);
	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, "replaced", 8, 3000));
	close(fd);
	stop_ok(e);
}

/* ---- link-local IPv6 and urgent data ------------------------------------- */

/* -t checks a link-local address: it needs its interface, which must exist. */
static void test_link_local_check(void **state)
{
	static const struct {
		const char *address;
		const char *error; /* NULL: valid */
	} cases[] = {
	    {"fe80::1%lo", NULL},
	    {"fe80::1%1", NULL},
	    {"fe80::1", "a link-local address needs its interface"},
	    {"fe80::1%no-such-if0", "no network interface \"no-such-if0\""},
	    {"::1%lo", "only a link-local address (fe80::/10) takes a %scope"},
	};
	char config[256];
	struct h_run r;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(config, sizeof(config),
		         "workers = 1;\nlisten = ( { address = \"%s\"; port = 7; } );\n",
		         cases[i].address);
		struct echod *e = h_echod_prepare(config);
		h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
		print_message("# %s: %s%s", cases[i].address, r.out, r.err);
		if (cases[i].error == NULL) {
			assert_int_equal(r.status, 0);
		} else {
			char want[400];
			snprintf(want, sizeof(want), "%s:2: ", e->conf);
			assert_int_equal(r.status, EXITED(78));
			assert_non_null(strstr(r.err, want));
			assert_non_null(strstr(r.err, cases[i].error));
		}
		h_run_free(&r);
		h_echod_free(e);
	}
}

/* The network namespace the test runs in, while one test is in a private one. */
static int home_netns = -1;

static int leave_netns(void **state)
{
	if (home_netns != -1) {
		setns(home_netns, CLONE_NEWNET);
		close(home_netns);
		home_netns = -1;
	}
	return teardown(state);
}

/* In our private network namespace: lo up, with fe80::1/64 on it, usable:
 * loopback skips duplicate address detection, but the kernel still clears
 * the address's "tentative" flag from a work queue a moment later, so wait
 * (a bounded poll) until a socket can bind it. */
static void netns_link_local(void)
{
	struct ifreq ifr;
	int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s4 >= 0 && s6 >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	assert_int_equal(ioctl(s4, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s4, SIOCSIFFLAGS, &ifr), 0);
	/* struct in6_ifreq of <linux/ipv6.h>, which clashes with <netinet/in.h>. */
	struct {
		struct in6_addr addr;
		uint32_t prefixlen;
		int ifindex;
	} req = {.prefixlen = 64, .ifindex = (int)if_nametoindex("lo")};
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &req.addr), 1);
	assert_int_equal(ioctl(s6, SIOCSIFADDR, &req), 0);
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
	                            .sin6_scope_id = (uint32_t)req.ifindex};
	sin6.sin6_addr = req.addr;
	int usable = 0;
	for (uint64_t end = h_now_ms() + 3000; !usable && h_now_ms() < end;) {
		usable = bind(s6, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
		if (!usable)
			poll(NULL, 0, 5);
	}
	assert_true(usable);
	close(s4);
	close(s6);
}

/* A listener on fe80::1%lo, in a network namespace of the test's own (gone
 * with its last process): it serves, and its log names it with its scope. */
static void test_link_local_serves(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		print_message("# skipped: a private network namespace needs root\n");
		skip();
	}
	home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(home_netns >= 0);
	if (unshare(CLONE_NEWNET) == -1) {
		print_message("# skipped: cannot make a network namespace: %s\n", strerror(errno));
		close(home_netns);
		home_netns = -1;
		skip();
	}
	netns_link_local();
	struct echod *e = h_echod_start(
	    "workers = 1;\nlisten = ( { address = \"fe80::1%lo\"; port = 0; } );\n", NULL);
	assert_true(h_log_count(e, "listening on tcp [fe80::1%lo]:") == 1);
	assert_int_equal(e->nports, 1);

	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
	                            .sin6_port = htons((uint16_t)e->ports[0]),
	                            .sin6_scope_id = if_nametoindex("lo")};
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr), 1);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_true(h_echo_check(fd, "link-local", 10, 3000));
	close(fd);
	stop_ok(e);
}

/* Bug: TCP urgent data was left out of the echo ("abc" + urgent "X" + "def"
 * came back "abcdef").  It is echoed in its place, as ordinary data. */
static void test_urgent_data_in_line(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" LISTEN_TCP, NULL);
	char in[8] = "";
	(void)state;

	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_send_all(fd, "abc", 3);
	assert_int_equal(send(fd, "X", 1, MSG_OOB), 1);
	h_send_all(fd, "def", 3);
	assert_int_equal(h_recv_exact(fd, in, 7, 3000), 7);
	assert_memory_equal(in, "abcXdef", 7);
	close(fd);
	stop_ok(e);
}

/* ---- messages ------------------------------------------------------------ */

/* Bug: a missing config printed "FILE: No such file or directory" with no
 * "echod:" and no hint; -s with a bad word printed no usage. */
static void test_command_line_messages(void **state)
{
	struct h_run r;
	(void)state;

	h_run_echod(&r, 5000, "-c", "/nonexistent/echod.conf", NULL);
	assert_int_equal(r.status, EXITED(78));
	assert_string_equal(
	    r.err, "echod: cannot read /nonexistent/echod.conf: No such file or directory\n");
	h_run_free(&r);
	/* The default file, when there is none: how to name another. */
	if (access(SYSCONFDIR "/echod.conf", F_OK) == -1) {
		h_run_echod(&r, 5000, NULL);
		assert_int_equal(r.status, EXITED(78));
		assert_non_null(strstr(r.err, "echod: cannot read " SYSCONFDIR "/echod.conf"));
		assert_non_null(strstr(r.err, "name another with -c FILE"));
		h_run_free(&r);
		h_run_echod(&r, 5000, "-t", NULL);
		assert_int_equal(r.status, EXITED(78));
		assert_non_null(strstr(r.err, "-c FILE"));
		h_run_free(&r);
	}
	h_run_echod(&r, 5000, "-s", "bogus", NULL);
	assert_int_equal(r.status, EXITED(2));
	assert_non_null(strstr(r.err, "echod: unknown signal 'bogus'"));
	assert_non_null(strstr(r.err, "usage: echod"));
	h_run_free(&r);
}

/* Bug: "unknown user '_echod'" came without FILE:LINE. */
static void test_unknown_user_names_line(void **state)
{
	struct h_opts opts = {.no_wait = 1};
	char want[400];
	(void)state;

	if (geteuid() != 0) {
		print_message("# skipped: user applies only when started as root\n");
		skip();
	}
	struct echod *e =
	    h_echod_start("workers = 1;\n\nuser = \"no-such-user-echod\";\n" LISTEN_TCP, &opts);
	assert_int_equal(h_echod_signal_wait(e, 0, 5000), EXITED(1));
	snprintf(want, sizeof(want), "%s:3: unknown user 'no-such-user-echod'", e->conf);
	assert_int_equal(h_log_count(e, want), 1);
	h_echod_free(e);

	e = h_echod_start("workers = 1;\ngroup = \"no-such-group-echod\";\n" LISTEN_TCP, &opts);
	assert_int_equal(h_echod_signal_wait(e, 0, 5000), EXITED(1));
	snprintf(want, sizeof(want), "%s:2: unknown group 'no-such-group-echod'", e->conf);
	assert_int_equal(h_log_count(e, want), 1);
	h_echod_free(e);
}

/* Bug: "1 workers serve", "1 workers". */
static void test_plurals(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\n" LISTEN_TCP, NULL);
	(void)state;

	assert_int_equal(h_log_count(e, "1 worker serves"), 1);
	assert_int_equal(h_log_count(e, "started (pid"), 2); /* the master, its worker */
	assert_int_equal(h_log_count(e, "1 workers"), 0);
	h_echod_rewrite(e, "workers = 1;\n" LISTEN_TCP "frobnicate = 1;\n");
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload rejected: ", 1, 5000));
	assert_int_equal(h_log_count(e, "1 errors"), 0);
	stop_ok(e);
}

/*
 * Bug: connections were named by descriptor, so "connection 11" existed in
 * two workers at once.  Ids are GEN.WORKER.N, unique for the master's life:
 * a worker that replaces a dead one is GEN.WORKERrN.
 */
static void test_connection_ids(void **state)
{
	struct echod *e =
	    h_echod_start("workers = 1;\nlog = { level = \"debug\"; };\n" LISTEN_TCP, NULL);
	pid_t worker;
	(void)state;

	for (int i = 0; i < 3; i++)
		assert_true(echoes(e->ports[0]));
	assert_true(h_log_wait(e, "connection 1.0.3 closed (client closed)", 1, 3000));
	assert_int_equal(h_log_count(e, "connection 1.0.1 accepted from 127.0.0.1 port "), 1);
	assert_int_equal(h_log_count(e, "connection 1.0.2 accepted from 127.0.0.1 port "), 1);

	assert_int_equal(h_children(e->pid, &worker, 1), 1);
	assert_int_equal(kill(worker, SIGKILL), 0);
	assert_true(h_log_wait(e, "serving with the", 2, 5000));
	assert_true(echoes(e->ports[0]));
	assert_true(h_log_wait(e, "connection 1.0r1.1 closed", 1, 3000));

	h_echod_rewrite(e, "workers = 1;\nlog = { level = \"debug\"; };\n" LISTEN_TCP);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 2 serves", 1, 5000));
	assert_true(h_log_wait(e, "worker 0 (pid", 2, 5000)); /* the old one exited */
	assert_true(echoes(e->ports[0]));
	assert_true(h_log_wait(e, "connection 2.0.1 closed", 1, 3000));
	stop_ok(e);
}

/* Bug: refusals at max_connections were logged at debug only.  They come at
 * notice, one line per 10 s, and the worker writes the count it held back
 * when it exits. */
static void test_refusals_logged(void **state)
{
	struct echod *e = h_echod_start("workers = 1;\nmax_connections = 1;\n" LISTEN_TCP, NULL);
	(void)state;

	int held = h_connect("127.0.0.1", e->ports[0]);
	assert_true(held >= 0);
	assert_true(h_echo_check(held, "mine", 4, 3000));
	for (int i = 0; i < 5; i++) {
		int fd = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		assert_int_equal(h_wait_eof(fd, 3000), 1);
		close(fd);
	}
	/* One line for five refusals; besides it: listening, started, serves. */
	assert_int_equal(h_log_count(e, "connection refused: max_connections (1) reached"), 1);
	assert_int_equal(h_log_count(e, "[notice]"), 4);
	close(held);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 10000), 0);
	assert_int_equal(h_log_count(e, "connection refused: max_connections (1) reached (4 times"),
	                 1);
	h_echod_free(e);
}

/* Bug: with log.target = "syslog" and nothing on /dev/log, every message
 * vanished without a word.  It says so on standard error first. */
static void test_syslog_without_listener(void **state)
{
	struct h_opts opts = {.no_wait = 1};
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	(void)state;

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int listens = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (listens) {
		print_message("# skipped: a syslog daemon listens on /dev/log here\n");
		skip();
	}
	struct echod *e =
	    h_echod_start("workers = 1;\nlog = { target = \"syslog\"; };\n" LISTEN_TCP, &opts);
	assert_true(h_log_wait(e, "but no syslog daemon listens on /dev/log", 1, 5000));
	assert_true(h_log_count(e, "[warning]") == 1);
	h_echod_free(e);
}

#define TEST(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_second_instance_refused),
	    TEST(test_signal_stale_pid_file),
	    TEST(test_signal_foreign_pid),
	    TEST(test_signal_says_what_it_did),
	    TEST(test_reload_pid_file),
	    TEST(test_daemon_relative_config_reloads),
	    TEST(test_unix_mode_owner_group),
	    TEST(test_unix_path_taken),
	    TEST(test_link_local_check),
	    TEST(test_urgent_data_in_line),
	    TEST(test_command_line_messages),
	    TEST(test_unknown_user_names_line),
	    TEST(test_plurals),
	    TEST(test_connection_ids),
	    TEST(test_refusals_logged),
	    TEST(test_syslog_without_listener),
	    /* Last: it enters a network namespace of its own. */
	    cmocka_unit_test_teardown(test_link_local_serves, leave_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
