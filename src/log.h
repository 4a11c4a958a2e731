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
 * Send the log to `target`: "stderr", "syslog" or an absolute file path
 * (opened for append).  Returns 0, or -1 with errno if the file cannot be
 * opened; the previous target is then kept.
 */
int log_open(const char *target, enum log_level level);
/* Reopen the log file (after rotation).  Returns 0 or -1 with errno. */
int log_reopen(void);
void log_close(void);

/* The log file's path, or NULL when logging to stderr or syslog. */
const char *log_file(void);

/* True if a message at `level` would be written (guards costly arguments). */
extern enum log_level log_max_level;
#define log_enabled(level) ((level) <= log_max_level)

void log_msg(enum log_level level, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/*
 * A recurring message, written at most once per interval, each line saying
 * how many events it stands for.  Zero it to start.  The clock is the
 * caller's (ms), so that tests can drive it.
 */
struct log_limit {
	uint64_t last_ms; /* when the last line was due */
	uint64_t pending; /* events not reported yet */
	int written;      /* a line was ever due */
};

/*
 * Count one event at now_ms.  If no line was due within interval_ms, a line
 * is due now: returns the number of events it reports (this one and those
 * held back since the last line), and the count starts again.  Otherwise
 * returns 0 and the event is held back.
 */
uint64_t log_limit_hit(struct log_limit *l, uint64_t now_ms, uint64_t interval_ms);

/*
 * The events held back, if their line is due at now_ms (0 if there are none
 * or it is not due yet), for a timer that reports the tail of a burst; with
 * interval_ms 0, whatever is held back (at exit).
 */
uint64_t log_limit_due(struct log_limit *l, uint64_t now_ms, uint64_t interval_ms);

/* When the events held back will be due (meaningful if l->pending > 0). */
static inline uint64_t log_limit_next(const struct log_limit *l, uint64_t interval_ms)
{
	return l->last_ms + interval_ms;
}

#endif
