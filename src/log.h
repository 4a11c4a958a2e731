/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging to stderr, syslog or a file, with levels.  The log_warn and log_error forms
 * append strerror(errno); the *x forms do not (the OpenBSD convention).
 */
#ifndef ECHOD_LOG_H
#define ECHOD_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* The level names, indexed by enum log_level, NULL-terminated (the
 * config's log.level choices). */
extern const char *const log_level_names[];

/*
 * Send the log to `where`: "stderr", "syslog" or an absolute file path
 * (opened for append).  Returns 0, or -1 with errno if the file cannot be
 * opened; the previous target is then kept.
 */
int log_open(const char *where, enum log_level level);
/* Reopen the log file (after rotation).  Returns 0 or -1 with errno. */
int log_reopen(void);
void log_close(void);

/* The log file's path, or NULL when logging to stderr or syslog. */
const char *log_file(void);

/* True if a message at `level` would be written (guards costly arguments). */
extern enum log_level log_max_level;
#define log_enabled(level) ((level) <= log_max_level)

/* `one` or `many`, for n: "1 connection", "2 connections" in messages. */
static inline const char *log_plural(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * A function that also sees every message at warning or error, whatever the
 * level, as it is written (without the timestamp): the master uses it to
 * hand a control client the errors of its reload.  NULL removes it.
 */
typedef void log_tap_fn(void *arg, enum log_level level, const char *msg);
void log_set_tap(log_tap_fn *fn, void *arg);

void log_msg(enum log_level level, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A recurring event worth telling the operator about (a connection refused,
 * a datagram dropped), logged at most once per LOG_RATE_MS with the number of
 * times it happened: a flood neither floods the log nor goes unreported.  One
 * struct per reason, zeroed before use; the times are the caller's monotonic
 * clock in ms (ev_now()), so counting costs no system call.
 */
#define LOG_RATE_MS 10000

struct log_rate {
	uint64_t last_ms;           /* when the last line was written */
	uint64_t first_ms;          /* when the first event held back happened */
	unsigned long long pending; /* events counted and not yet written */
	int written;                /* a line was written: last_ms is set */
};

/*
 * Count n events at now_ms.  If no line was written for r in the last
 * LOG_RATE_MS, write one at `level`: the message, and " (N times in S s)"
 * when it stands for more than one event.  Returns 1 if a line was written,
 * 0 if the events were only counted: log_rate_due() then says when
 * log_rate_flush() may write them.  Nothing is counted at a level the log
 * drops.
 */
int log_rate(struct log_rate *r, uint64_t now_ms, unsigned long long n, enum log_level level,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* When the events r holds back may be written, or 0 if it holds none. */
uint64_t log_rate_due(const struct log_rate *r);

/* Write what r holds back, as log_rate() would, if it is due (or at once
 * with force: a process that exits).  Returns 1 if a line was written. */
int log_rate_flush(struct log_rate *r, uint64_t now_ms, int force, enum log_level level,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(...)  log_msg(LOG_LEVEL_ERROR, 1, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LEVEL_WARNING, 1, __VA_ARGS__)
#define log_warnx(...)  log_msg(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                  \
			log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__);                                  \
	} while (0)

#endif
