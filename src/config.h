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
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

#include "acl.h"
#include "cidr.h"

enum listen_proto {
	LISTEN_TCP,
	LISTEN_UDP,
	LISTEN_UNIX,
};

/* What a reload does with established connections; indexed like
 * reload_handover's choices in config.c. */
enum reload_handover {
	RELOAD_HANDOVER_CONNECTIONS, /* hand them to the new generation */
	RELOAD_HANDOVER_DRAIN,       /* the old workers finish them */
};

struct listen_conf {
	enum listen_proto proto;
	char *address; /* TCP/UDP: numeric IPv4 or IPv6 address; a link-local
	                * IPv6 one with its scope, "fe80::1%eth0" */
	int port;      /* TCP/UDP: 1..65535 (0: test-only, ephemeral) */
	char *path;    /* UNIX: absolute socket path */
	char *mode;    /* UNIX: permissions of the socket file, octal ("0660") */
	char *owner;   /* UNIX: user (name or number) owning the file; NULL: the master's */
	char *group;   /* UNIX: its group (name or number); NULL: the master's */
	int line;      /* where it was configured, for messages */
	/* proxy_protocol: sources in proxy_from must start with a PROXY
	 * header, within proxy_timeout seconds; others are refused. */
	int proxy;                   /* 1 if the entry has proxy_protocol */
	struct cidr_list proxy_from; /* non-empty when proxy is set */
	int proxy_timeout;

	struct acl access; /* its own access list, finished */
	int access_set;    /* it has one: it replaces the global one */
};

/* limits = { ... }: per source address (IPv6: per prefix), counted over all
 * workers together; 0 turns each one off. */
struct limits_conf {
	int per_source_connections; /* open stream connections */
	int per_source_rate;        /* new stream connections per second */
	int per_source_burst;       /* beyond the rate at once; 0: one second's worth */
	int udp_per_source_rate;    /* datagrams per second (a second's worth at once) */
	int source_prefix_v6;       /* IPv6 sources are counted per prefix this long */
};

struct config {
	char *file;           /* the file it came from (or the name given) */
	int workers;          /* resolved: >= 1 */
	int workers_auto;     /* 1 if "auto" was asked for */
	char *backend;        /* "auto" or one that ev_backend_name() lists */
	char *user;           /* NULL: none */
	char *group;          /* NULL: none */
	char *pid_file;       /* NULL: none */
	int max_connections;  /* per worker, >= 1 */
	int idle_timeout;     /* seconds, 0 = never */
	int shutdown_timeout; /* seconds */
	size_t max_pending;   /* bytes per connection */
	int reload_handover;  /* enum reload_handover */
	int handover_timeout; /* seconds */
	int drain_delay;      /* seconds a graceful stop keeps serving, "draining" */
	char *log_target;     /* "stderr" | "syslog" | absolute path */
	int log_level;        /* enum log_level */
	int udp_guard;        /* drop datagrams that would loop or reflect */
	int sandbox;          /* workers install their seccomp filter */
	struct acl access;    /* for listeners without their own; finished */
	struct limits_conf limits;
	struct listen_conf *listen;
	size_t nlisten;       /* >= 1 */
	char *metrics_listen; /* "ADDRESS:PORT" or "unix:PATH"; NULL: no metrics */
	char *control_socket; /* absolute path; NULL: no control socket */
	/* Lines of the keys whose values are checked only at run time, for
	 * FILE:LINE messages then (0: not in the file). */
	int user_line;
	int group_line;
	int pid_file_line;
};

/* An HTTP endpoint as metrics.listen gives it (config_endpoint_parse). */
struct config_endpoint {
	enum listen_proto proto; /* LISTEN_TCP or LISTEN_UNIX */
	char address[64];        /* TCP: numeric IPv4 or IPv6, without brackets */
	int port;                /* TCP: 0..65535 (0: any free port) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* UNIX */
};

/*
 * Parse "ADDRESS:PORT" ("127.0.0.1:9707", "[::1]:9707") or "unix:PATH" into
 * *ep.  Returns NULL, or what is wrong with s (a constant string).  Pure.
 */
const char *config_endpoint_parse(const char *s, struct config_endpoint *ep);

/* Room for any name listen_conf_name() writes: "unix " and the longest
 * socket path, NUL included (an address and port are shorter). */
#define LISTEN_NAME_MAX (sizeof("unix ") + sizeof(((struct sockaddr_un *)0)->sun_path))

/* The access list that applies to entry i: its own, or the global one;
 * NULL for a Unix socket, which has no source address to check. */
const struct acl *config_listen_access(const struct config *cfg, size_t i);

/* Whether any per-source limit is on. */
int config_limits_on(const struct limits_conf *l);

/*
 * The entry as every message names it: "tcp 127.0.0.1:7", "udp [::1]:7",
 * "unix /run/echod/echod.sock".  Writes at most len bytes into buf (cut
 * short if len < LISTEN_NAME_MAX) and returns buf.
 */
char *listen_conf_name(const struct listen_conf *lc, char *buf, size_t len);

/* What the parser may not look up itself. */
struct config_env {
	int cpus;    /* CPUs this process may use, for workers = "auto" */
	int is_root; /* euid == 0 */
	/* Whether the network interface a link-local address names exists
	 * (its name, or its index in decimal); NULL: do not check. */
	int (*if_exists)(const char *scope);
	/* The directory a relative @include is taken from; NULL: the current
	 * one.  The master passes the one it started in, so that a reload after
	 * -d (which moves to /) reads the same files. */
	const char *dir;
};

/*
 * Split a listen address "HOST" or "HOST%SCOPE" (RFC 4007: a link-local IPv6
 * address and its interface) into host, a NUL-terminated copy, and *scope
 * (NULL if none).  Returns 0, or -1 if the
 * host part is too long to be an address.  Pure.
 */
int listen_address_split(const char *address, char host[INET6_ADDRSTRLEN], const char **scope);

struct config_error {
	char *file;
	int line; /* 0 when no line applies */
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t n;
	size_t cap; /* entries allocated in v */
};

/*
 * Parse the file at `path`.  Returns a new config, or NULL with every problem
 * found appended to `errs` (each FILE:LINE: message; libconfig's syntax errors
 * included).  The caller frees both.
 */
struct config *config_load_file(const char *path, const struct config_env *env,
                                struct config_errors *errs);

/* The same from a string; `name` stands for the file name in messages. */
struct config *config_load_string(const char *text, const char *name, const struct config_env *env,
                                  struct config_errors *errs);

void config_free(struct config *cfg);

/* One error as "FILE:LINE: message" (no ":LINE" when line is 0), in buf. */
void config_error_format(const struct config_error *e, char *buf, size_t len);

/* Print each error formatted so, one per line. */
void config_errors_print(const struct config_errors *errs, FILE *out);
void config_errors_free(struct config_errors *errs);

/*
 * ---- Below: shared by config.c, config_file.c and the tests only. ----
 *
 * config_file.c turns libconfig's tree into a tree of struct config_value
 * (types and lines kept, nothing checked); config_from_value() checks it
 * against the key table and builds the struct config.  So every semantic rule
 * lives in config.c, which can be tested without libconfig.
 */

enum config_value_type {
	CONFIG_VALUE_INT, /* 32- or 64-bit integer */
	CONFIG_VALUE_FLOAT,
	CONFIG_VALUE_BOOL,
	CONFIG_VALUE_STRING,
	CONFIG_VALUE_GROUP, /* named children */
	CONFIG_VALUE_LIST,  /* unnamed children (libconfig list or array) */
};

struct config_value {
	const char *name; /* NULL for list elements and the root */
	enum config_value_type type;
	long long i;      /* INT, BOOL */
	const char *s;    /* STRING; borrowed, copied if kept */
	const char *file; /* NULL: the file being loaded */
	int line;
	struct config_value *child; /* GROUP, LIST */
	size_t nchild;
};

/* What a key accepts. */
enum config_key_type {
	CONFIG_KEY_INT,      /* an integer in [min, max] */
	CONFIG_KEY_INT_AUTO, /* the same, or the string "auto" */
	CONFIG_KEY_CHOICE,   /* one of the strings choice() gives */
	CONFIG_KEY_STRING,   /* a string that check() accepts */
	CONFIG_KEY_BOOL,     /* true or false */
	CONFIG_KEY_GROUP,    /* a group of the keys named "<name>.*"; with STORE_INT,
	                      * 1 is stored where the group is present */
	CONFIG_KEY_LIST,     /* a list of such groups */
	CONFIG_KEY_CIDRS,    /* an array of prefixes (cidr_parse); with min 1, not empty */
};

/* Where the value goes, at offset in struct config or struct listen_conf. */
enum config_key_store {
	CONFIG_STORE_NONE,
	CONFIG_STORE_INT,    /* int */
	CONFIG_STORE_SIZE,   /* size_t */
	CONFIG_STORE_STRING, /* char *, a copy */
	CONFIG_STORE_INDEX,  /* int: the index of the choice */
	CONFIG_STORE_CIDRS,  /* struct cidr_list, owned */
	CONFIG_STORE_ALLOW,  /* struct acl: each prefix added as an allow rule */
	CONFIG_STORE_DENY,   /* struct acl: each prefix added as a deny rule */
};

/* One row of the key table: the single description of a key. */
struct config_key {
	const char *name; /* "workers", "log.level", "listen.port" */
	enum config_key_type type;
	enum config_key_store store;
	size_t offset;
	long long min, max;
	/* CHOICE: the i-th accepted string, NULL past the last.  A function,
	 * not an array, so that a list kept elsewhere (the backends ev.c has
	 * built) is used as it is, not copied. */
	const char *(*choice)(size_t i);
	/* STRING: NULL if `s` is acceptable, else what is wrong with it */
	const char *(*check)(const char *s);
	const char *def;  /* default, as text; NULL: none */
	const char *help; /* one line, for messages and docs */
};

extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/*
 * Check `root` (a GROUP, the file's top level) against the key table and
 * build a config from it and the defaults; `file` names it in messages and is
 * copied.  Returns NULL with the errors appended to `errs` if anything is
 * wrong (every error is reported, not just the first).
 */
struct config *config_from_value(const struct config_value *root, const char *file,
                                 const struct config_env *env, struct config_errors *errs);

/* Append "FILE:LINE: message".  Returns 0, or -1 if out of memory. */
int config_errors_add(struct config_errors *errs, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
