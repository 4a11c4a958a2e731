/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration: a plain struct with every key of echod.conf(5), its
 * defaults and validation.  Parsing is pure: no socket is opened, no global
 * is read; the hidden inputs (CPU count, whether we run as root) come in
 * through struct config_env so tests can pin them.
 */
#ifndef ECHOD_CONFIG_H
#define ECHOD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum listen_proto {
	LISTEN_TCP,
	LISTEN_UDP,
	LISTEN_UNIX,
};

struct listen_conf {
	enum listen_proto proto;
	char             *address; /* TCP/UDP: numeric IPv4 or IPv6 address */
	int               port;    /* TCP/UDP: 1..65535 (0: test-only, ephemeral) */
	char             *path;    /* UNIX: absolute socket path */
	int               line;    /* where it was configured, for messages */
};

struct config {
	char   *file;             /* the file it came from (or the name given) */
	int     workers;          /* resolved: >= 1 */
	int     workers_auto;     /* 1 if "auto" was asked for */
	char   *backend;          /* "auto" | "epoll" | "poll" | "select" */
	char   *user;             /* NULL: none */
	char   *group;            /* NULL: none */
	char   *pid_file;         /* NULL: none */
	int     max_connections;  /* per worker, >= 1 */
	int     idle_timeout;     /* seconds, 0 = never */
	int     shutdown_timeout; /* seconds */
	size_t  max_pending;      /* bytes per connection */
	char   *log_target;       /* "stderr" | "syslog" | absolute path */
	int     log_level;        /* enum log_level */
	struct listen_conf *listen;
	size_t  nlisten;          /* >= 1 */
};

/* What the parser may not look up itself. */
struct config_env {
	int cpus;    /* CPUs this process may use, for workers = "auto" */
	int is_root; /* euid == 0 */
};

struct config_error {
	char *file;
	int   line; /* 0 when no line applies */
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t               n;
};

/*
 * Parse the file at `path`.  Returns a new config, or NULL with every problem
 * found appended to `errs` (each FILE:LINE: message; libconfig's syntax errors
 * included).  The caller frees both.
 */
struct config *config_load_file(const char *path, const struct config_env *env,
                                struct config_errors *errs);

/* The same from a string; `name` stands for the file name in messages. */
struct config *config_load_string(const char *text, const char *name,
                                  const struct config_env *env,
                                  struct config_errors *errs);

void config_free(struct config *cfg);

/* Print each error as "FILE:LINE: message\n" (no ":LINE" when line is 0). */
void config_errors_print(const struct config_errors *errs, FILE *out);
void config_errors_free(struct config_errors *errs);

#endif
