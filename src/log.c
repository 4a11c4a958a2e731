/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging: one line per message to stderr (timestamp, level, pid), syslog
 * (daemon facility, ident "echod") or an append-only file that USR1 reopens.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum log_target { TARGET_STDERR, TARGET_SYSLOG, TARGET_FILE };

const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",     [LOG_LEVEL_DEBUG + 1] = NULL,
};

static const int syslog_prio[] = {
    [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING, [LOG_LEVEL_NOTICE] = LOG_NOTICE,
    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

enum log_level log_max_level = LOG_LEVEL_INFO;
static enum log_target target = TARGET_STDERR;
static int log_fd = STDERR_FILENO;
static char *log_path;
static log_tap_fn *tap;
static void *tap_arg;

void log_set_tap(log_tap_fn *fn, void *arg)
{
	tap = fn;
	tap_arg = arg;
}

#ifndef _PATH_LOG
#define _PATH_LOG "/dev/log"
#endif

/* Whether a syslog daemon (or journald) takes messages on _PATH_LOG.  Without
 * one, syslog(3) drops every message without a word. */
static int syslog_listens(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int types[] = {SOCK_DGRAM, SOCK_STREAM}, ok = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	for (size_t i = 0; i < 2 && !ok; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
	}
	return ok;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *where, enum log_level level)
{
	if (strcmp(where, "stderr") == 0 || strcmp(where, "syslog") == 0) {
		/* Said where the log still goes: after the switch, nobody
		 * would read it. */
		if (where[1] == 'y' && !syslog_listens())
			log_warnx("log.target is \"syslog\", but no syslog daemon listens on %s: "
			          "messages are lost until one does",
			          _PATH_LOG);
		log_close();
		target = where[1] == 't' ? TARGET_STDERR : TARGET_SYSLOG;
		if (target == TARGET_SYSLOG)
			openlog("echod", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else {
		char *path = strdup(where);
		if (path == NULL)
			return -1;
		int fd = open_file(path);
		if (fd == -1) {
			int saved = errno;
			free(path);
			errno = saved;
			return -1;
		}
		log_close();
		target = TARGET_FILE;
		log_fd = fd;
		log_path = path;
	}
	log_max_level = level;
	return 0;
}

int log_reopen(void)
{
	if (target != TARGET_FILE)
		return 0;
	int fd = open_file(log_path);
	if (fd == -1)
		return -1;
	/* dup2 keeps the descriptor number, so a line written concurrently
	 * lands in either file, never in a closed descriptor. */
	if (dup2(fd, log_fd) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

const char *log_file(void)
{
	return target == TARGET_FILE ? log_path : NULL;
}

void log_close(void)
{
	if (target == TARGET_FILE)
		close(log_fd);
	else if (target == TARGET_SYSLOG)
		closelog();
	free(log_path);
	log_path = NULL;
	target = TARGET_STDERR;
	log_fd = STDERR_FILENO;
}

/* The format attribute lets the compiler check vsnprintf's non-literal format
 * (clang's -Wformat-nonliteral) and log_msg's callers through it. */
static void __attribute__((format(printf, 3, 0)))
log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[1024];

	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (with_errno)
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));

	if (tap != NULL && level <= LOG_LEVEL_WARNING)
		tap(tap_arg, level, msg);
	if (!log_enabled(level)) {
		/* Only the tap wanted it. */
	} else if (target == TARGET_SYSLOG) {
		syslog(syslog_prio[level], "%s", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32], line[1200];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		int len =
		    snprintf(line, sizeof(line), "%s.%03ld [%s] %ld: %s\n", stamp,
		             ts.tv_nsec / 1000000, log_level_names[level], (long)getpid(), msg);
		if (len > (int)sizeof(line) - 1)
			len = (int)sizeof(line) - 1;
		/* One write per line keeps lines from several processes whole. */
		ssize_t w = write(log_fd, line, (size_t)len);
		(void)w;
	}
	errno = saved;
}

void log_msg(enum log_level level, int with_errno, const char *fmt, ...)
{
	if (!log_enabled(level) && (tap == NULL || level > LOG_LEVEL_WARNING))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, with_errno, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 0)))
rate_write(struct log_rate *r, uint64_t now_ms, enum log_level level, const char *fmt, va_list ap)
{
	char msg[900], times[64] = "";
	uint64_t span = now_ms - r->first_ms;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r->pending > 1 && span >= 1000)
		snprintf(times, sizeof(times), " (%llu times in %llu s)", r->pending,
		         (unsigned long long)((span + 999) / 1000));
	else if (r->pending > 1)
		snprintf(times, sizeof(times), " (%llu times)", r->pending);
	log_msg(level, 0, "%s%s", msg, times);
	r->written = 1;
	r->last_ms = now_ms;
	r->pending = 0;
}

int log_rate(struct log_rate *r, uint64_t now_ms, unsigned long long n, enum log_level level,
             const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level) || n == 0)
		return 0;
	if (r->pending == 0)
		r->first_ms = now_ms;
	r->pending += n;
	if (r->written && now_ms - r->last_ms < LOG_RATE_MS)
		return 0;
	va_start(ap, fmt);
	rate_write(r, now_ms, level, fmt, ap);
	va_end(ap);
	return 1;
}

uint64_t log_rate_due(const struct log_rate *r)
{
	return r->pending > 0 ? r->last_ms + LOG_RATE_MS : 0;
}

int log_rate_flush(struct log_rate *r, uint64_t now_ms, int force, enum log_level level,
                   const char *fmt, ...)
{
	va_list ap;

	if (r->pending == 0 || (!force && now_ms < log_rate_due(r)))
		return 0;
	va_start(ap, fmt);
	rate_write(r, now_ms, level, fmt, ap);
	va_end(ap);
	return 1;
}
