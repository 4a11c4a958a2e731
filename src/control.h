/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket: a Unix stream socket (mode 0600, owned by the user the
 * master runs as) on which `echod -s WORD` asks the master to act and hears
 * how it went.  The protocol is lines of text:
 *
 *   client:  WORD [json]\n        reload | stop | quit | reopen | status |
 *                                 upgrade
 *   master:  | TEXT\n             output, for the client's standard output
 *            ! TEXT\n             a diagnostic (an error the master logged
 *                                 while acting), for its standard error
 *            ok [TEXT]\n          done; the last line (exit 0)
 *            error TEXT\n         failed; the last line (exit 1)
 *
 * A request may have to wait: a reload is answered when its generation
 * serves (or could not), an upgrade when the new master serves and this
 * one retires (or it rolled back), a stop or quit just before the master exits, and
 * the connection closes only when the master has gone.  Only root and the
 * master's own user may ask (SO_PEERCRED), besides the file's mode.
 */
#ifndef ECHOD_CONTROL_H
#define ECHOD_CONTROL_H

#include <stddef.h>

enum control_cmd {
	CONTROL_RELOAD,
	CONTROL_STOP,
	CONTROL_QUIT,
	CONTROL_REOPEN,
	CONTROL_STATUS,
	CONTROL_UPGRADE,
	CONTROL_COUNT,
};

/* The word of a command ("reload", ...). */
extern const char *const control_words[CONTROL_COUNT];

/* The command of a word, or -1. */
int control_from_word(const char *word);

/*
 * Parse a request line (len bytes, without its newline): a word, then
 * optionally " json" for status.  Returns 0 with *cmd and *json set, or -1.
 * Pure.
 */
int control_parse(const char *line, size_t len, enum control_cmd *cmd, int *json);

/* What a waiting client waits for. */
enum control_wait {
	CONTROL_WAIT_NONE,
	CONTROL_WAIT_RELOAD,  /* its reload's outcome */
	CONTROL_WAIT_UPGRADE, /* its upgrade's outcome */
	CONTROL_WAIT_EXIT,    /* the master's exit */
};

struct control;
struct control_client;
struct ev_loop;

/* Act on cmd for client c: reply with control_line()/control_done(), or
 * make it wait with control_wait(). */
typedef void control_handler(void *arg, struct control_client *c, enum control_cmd cmd, int json);

/*
 * Listen on the Unix socket `path` and serve from loop.  Returns the server,
 * or NULL with errno (see endpoint_listen()).
 */
struct control *control_new(struct ev_loop *loop, const char *path, control_handler *fn, void *arg);

/*
 * As control_new(), but serve the listening socket fd (>= 0) bound at path,
 * which a master being upgraded passed (upgrade.h); until
 * control_keep_file(ctl, 0) the file is left in place at the end, since the
 * old master may go on serving it (a rollback).  fd is ours, even on error.
 */
struct control *control_adopt(struct ev_loop *loop, const char *path, int fd, control_handler *fn,
                              void *arg);

const char *control_path(const struct control *ctl);

/* The listening socket, to pass on in an upgrade; -1 if none (or ctl NULL). */
int control_fd(const struct control *ctl);

/* With keep, stopping never removes the socket file: another master (the
 * new one after an upgrade, or the old one before it serves) serves it. */
void control_keep_file(struct control *ctl, int keep);

/* One line of output ('|') or diagnostic ('!') for c. */
void control_line(struct control_client *c, char kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The last line: "ok TEXT" or "error TEXT"; c is closed once it is sent. */
void control_done(struct control_client *c, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* c waits for `what`; control_done_all() will answer it. */
void control_wait(struct control_client *c, enum control_wait what);

/* Answer every client that waits for `what`; returns how many there were. */
size_t control_done_all(struct control *ctl, enum control_wait what, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The master is about to exit: send what is queued (briefly blocking, at
 * most a short moment), then free everything but the descriptors of the
 * clients that wait for the exit, so that they see EOF only when the process
 * is gone; remove the socket file.
 */
void control_exit(struct control *ctl);

/* Take no new clients (close the listener, remove the file); those
 * connected are still answered. */
void control_stop_listening(struct control *ctl);

/* Stop serving: close everything, remove the socket file, free ctl.  NULL is
 * fine. */
void control_free(struct control *ctl);

/* In a child after fork(): close the descriptors, leave the file, free. */
void control_forget(struct control *ctl);

#endif
