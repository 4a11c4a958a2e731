/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's pid file, and the lock on it that makes it the proof of a
 * running master: one instance per pid file, and `echod -s` signals only the
 * process that holds the lock.
 */
#ifndef ECHOD_PIDFILE_H
#define ECHOD_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* A pid file this process has locked. */
struct pidfile {
	int fd;     /* open and locked; -1: none */
	char *path; /* as configured */
};

#define PIDFILE_NONE                                                                               \
	{                                                                                          \
		.fd = -1, .path = NULL                                                             \
	}

/*
 * Open or create `path` (never through a symbolic link) and take an exclusive
 * lock on it without waiting, then empty it; pidfile_write() fills it in.
 * The lock belongs to the open file, so it survives fork() (a master that
 * detaches keeps it) and lasts until the last copy of the descriptor is
 * closed.  Returns 0; or -1 with errno: EWOULDBLOCK if another process holds
 * the lock (*holder is then the pid the file names, or 0 if it names none
 * yet), or the error of open() or of the lock.
 */
int pidfile_lock(struct pidfile *pf, const char *path, pid_t *holder);

/* Write our pid into the locked file.  Returns 0 or -1 with errno. */
int pidfile_write(const struct pidfile *pf);

/* Whether `path` is the very file pf has locked (same inode, still linked). */
int pidfile_same(const struct pidfile *pf, const char *path);

/* Remove the file, if it is still the one locked, and drop the lock. */
void pidfile_release(struct pidfile *pf);

/* Close pf's descriptor and free it, leaving file and lock alone: in a child
 * after fork(), so that the lock lives exactly as long as the master. */
void pidfile_forget(struct pidfile *pf);

/* The pid in the `len` bytes of text at buf, as a master writes it: decimal
 * digits without a leading zero and an optional newline, from 1 to INT_MAX.
 * Returns it, or -1.  Pure (tests/fuzz/fuzz_pidfile.c). */
pid_t pidfile_parse(const char *buf, size_t len);

/* The pid in the file at path, or -1 with errno (ENOENT: no file; EINVAL: no
 * pid in it). */
pid_t pidfile_read(const char *path);

/* What pidfile_check() found. */
enum pidfile_state {
	PIDFILE_RUNNING, /* a master holds the lock and the file names it */
	PIDFILE_ABSENT,  /* no such file (errno is ENOENT) */
	PIDFILE_STALE,   /* nobody holds the lock: left by a master that died */
	PIDFILE_FOREIGN, /* locked, but the pid it names is not the holder, or is 0 or 1 */
	PIDFILE_ERROR,   /* it cannot be read or checked (errno) */
};

/*
 * Who may be signalled through the pid file at path (`echod -s`).  *pid
 * receives the pid the file names, 0 if none.  A file that is locked but
 * still empty (a master between its start and its first write) is read again
 * for up to a second.  Only PIDFILE_RUNNING may be signalled: the lock proves
 * a live holder, and the named process must have the file open (checked in
 * /proc where it can be read).
 */
enum pidfile_state pidfile_check(const char *path, pid_t *pid);

#endif
