/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker sandbox (see sandbox.h).  One table lists what a serving worker
 * may call: its event loop (every backend's wait), echoing, memory,
 * logging (a write to stderr or the log file; reopening that file, for
 * append only; syslog, which may reconnect to a Unix socket), its channel,
 * and dying.  A system call added to the worker goes into this table; if it
 * is missing, the master's log names it the first time it is made.
 *
 * Why a SIGSYS handler and not SECCOMP_RET_KILL_PROCESS: with the kill, the
 * master sees SIGSYS but never which call it was (only the dying process's
 * siginfo has si_syscall).  So the filter traps, and the handler, which is
 * the one handler in echod that does more than set a flag, sends that number
 * to the master in one datagram and then lets SIGSYS kill the process: it
 * runs once, just before the end, and calls only send(), getpid() and kill(),
 * which are async-signal-safe.
 *
 * Sanitizer builds allow more, and check no argument but PROT_EXEC and the
 * socket domain:
 * LeakSanitizer stops the process at exit with ptrace, from a clone that is
 * a process of its own, and reads /proc.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "sandbox.h"
#include "sanitizer.h"

#ifdef HAVE_LIBURING
#include <linux/io_uring.h>
#endif

#ifdef HAVE_SECCOMP
#include <seccomp.h>

/* How an argument is checked: not at all, or the ways below. */
enum arg_rule {
	ANY,
	NO_EXEC,        /* mmap, mprotect: PROT_EXEC (argument 2) not set */
	APPEND,         /* open (1), openat (2): write-only, append */
	UNIX_ONLY,      /* socket: domain AF_UNIX */
	FIONREAD_ONLY,  /* ioctl: FIONREAD */
	OWN_PID,        /* kill, tgkill: argument 0 is this process */
	EMPTY_PATH,     /* newfstatat: AT_EMPTY_PATH, i.e. fstat */
	URING_REGISTER, /* io_uring_register: a buffer ring, the ring fd's release */
	RCVBUF_ONLY,    /* setsockopt: SOL_SOCKET, SO_RCVBUF (conn.h) */
};

static const struct {
	const char *name;
	enum arg_rule rule;
} allowed[] = {
    /* the event loop, every backend */
    {"epoll_wait", ANY},
    {"epoll_pwait", ANY},
    {"epoll_pwait2", ANY},
    {"epoll_ctl", ANY},
    {"poll", ANY},
    {"ppoll", ANY},
    {"select", ANY},
    {"pselect6", ANY},
#ifdef HAVE_LIBURING
    /* io_uring: the ring is made before the sandbox (io_uring_setup stays
     * out) and restricted to the backend's operations (ev_uring.c's
     * evu_restrict(): its operations bypass this filter) */
    {"io_uring_enter", ANY},
    {"io_uring_register", URING_REGISTER},
#endif
    {"clock_gettime", ANY},
    {"clock_getres", ANY},
    {"gettimeofday", ANY},
    {"time", ANY},
    /* echo: streams and datagrams */
    {"accept", ANY},
    {"accept4", ANY},
    {"read", ANY},
    {"readv", ANY},
    {"recvfrom", ANY},
    {"recvmsg", ANY},
    {"recvmmsg", ANY},
    {"write", ANY},
    {"writev", ANY},
    {"sendto", ANY},
    {"sendmsg", ANY},
    {"sendmmsg", ANY},
    {"shutdown", ANY},
    {"close", ANY},
    {"ioctl", FIONREAD_ONLY},
    {"getsockname", ANY},
    {"getpeername", ANY},
    {"getsockopt", ANY},
    {"setsockopt", RCVBUF_ONLY},
    {"fcntl", ANY},
    /* a reload's handover: a large queue travels in a memfd */
    {"memfd_create", ANY},
    {"pread64", ANY},
    /* memory, and the locks of the per-source table */
    {"brk", ANY},
    {"mmap", NO_EXEC},
    {"mprotect", NO_EXEC},
    {"munmap", ANY},
    {"mremap", ANY},
    {"madvise", ANY},
    {"futex", ANY},
    {"getrandom", ANY},
    /* logging: the log file reopened (USR1), syslog reconnecting */
    {"openat", APPEND},
    {"open", APPEND},
    {"dup2", ANY},
    {"dup3", ANY},
    {"fstat", ANY},
    {"newfstatat", EMPTY_PATH},
    {"socket", UNIX_ONLY},
    {"connect", ANY},
    {"getpid", ANY},
    {"gettid", ANY},
    /* signals, and the end */
    {"rt_sigreturn", ANY},
    {"rt_sigprocmask", ANY},
    {"rt_sigaction", ANY},
    {"sigaltstack", ANY},
    {"restart_syscall", ANY},
    {"kill", OWN_PID},
    {"tgkill", OWN_PID},
    {"exit", ANY},
    {"exit_group", ANY},
#ifdef ECHOD_ASAN
    {"clone", ANY},
    {"clone3", ANY},
    {"ptrace", ANY},
    {"wait4", ANY},
    {"waitid", ANY},
    {"prctl", ANY},
    {"sched_yield", ANY},
    {"sched_getaffinity", ANY},
    {"readlink", ANY},
    {"readlinkat", ANY},
    {"getdents", ANY},
    {"getdents64", ANY},
    {"lseek", ANY},
    {"pread64", ANY},
    {"getrlimit", ANY},
    {"prlimit64", ANY},
    {"set_robust_list", ANY},
    {"rseq", ANY},
    {"nanosleep", ANY},
    {"clock_nanosleep", ANY},
    {"uname", ANY},
    {"getppid", ANY},
    {"statfs", ANY},
    {"access", ANY},
    {"faccessat", ANY},
    {"faccessat2", ANY},
    {"stat", ANY},
    {"lstat", ANY},
#endif
};

static volatile sig_atomic_t report_fd = -1;

static void on_sigsys(int signo, siginfo_t *si, void *ctx)
{
	struct {
		struct chan_hdr hdr;
		struct chan_sandbox body;
	} msg;
	int saved = errno;
	(void)ctx;

	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = CHAN_SANDBOX;
	msg.hdr.len = sizeof(msg.body);
	msg.body.syscall = si->si_syscall;
	msg.body.arch = si->si_arch;
	if (report_fd >= 0) {
		ssize_t n = send(report_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
	}
	/* SA_RESETHAND made SIGSYS fatal again; it is blocked until this
	 * handler returns, and then kills the process. */
	kill(getpid(), signo);
	errno = saved;
}

/* Allow nr when argument `arg` compares so with a (and b, for a mask). */
static int allow_if(scmp_filter_ctx f, int nr, unsigned arg, enum scmp_compare op, scmp_datum_t a,
                    scmp_datum_t b)
{
	struct scmp_arg_cmp cmp = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};

	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

static int add_rule(scmp_filter_ctx f, int nr, enum arg_rule rule)
{
#ifdef ECHOD_ASAN
	/* LeakSanitizer's tracer is a process of its own (clone without
	 * CLONE_THREAD) that reads /proc; its reports check the terminal. */
	if (rule != NO_EXEC && rule != UNIX_ONLY)
		rule = ANY;
#endif
	switch (rule) {
	case ANY:
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
	case NO_EXEC: /* mmap, mprotect: argument 2 is prot */
		return allow_if(f, nr, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	case APPEND: /* open (flags: argument 1), openat (argument 2) */
		return allow_if(f, nr, nr == seccomp_syscall_resolve_name("openat") ? 2 : 1,
		                SCMP_CMP_MASKED_EQ, O_ACCMODE | O_APPEND, O_WRONLY | O_APPEND);
	case UNIX_ONLY:
		return allow_if(f, nr, 0, SCMP_CMP_EQ, AF_UNIX, 0);
	case FIONREAD_ONLY:
		return allow_if(f, nr, 1, SCMP_CMP_EQ, FIONREAD, 0);
	case RCVBUF_ONLY: { /* setsockopt: level is argument 1, the option 2 */
		struct scmp_arg_cmp cmp[2] = {
		    {.arg = 1, .op = SCMP_CMP_EQ, .datum_a = SOL_SOCKET, .datum_b = 0},
		    {.arg = 2, .op = SCMP_CMP_EQ, .datum_a = SO_RCVBUF, .datum_b = 0},
		};
		return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, 2, cmp);
	}
	case OWN_PID:
		return allow_if(f, nr, 0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
	case EMPTY_PATH: /* newfstatat: flags are argument 3 */
		return allow_if(f, nr, 3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
	case URING_REGISTER: { /* the opcode is argument 1 */
#ifdef HAVE_LIBURING
		/* The registrations the ring lets through after its set-up
		 * (ev_uring.c); a newer liburing may add the flag that names
		 * the ring by its registered index. */
		static const unsigned ops[] = {IORING_REGISTER_PBUF_RING,
		                               IORING_UNREGISTER_RING_FDS};
		const scmp_datum_t use_registered_ring = 1U << 31;
		int rc = 0;
		for (size_t i = 0; rc == 0 && i < sizeof(ops) / sizeof(ops[0]); i++)
			rc = allow_if(f, nr, 1, SCMP_CMP_MASKED_EQ,
			              ~use_registered_ring & 0xffffffffu, ops[i]);
		return rc;
#else
		return 0;
#endif
	}
	}
	return -EINVAL;
}

int sandbox_available(void)
{
	return 1;
}

int sandbox_enter(int fd)
{
	struct sigaction sa;
	scmp_filter_ctx f;
	int rc;

	/* The time zone is read at the first local time asked for, which may
	 * be the worker's first log line: read it now, while files open. */
	tzset();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return -1;
	report_fd = fd;
	if ((f = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* A call of another architecture (int 0x80 on x86-64) is no
	 * mistake of ours: it dies without a report.  KILL, not
	 * KILL_PROCESS (the worker has one thread): libseccomp refuses the
	 * latter where it cannot call seccomp(2) to ask the kernel, as under
	 * systemd's SystemCallFilter=@system-service, and then loads the
	 * filter with prctl(2). */
	rc = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL);
	for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i].name);
		/* Not a system call of this architecture (poll on arm64). */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		rc = add_rule(f, nr, allowed[i].rule);
	}
	/* seccomp_load() sets no_new_privs first (SCMP_FLTATR_CTL_NNP). */
	if (rc == 0)
		rc = seccomp_load(f);
	seccomp_release(f);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

void sandbox_report_to(int fd)
{
	report_fd = fd;
}

const char *sandbox_syscall_name(int nr, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	snprintf(buf, len, "%s", name != NULL ? name : "unknown");
	free(name);
	return buf;
}

#else /* !HAVE_SECCOMP */

int sandbox_available(void)
{
	return 0;
}

int sandbox_enter(int fd)
{
	(void)fd;
	errno = ENOSYS;
	return -1;
}

void sandbox_report_to(int fd)
{
	(void)fd;
}

const char *sandbox_syscall_name(int nr, char *buf, size_t len)
{
	snprintf(buf, len, "number %d", nr);
	return buf;
}

#endif
