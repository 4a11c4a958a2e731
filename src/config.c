/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration's keys, defaults and validation, all driven by one table.
 * Pure: it judges a tree of typed values (config_file.c builds it with
 * libconfig) and opens no file, reads no global (the backends it accepts are
 * ev.c's table, fixed when echod is built).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "cidr.h"
#include "config.h"
#include "ev.h"
#include "log.h"

/* Indexed like enum listen_proto, as log_level_names (log.h) is like enum
 * log_level: the index is stored. */
static const char *const proto_names[] = {"tcp", "udp", "unix", NULL};

_Static_assert(LISTEN_TCP == 0 && LISTEN_UDP == 1 && LISTEN_UNIX == 2,
               "proto_names follows enum listen_proto");
/* CONFIG_STORE_INDEX writes an int into listen_conf.proto. */
_Static_assert(sizeof(enum listen_proto) == sizeof(int), "enum listen_proto is int-sized");

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* The i-th string of the NULL-terminated `v`, or NULL past its end. */
static const char *nth(const char *const *v, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (v[j] == NULL)
			return NULL;
	return v[i];
}

/*
 * "auto", then the backends this build has.  ev.c's table is the one list of
 * them: a backend that was not built is refused here, not at run time.
 */
static const char *backend_choice(size_t i)
{
	return i == 0 ? "auto" : ev_backend_name(i - 1);
}

static const char *const handover_names[] = {"connections", "drain", NULL};

_Static_assert(RELOAD_HANDOVER_CONNECTIONS == 0 && RELOAD_HANDOVER_DRAIN == 1,
               "handover_names follows enum reload_handover");

static const char *handover_choice(size_t i)
{
	return nth(handover_names, i);
}

static const char *level_choice(size_t i)
{
	return nth(log_level_names, i);
}

static const char *proto_choice(size_t i)
{
	return nth(proto_names, i);
}

static const char *check_name(const char *s)
{
	return *s == '\0' ? "must not be empty" : NULL;
}

static const char *check_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "not an absolute path";
}

static const char *check_log_target(const char *s)
{
	if (strcmp(s, "stderr") == 0 || strcmp(s, "syslog") == 0 || s[0] == '/')
		return NULL;
	return "must be \"stderr\", \"syslog\" or an absolute path";
}

int listen_address_split(const char *address, char host[INET6_ADDRSTRLEN], const char **scope)
{
	const char *pct = strchr(address, '%');
	size_t len = pct != NULL ? (size_t)(pct - address) : strlen(address);

	*scope = pct != NULL ? pct + 1 : NULL;
	if (len >= INET6_ADDRSTRLEN)
		return -1;
	memcpy(host, address, len);
	host[len] = '\0';
	return 0;
}

/* fe80::/10: an address that means something only on one link, so a socket
 * bound to it must say which (its scope). */
static int is_link_local(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

static const char *check_address(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char host[INET6_ADDRSTRLEN];
	const char *scope;

	if (listen_address_split(s, host, &scope) == -1)
		return "not a numeric IPv4 or IPv6 address";
	if (inet_pton(AF_INET, host, buf) == 1)
		return scope == NULL ? NULL : "an IPv4 address takes no %scope";
	if (inet_pton(AF_INET6, host, buf) != 1)
		return "not a numeric IPv4 or IPv6 address";
	if (!is_link_local((const struct in6_addr *)(void *)buf))
		return scope == NULL ? NULL
		                     : "only a link-local address (fe80::/10) takes a %scope";
	if (scope == NULL)
		return "a link-local address needs its interface, as in fe80::1%eth0";
	/* IF_NAMESIZE is 16, NUL included; a name never holds '/' or blanks. */
	if (*scope == '\0' || strlen(scope) >= 16 || strpbrk(scope, "/ \t%") != NULL)
		return "the %scope must be an interface name or index";
	return NULL;
}

/* Unix socket permissions: an octal number up to 0777 ("0660", "660").  The
 * setuid, setgid and sticky bits mean nothing on a socket. */
static const char *check_mode(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 4 || strspn(s, "01234567") != len)
		return "not an octal mode such as \"0660\"";
	if (strtol(s, NULL, 8) > 0777)
		return "above 0777: only permission bits apply to a socket";
	return NULL;
}

static const char *check_cidr(const char *s)
{
	struct cidr c;
	const char *why = NULL;

	return cidr_parse(s, &c, &why) == 0 ? NULL : why;
}

static const char *check_socket_path(const char *s)
{
	if (s[0] != '/')
		return "not an absolute path";
	/* sun_path needs room for the terminating NUL. */
	if (strlen(s) >= SUN_PATH_MAX)
		return "too long for a Unix socket path";
	return NULL;
}

const char *config_endpoint_parse(const char *s, struct config_endpoint *ep)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *colon, *host = s;
	size_t hlen;
	char *end;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(s, "unix:", 5) == 0) {
		const char *why = check_socket_path(s + 5);
		if (why != NULL)
			return why;
		ep->proto = LISTEN_UNIX;
		snprintf(ep->path, sizeof(ep->path), "%s", s + 5);
		return NULL;
	}
	ep->proto = LISTEN_TCP;
	colon = strrchr(s, ':');
	if (colon == NULL)
		return "not ADDRESS:PORT or unix:PATH";
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return "not ADDRESS:PORT or unix:PATH";
		host = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(ep->address))
		return "not a numeric IPv4 or IPv6 address";
	memcpy(ep->address, host, hlen);
	ep->address[hlen] = '\0';
	if (inet_pton(AF_INET, ep->address, buf) != 1) {
		if (s[0] != '[' && strchr(ep->address, ':') != NULL)
			return "an IPv6 address goes in brackets: [ADDRESS]:PORT";
		if (s[0] != '[' || inet_pton(AF_INET6, ep->address, buf) != 1)
			return "not a numeric IPv4 or IPv6 address";
	} else if (s[0] == '[') {
		return "only an IPv6 address goes in brackets";
	}
	if (colon[1] < '0' || colon[1] > '9')
		return "no port after the colon";
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return "the port is not a number from 0 to 65535";
	ep->port = (int)port;
	return NULL;
}

static const char *check_endpoint(const char *s)
{
	struct config_endpoint ep;

	return config_endpoint_parse(s, &ep);
}

#define CFG(field) offsetof(struct config, field)
#define LST(field) offsetof(struct listen_conf, field)

/*
 * Every key of echod.conf(5).  A group's keys ("log.*") live in struct config
 * itself; the keys of a "listen" entry in its struct listen_conf.  Defaults go
 * through the same checks as the file's values.  A choice key's strings come
 * from choice() only: help does not repeat them.  (Kept from clang-format: a
 * few lines per key read better than one line per field.)
 */
/* clang-format off */
const struct config_key config_keys[] = {
	{.name = "workers", .type = CONFIG_KEY_INT_AUTO, .store = CONFIG_STORE_INT,
	 .offset = CFG(workers), .min = 1, .max = 1024, .def = "auto",
	 .help = "worker processes; \"auto\" = the CPUs this process may use"},
	{.name = "backend", .type = CONFIG_KEY_CHOICE, .store = CONFIG_STORE_STRING,
	 .offset = CFG(backend), .choice = backend_choice, .def = "auto",
	 .help = "event loop of the workers; \"auto\" = the first built one that starts"},
	{.name = "user", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(user), .check = check_name,
	 .help = "user the workers run as, when started as root"},
	{.name = "group", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(group), .check = check_name,
	 .help = "group the workers run as, when started as root"},
	{.name = "pid_file", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(pid_file), .check = check_abs_path,
	 .help = "file that holds the master's pid"},
	{.name = "max_connections", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(max_connections), .min = 1, .max = 10000000, .def = "10000",
	 .help = "connections per worker; past it new ones are closed at once"},
	{.name = "idle_timeout", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(idle_timeout), .min = 0, .max = 7LL * 86400, .def = "300",
	 .help = "seconds without traffic before a connection is closed; 0 = never"},
	{.name = "shutdown_timeout", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(shutdown_timeout), .min = 0, .max = 3600, .def = "10",
	 .help = "seconds a graceful stop or reload may take"},
	{.name = "max_pending", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_SIZE,
	 .offset = CFG(max_pending), .min = 4096, .max = 1 << 30, .def = "1048576",
	 .help = "bytes not yet echoed, per connection, before echod stops reading"},
	{.name = "reload_handover", .type = CONFIG_KEY_CHOICE, .store = CONFIG_STORE_INDEX,
	 .offset = CFG(reload_handover), .choice = handover_choice, .def = "connections",
	 .help = "on reload, hand connections to the new workers, or let the old ones drain them"},
	{.name = "handover_timeout", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(handover_timeout), .min = 1, .max = 3600, .def = "5",
	 .help = "seconds a reload may spend handing connections over before the rest drain"},
	{.name = "drain_delay", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(drain_delay), .min = 0, .max = 3600, .def = "0",
	 .help = "seconds a graceful stop reports draining but keeps serving first"},
	{.name = "log", .type = CONFIG_KEY_GROUP, .help = "where and what to log"},
	{.name = "log.target", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(log_target), .check = check_log_target, .def = "stderr",
	 .help = "\"stderr\", \"syslog\" or an absolute file path"},
	{.name = "log.level", .type = CONFIG_KEY_CHOICE, .store = CONFIG_STORE_INDEX,
	 .offset = CFG(log_level), .choice = level_choice, .def = "info",
	 .help = "the least important messages that are logged"},
	{.name = "udp_guard", .type = CONFIG_KEY_BOOL, .store = CONFIG_STORE_INT,
	 .offset = CFG(udp_guard), .min = 0, .max = 1, .def = "true",
	 .help = "drop datagrams that would make an echo loop or reflect an attack"},
	{.name = "sandbox", .type = CONFIG_KEY_BOOL, .store = CONFIG_STORE_INT,
	 .offset = CFG(sandbox), .min = 0, .max = 1, .def = "true",
	 .help = "workers run under a seccomp allow-list of system calls"},
	{.name = "access", .type = CONFIG_KEY_GROUP,
	 .help = "who may connect or send, for listeners without their own list"},
	{.name = "access.allow", .type = CONFIG_KEY_CIDRS, .store = CONFIG_STORE_ALLOW,
	 .offset = CFG(access), .check = check_cidr,
	 .help = "prefixes let in; if any, only these"},
	{.name = "access.deny", .type = CONFIG_KEY_CIDRS, .store = CONFIG_STORE_DENY,
	 .offset = CFG(access), .check = check_cidr,
	 .help = "prefixes kept out"},
	{.name = "limits", .type = CONFIG_KEY_GROUP,
	 .help = "per-source limits over all workers; 0 = off"},
	{.name = "limits.per_source_connections", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(limits.per_source_connections), .min = 0, .max = 1000000, .def = "0",
	 .help = "open stream connections per source"},
	{.name = "limits.per_source_rate", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(limits.per_source_rate), .min = 0, .max = 1000000, .def = "0",
	 .help = "new stream connections per second per source"},
	{.name = "limits.per_source_burst", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(limits.per_source_burst), .min = 0, .max = 1000000, .def = "0",
	 .help = "new connections a source may open at once; 0 = per_source_rate"},
	{.name = "limits.udp_per_source_rate", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(limits.udp_per_source_rate), .min = 0, .max = 1000000, .def = "0",
	 .help = "datagrams per second per source"},
	{.name = "limits.source_prefix_v6", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = CFG(limits.source_prefix_v6), .min = 1, .max = 128, .def = "64",
	 .help = "IPv6 sources are counted per prefix of this length"},
	{.name = "metrics", .type = CONFIG_KEY_GROUP, .help = "the Prometheus metrics endpoint"},
	{.name = "metrics.listen", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(metrics_listen), .check = check_endpoint,
	 .help = "\"ADDRESS:PORT\" or \"unix:PATH\" where the master serves /metrics"},
	{.name = "control_socket", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = CFG(control_socket), .check = check_socket_path,
	 .help = "Unix socket of the master for echod -s"},
	{.name = "listen", .type = CONFIG_KEY_LIST, .help = "listening sockets; at least one"},
	{.name = "listen.address", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = LST(address), .check = check_address,
	 .help = "numeric IPv4 or IPv6 address (TCP, UDP)"},
	/* Port 0 lets the kernel pick a free port: tests use it, operators do not. */
	{.name = "listen.port", .type = CONFIG_KEY_INT, .store = CONFIG_STORE_INT,
	 .offset = LST(port), .min = 0, .max = 65535,
	 .help = "port (TCP, UDP); 0 = any free port"},
	{.name = "listen.protocol", .type = CONFIG_KEY_CHOICE, .store = CONFIG_STORE_INDEX,
	 .offset = LST(proto), .choice = proto_choice, .def = "tcp",
	 .help = "transport; \"unix\" goes with path"},
	{.name = "listen.path", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = LST(path), .check = check_socket_path,
	 .help = "absolute path of a Unix stream socket"},
	{.name = "listen.mode", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = LST(mode), .check = check_mode, .def = "0660",
	 .help = "permissions of the Unix socket file, in octal"},
	{.name = "listen.owner", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = LST(owner), .check = check_name,
	 .help = "user (name or number) that owns the Unix socket file"},
	{.name = "listen.group", .type = CONFIG_KEY_STRING, .store = CONFIG_STORE_STRING,
	 .offset = LST(group), .check = check_name,
	 .help = "group (name or number) of the Unix socket file"},
	/* The group's presence is stored: 1 when the entry has one. */
	{.name = "listen.proxy_protocol", .type = CONFIG_KEY_GROUP, .store = CONFIG_STORE_INT,
	 .offset = LST(proxy), .min = 0, .max = 1,
	 .help = "expect a PROXY protocol header from the sources in from"},
	{.name = "listen.proxy_protocol.from", .type = CONFIG_KEY_CIDRS,
	 .store = CONFIG_STORE_CIDRS, .offset = LST(proxy_from), .check = check_cidr,
	 .help = "addresses or prefixes of the proxies that may send a header; required"},
	{.name = "listen.proxy_protocol.timeout", .type = CONFIG_KEY_INT,
	 .store = CONFIG_STORE_INT, .offset = LST(proxy_timeout), .min = 1, .max = 3600,
	 .def = "3", .help = "seconds a connection may take to send its whole header"},
	{.name = "listen.access", .type = CONFIG_KEY_GROUP, .store = CONFIG_STORE_INT,
	 .offset = LST(access_set), .min = 0, .max = 1,
	 .help = "this listener's access list, in place of the global one (TCP, UDP)"},
	{.name = "listen.access.allow", .type = CONFIG_KEY_CIDRS, .store = CONFIG_STORE_ALLOW,
	 .offset = LST(access), .check = check_cidr,
	 .help = "prefixes let in; if any, only these"},
	{.name = "listen.access.deny", .type = CONFIG_KEY_CIDRS, .store = CONFIG_STORE_DENY,
	 .offset = LST(access), .check = check_cidr,
	 .help = "prefixes kept out"},
};
/* clang-format on */
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

/* One run of config_from_value(). */
struct build {
	struct config *cfg;
	const char *file;
	const struct config_env *env; /* may be NULL */
	struct config_errors *errs;
	int failed;
};

static int __attribute__((format(printf, 4, 0)))
errors_vadd(struct config_errors *errs, const char *file, int line, const char *fmt, va_list ap)
{
	struct config_error *v, *e;
	va_list ap2;
	int len;

	/* Doubling: a file with 20k bad values must not cost 20k reallocs. */
	if (errs->n == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		v = realloc(errs->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		errs->v = v;
		errs->cap = cap;
	}
	e = &errs->v[errs->n];
	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return -1;
	e->line = line;
	e->file = strdup(file);
	e->msg = malloc((size_t)len + 1);
	if (e->file == NULL || e->msg == NULL)
		goto fail;
	vsnprintf(e->msg, (size_t)len + 1, fmt, ap);
	errs->n++;
	return 0;
fail:
	free(e->file);
	free(e->msg);
	return -1;
}

int config_errors_add(struct config_errors *errs, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = errors_vadd(errs, file, line, fmt, ap);
	va_end(ap);
	return rc;
}

/* Report a problem with `v` (NULL: with the file as a whole). */
static void __attribute__((format(printf, 3, 4)))
build_error(struct build *b, const struct config_value *v, const char *fmt, ...)
{
	const char *file = v != NULL && v->file != NULL ? v->file : b->file;
	va_list ap;

	/* Even if the message cannot be stored, the config must not pass. */
	b->failed = 1;
	va_start(ap, fmt);
	errors_vadd(b->errs, file, v != NULL ? v->line : 0, fmt, ap);
	va_end(ap);
}

static const char *value_type_name(enum config_value_type type)
{
	switch (type) {
	case CONFIG_VALUE_INT:
		return "an integer";
	case CONFIG_VALUE_FLOAT:
		return "a float";
	case CONFIG_VALUE_BOOL:
		return "a boolean";
	case CONFIG_VALUE_STRING:
		return "a string";
	case CONFIG_VALUE_GROUP:
		return "a group";
	case CONFIG_VALUE_LIST:
		return "a list";
	}
	return "an unknown type";
}

/* The key `name` inside `section` (NULL: the top level). */
static const struct config_key *key_find(const char *section, const char *name)
{
	size_t i, slen = section != NULL ? strlen(section) : 0;
	const char *rest;

	if (name == NULL)
		return NULL;
	for (i = 0; i < config_nkeys; i++) {
		rest = config_keys[i].name;
		if (section != NULL) {
			if (strncmp(rest, section, slen) != 0 || rest[slen] != '.')
				continue;
			rest += slen + 1;
		} else if (strchr(rest, '.') != NULL) {
			continue;
		}
		if (strcmp(rest, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static const struct config_value *child_find(const struct config_value *group, const char *name)
{
	size_t i;

	for (i = 0; i < group->nchild; i++)
		if (group->child[i].name != NULL && strcmp(group->child[i].name, name) == 0)
			return &group->child[i];
	return NULL;
}

static void store(struct build *b, const struct config_key *k, void *base, long long n,
                  const char *s)
{
	char *field = (char *)base + k->offset;
	char *copy;

	switch (k->store) {
	case CONFIG_STORE_INT:
	case CONFIG_STORE_INDEX:
		*(int *)(void *)field = (int)n;
		break;
	case CONFIG_STORE_SIZE:
		*(size_t *)(void *)field = (size_t)n;
		break;
	case CONFIG_STORE_STRING:
		copy = strdup(s != NULL ? s : "");
		if (copy == NULL) {
			build_error(b, NULL, "out of memory");
			return;
		}
		free(*(char **)(void *)field);
		*(char **)(void *)field = copy;
		break;
	case CONFIG_STORE_ALLOW:
	case CONFIG_STORE_DENY:
	case CONFIG_STORE_NONE:
	case CONFIG_STORE_CIDRS: /* set_cidrs() */
		break;
	}
}

static void set_int(struct build *b, const struct config_key *k, const struct config_value *v,
                    void *base)
{
	if (v->i < k->min || v->i > k->max) {
		build_error(b, v, "%s: %lld is out of range %lld..%lld", k->name, v->i, k->min,
		            k->max);
		return;
	}
	store(b, k, base, v->i, NULL);
}

static void set_choice(struct build *b, const struct config_key *k, const struct config_value *v,
                       void *base)
{
	char list[128];
	const char *c;
	size_t i, len = 0;

	for (i = 0; (c = k->choice(i)) != NULL; i++)
		if (strcmp(c, v->s) == 0) {
			store(b, k, base, (long long)i, v->s);
			return;
		}
	list[0] = '\0';
	for (i = 0; (c = k->choice(i)) != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
		                        i > 0 ? ", " : "", c);
	build_error(b, v, "%s: \"%s\" is not one of %s", k->name, v->s, list);
}

/*
 * An array of prefixes, each element checked: into a struct cidr_list, or
 * added to a struct acl as allow or deny rules.  An empty list of trusted
 * sources is an error, not "nobody": a list meant to name who is trusted
 * must say it (an empty proxy_protocol.from would otherwise be read as
 * "anyone" by someone, some day).  An empty access list means what it says:
 * no rule.
 */
static void set_cidrs(struct build *b, const struct config_key *k, const struct config_value *v,
                      void *base)
{
	void *field = (char *)base + k->offset;
	struct cidr_list *l = field;
	struct acl *acl = field;
	const char *why;
	struct cidr net;

	if (v->type != CONFIG_VALUE_LIST) {
		build_error(b, v, "%s: expected an array of addresses or prefixes, got %s", k->name,
		            value_type_name(v->type));
		return;
	}
	if (k->store == CONFIG_STORE_CIDRS) {
		if (v->nchild == 0) {
			build_error(b, v, "%s: empty; name at least one address or prefix",
			            k->name);
			return;
		}
		free(l->v);
		l->n = 0;
		if ((l->v = calloc(v->nchild, sizeof(*l->v))) == NULL) {
			build_error(b, NULL, "out of memory");
			return;
		}
	}
	for (size_t i = 0; i < v->nchild; i++) {
		const struct config_value *e = &v->child[i];
		/* An element without a line of its own is on its list's. */
		struct config_value at = *e;
		if (at.line == 0) {
			at.line = v->line;
			at.file = v->file;
		}
		if (e->type != CONFIG_VALUE_STRING) {
			build_error(b, &at, "%s: expected a string, got %s", k->name,
			            value_type_name(e->type));
		} else if (cidr_parse(e->s, &net, &why) == -1) {
			build_error(b, &at, "%s: \"%s\": %s", k->name, e->s, why);
		} else if (k->store == CONFIG_STORE_CIDRS) {
			l->v[l->n++] = net;
		} else if (acl_add(acl, &net,
		                   k->store == CONFIG_STORE_DENY ? ACL_DENY : ACL_ALLOW) == -1) {
			build_error(b, NULL, "out of memory");
			return;
		}
	}
}

/* Check the scalar `v` against key `k` and store it into `base`. */
static void set_value(struct build *b, const struct config_key *k, const struct config_value *v,
                      void *base)
{
	const char *why;

	switch (k->type) {
	case CONFIG_KEY_INT:
		if (v->type != CONFIG_VALUE_INT)
			build_error(b, v, "%s: expected an integer, got %s", k->name,
			            value_type_name(v->type));
		else
			set_int(b, k, v, base);
		break;
	case CONFIG_KEY_INT_AUTO:
		if (v->type == CONFIG_VALUE_INT)
			set_int(b, k, v, base);
		else if (v->type == CONFIG_VALUE_STRING && strcmp(v->s, "auto") == 0)
			/* 0 is below every such key's range: it marks "auto" until resolved. */
			store(b, k, base, 0, NULL);
		else if (v->type == CONFIG_VALUE_STRING)
			build_error(b, v, "%s: expected an integer or \"auto\", got \"%s\"",
			            k->name, v->s);
		else
			build_error(b, v, "%s: expected an integer or \"auto\", got %s", k->name,
			            value_type_name(v->type));
		break;
	case CONFIG_KEY_CHOICE:
	case CONFIG_KEY_STRING:
		if (v->type != CONFIG_VALUE_STRING) {
			build_error(b, v, "%s: expected a string, got %s", k->name,
			            value_type_name(v->type));
		} else if (k->type == CONFIG_KEY_CHOICE) {
			set_choice(b, k, v, base);
		} else if ((why = k->check(v->s)) != NULL) {
			build_error(b, v, "%s: \"%s\": %s", k->name, v->s, why);
		} else {
			store(b, k, base, 0, v->s);
		}
		break;
	case CONFIG_KEY_BOOL:
		if (v->type != CONFIG_VALUE_BOOL)
			build_error(b, v, "%s: expected true or false, got %s", k->name,
			            value_type_name(v->type));
		else
			store(b, k, base, v->i != 0, NULL);
		break;
	case CONFIG_KEY_CIDRS:
		set_cidrs(b, k, v, base);
		break;
	case CONFIG_KEY_GROUP:
	case CONFIG_KEY_LIST:
		break;
	}
}

/* Give every key of `section` that has a default its default, in `base`. */
static void apply_defaults(struct build *b, const char *section, void *base)
{
	struct config_value v;
	const struct config_key *k;
	size_t i, slen = section != NULL ? strlen(section) : 0;
	const char *dot;
	char *end;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		dot = strrchr(k->name, '.');
		if (k->def == NULL || (section == NULL) != (dot == NULL))
			continue;
		if (section != NULL &&
		    ((size_t)(dot - k->name) != slen || strncmp(k->name, section, slen) != 0))
			continue;
		memset(&v, 0, sizeof(v));
		v.i = strtoll(k->def, &end, 10);
		/* A string key's default stays a string, digits or not ("0660"). */
		v.type = *end == '\0' && k->type != CONFIG_KEY_STRING ? CONFIG_VALUE_INT
		                                                      : CONFIG_VALUE_STRING;
		v.s = k->def;
		if (strcmp(k->def, "true") == 0 || strcmp(k->def, "false") == 0) {
			v.type = CONFIG_VALUE_BOOL;
			v.i = k->def[0] == 't';
		}
		set_value(b, k, &v, base);
	}
}

static void walk_group(struct build *b, const struct config_value *group, const char *section,
                       void *base);

const struct acl *config_listen_access(const struct config *cfg, size_t i)
{
	const struct listen_conf *lc = &cfg->listen[i];

	if (lc->proto == LISTEN_UNIX)
		return NULL;
	return lc->access_set ? &lc->access : &cfg->access;
}

int config_limits_on(const struct limits_conf *l)
{
	return l->per_source_connections > 0 || l->per_source_rate > 0 ||
	       l->udp_per_source_rate > 0;
}

char *listen_conf_name(const struct listen_conf *lc, char *buf, size_t len)
{
	const char *proto = proto_names[lc->proto];

	if (lc->proto == LISTEN_UNIX)
		snprintf(buf, len, "%s %s", proto, lc->path != NULL ? lc->path : "?");
	else if (lc->address == NULL)
		snprintf(buf, len, "%s ?:%d", proto, lc->port);
	else if (strchr(lc->address, ':') != NULL)
		snprintf(buf, len, "%s [%s]:%d", proto, lc->address, lc->port);
	else
		snprintf(buf, len, "%s %s:%d", proto, lc->address, lc->port);
	return buf;
}

/* The cross-key rules of one listen entry; `entry` tells which keys were given. */
static void check_listen(struct build *b, const struct config_value *entry, struct listen_conf *l)
{
	const struct config_value *proto = child_find(entry, "protocol");
	const struct config_value *pp = child_find(entry, "proxy_protocol");
	int has_addr = child_find(entry, "address") != NULL;
	int has_port = child_find(entry, "port") != NULL;

	if (child_find(entry, "path") != NULL) {
		const struct config_value *acc = child_find(entry, "access");
		if (acc != NULL)
			build_error(b, acc,
			            "listen.access: a Unix socket has no source address to check; "
			            "the permissions of its file decide who connects");
		if (has_addr || has_port)
			build_error(b, entry,
			            "listen: a Unix socket entry (path) takes no "
			            "address or port");
		if (proto != NULL && l->proto != LISTEN_UNIX && proto->type == CONFIG_VALUE_STRING)
			build_error(b, proto, "listen: protocol \"%s\" does not go with path",
			            proto->s);
		l->proto = LISTEN_UNIX;
		if (pp != NULL)
			build_error(b, pp,
			            "listen: proxy_protocol needs a TCP or UDP entry (from "
			            "matches IP sources)");
		return;
	}
	if (pp != NULL && pp->type == CONFIG_VALUE_GROUP) {
		l->proxy = 1;
		if (child_find(pp, "from") == NULL)
			build_error(b, pp,
			            "listen: proxy_protocol needs from: a header accepted from "
			            "anyone lets anyone claim any address");
	}
	if (l->proto == LISTEN_UNIX) {
		build_error(b, entry, "listen: protocol \"unix\" needs a path");
		return;
	}
	static const char *const file_keys[] = {"mode", "owner", "group"};
	for (size_t i = 0; i < sizeof(file_keys) / sizeof(file_keys[0]); i++) {
		const struct config_value *v = child_find(entry, file_keys[i]);
		if (v != NULL)
			build_error(b, v, "listen: %s applies to a Unix socket (path) only",
			            file_keys[i]);
	}
	if (!has_addr)
		build_error(b, entry, "listen: entry needs an address (or a path)");
	if (!has_port)
		build_error(b, entry, "listen: entry needs a port");
	/* The interface of a link-local address must exist, or the bind
	 * would fail at start-up long after -t said ok. */
	const struct config_value *addr = child_find(entry, "address");
	char host[INET6_ADDRSTRLEN];
	const char *scope;
	if (addr != NULL && l->address != NULL && b->env != NULL && b->env->if_exists != NULL &&
	    listen_address_split(l->address, host, &scope) == 0 && scope != NULL &&
	    !b->env->if_exists(scope))
		build_error(b, addr, "listen: address \"%s\": no network interface \"%s\"",
		            l->address, scope);
}

/* Whether two complete entries would bind the same socket. */
static int listen_same(const struct listen_conf *a, const struct listen_conf *c)
{
	unsigned char aa[sizeof(struct in6_addr)], ca[sizeof(struct in6_addr)];
	int af;

	if (a->proto != c->proto)
		return 0;
	if (a->proto == LISTEN_UNIX)
		return a->path != NULL && c->path != NULL && strcmp(a->path, c->path) == 0;
	/* Port 0 asks for a fresh port each time: never a clash. */
	if (a->address == NULL || c->address == NULL || a->port != c->port || a->port == 0)
		return 0;
	/* Compare addresses as bytes so that "::" and "0::0" are the same;
	 * one link-local address on two interfaces is two sockets. */
	char ah[INET6_ADDRSTRLEN], ch[INET6_ADDRSTRLEN];
	const char *as, *cs;
	if (listen_address_split(a->address, ah, &as) == -1 ||
	    listen_address_split(c->address, ch, &cs) == -1)
		return 0;
	if ((as == NULL) != (cs == NULL) || (as != NULL && strcmp(as, cs) != 0))
		return 0;
	af = strchr(ah, ':') ? AF_INET6 : AF_INET;
	if (af != (strchr(ch, ':') ? AF_INET6 : AF_INET))
		return 0;
	memset(aa, 0, sizeof(aa));
	memset(ca, 0, sizeof(ca));
	if (inet_pton(af, ah, aa) != 1 || inet_pton(af, ch, ca) != 1)
		return 0;
	return memcmp(aa, ca, sizeof(aa)) == 0;
}

/* An entry as what it binds, for sorting: equal keys bind the same socket. */
struct listen_key {
	const struct listen_conf *l;
	size_t index;
	int af;
	unsigned char addr[sizeof(struct in6_addr)];
	const char *scope; /* a link-local address's interface, or NULL */
};

static int listen_key_cmp(const void *a, const void *b)
{
	const struct listen_key *x = a, *y = b;
	int c = (x->l->proto > y->l->proto) - (x->l->proto < y->l->proto);

	if (c == 0 && x->l->proto == LISTEN_UNIX)
		c = strcmp(x->l->path, y->l->path);
	if (c == 0 && x->l->proto != LISTEN_UNIX) {
		c = (x->af > y->af) - (x->af < y->af);
		c = c != 0 ? c : memcmp(x->addr, y->addr, sizeof(x->addr));
		c = c != 0 ? c : (x->l->port > y->l->port) - (x->l->port < y->l->port);
		if (c == 0 && (x->scope == NULL) != (y->scope == NULL))
			c = x->scope == NULL ? -1 : 1;
		c = c != 0 || x->scope == NULL ? c : strcmp(x->scope, y->scope);
	}
	return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/*
 * Report each entry that binds what an earlier one does, in file order.
 * Sorted, not compared pairwise: a file may hold thousands of entries.
 */
static void check_listen_dups(struct build *b, const struct config_value *list)
{
	struct config *cfg = b->cfg;
	struct listen_key *keys = calloc(cfg->nlisten, sizeof(*keys));
	size_t *first = calloc(cfg->nlisten, sizeof(*first));
	char name[LISTEN_NAME_MAX];
	size_t n = 0;

	if (cfg->nlisten > 0 && (keys == NULL || first == NULL)) {
		build_error(b, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct listen_conf *l = &cfg->listen[i];
		struct listen_key *k = &keys[n];
		first[i] = i;
		k->l = l;
		k->index = i;
		if (l->proto == LISTEN_UNIX) {
			n += l->path != NULL;
			continue;
		}
		/* Port 0 asks for a fresh port each time: never a clash. */
		if (l->address == NULL || l->port == 0)
			continue;
		char host[INET6_ADDRSTRLEN];
		if (listen_address_split(l->address, host, &k->scope) == -1)
			continue;
		k->af = strchr(host, ':') ? AF_INET6 : AF_INET;
		n += inet_pton(k->af, host, k->addr) == 1;
	}
	qsort(keys, n, sizeof(*keys), listen_key_cmp);
	for (size_t i = 1, run = 0; i < n; i++) {
		if (listen_same(keys[run].l, keys[i].l))
			first[keys[i].index] = keys[run].index;
		else
			run = i;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		if (first[i] == i)
			continue;
		/* Point at the second entry: the first is fine. */
		struct config_value at = {.file = list->file, .line = cfg->listen[i].line};
		build_error(b, &at, "listen: %s is already at line %d",
		            listen_conf_name(&cfg->listen[i], name, sizeof(name)),
		            cfg->listen[first[i]].line);
	}
out:
	free(keys);
	free(first);
}

static void walk_listen(struct build *b, const struct config_value *list)
{
	struct config *cfg = b->cfg;
	const struct config_value *e;
	struct listen_conf *l;
	size_t i;

	if (list->type != CONFIG_VALUE_LIST) {
		build_error(b, list, "listen: expected a list of groups, got %s",
		            value_type_name(list->type));
		return;
	}
	if (list->nchild == 0) {
		build_error(b, list, "listen: empty; at least one listening socket is needed");
		return;
	}
	cfg->listen = calloc(list->nchild, sizeof(*cfg->listen));
	if (cfg->listen == NULL) {
		build_error(b, NULL, "out of memory");
		return;
	}
	for (i = 0; i < list->nchild; i++) {
		e = &list->child[i];
		if (e->type != CONFIG_VALUE_GROUP) {
			build_error(b, e, "listen: expected a group, got %s",
			            value_type_name(e->type));
			continue;
		}
		l = &cfg->listen[cfg->nlisten++];
		l->line = e->line;
		apply_defaults(b, "listen", l);
		apply_defaults(b, "listen.proxy_protocol", l);
		walk_group(b, e, "listen", l);
		check_listen(b, e, l);
	}
	check_listen_dups(b, list);
}

static void walk_group(struct build *b, const struct config_value *group, const char *section,
                       void *base)
{
	const struct config_value *v;
	const struct config_key *k;
	size_t i;

	for (i = 0; i < group->nchild; i++) {
		v = &group->child[i];
		k = key_find(section, v->name);
		if (k == NULL) {
			if (section != NULL)
				build_error(b, v, "unknown key \"%s\" in %s",
				            v->name ? v->name : "", section);
			else
				build_error(b, v, "unknown key \"%s\"", v->name ? v->name : "");
			continue;
		}
		switch (k->type) {
		case CONFIG_KEY_GROUP:
			if (v->type != CONFIG_VALUE_GROUP)
				build_error(b, v, "%s: expected a group, got %s", k->name,
				            value_type_name(v->type));
			else {
				if (k->store == CONFIG_STORE_INT)
					store(b, k, base, 1, NULL);
				walk_group(b, v, k->name, base);
			}
			break;
		case CONFIG_KEY_LIST:
			/* "listen" is the only list; its entries have their own struct. */
			walk_listen(b, v);
			break;
		default:
			set_value(b, k, v, base);
			break;
		}
	}
}

struct config *config_from_value(const struct config_value *root, const char *file,
                                 const struct config_env *env, struct config_errors *errs)
{
	struct build b = {.file = file, .env = env, .errs = errs};
	struct config *cfg;
	const struct config_key *wk = key_find(NULL, "workers");
	int cpus = env != NULL ? env->cpus : 1;

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || (cfg->file = strdup(file)) == NULL) {
		config_errors_add(errs, file, 0, "out of memory");
		goto fail;
	}
	b.cfg = cfg;
	apply_defaults(&b, NULL, cfg);
	apply_defaults(&b, "log", cfg);
	apply_defaults(&b, "limits", cfg);
	if (root != NULL)
		walk_group(&b, root, NULL, cfg);
	if (root == NULL || child_find(root, "listen") == NULL)
		build_error(&b, NULL, "listen: missing; at least one listening socket is needed");
	if (root != NULL) {
		const struct config_value *v;
		if ((v = child_find(root, "user")) != NULL)
			cfg->user_line = v->line;
		if ((v = child_find(root, "group")) != NULL)
			cfg->group_line = v->line;
		if ((v = child_find(root, "pid_file")) != NULL)
			cfg->pid_file_line = v->line;
	}
	if (acl_finish(&cfg->access) == -1)
		build_error(&b, NULL, "out of memory");
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (acl_finish(&cfg->listen[i].access) == -1)
			build_error(&b, NULL, "out of memory");
	if (cfg->workers == 0) {
		cfg->workers_auto = 1;
		cfg->workers = cpus < wk->min ? (int)wk->min : cpus > wk->max ? (int)wk->max : cpus;
	}
	if (b.failed)
		goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nlisten; i++) {
		free(cfg->listen[i].address);
		free(cfg->listen[i].path);
		free(cfg->listen[i].mode);
		free(cfg->listen[i].owner);
		free(cfg->listen[i].group);
		free(cfg->listen[i].proxy_from.v);
		acl_free(&cfg->listen[i].access);
	}
	acl_free(&cfg->access);
	free(cfg->listen);
	free(cfg->file);
	free(cfg->backend);
	free(cfg->user);
	free(cfg->group);
	free(cfg->pid_file);
	free(cfg->log_target);
	free(cfg->metrics_listen);
	free(cfg->control_socket);
	free(cfg);
}

void config_error_format(const struct config_error *e, char *buf, size_t len)
{
	if (e->line > 0)
		snprintf(buf, len, "%s:%d: %s", e->file, e->line, e->msg);
	else
		snprintf(buf, len, "%s: %s", e->file, e->msg);
}

void config_errors_print(const struct config_errors *errs, FILE *out)
{
	char line[1024];

	for (size_t i = 0; i < errs->n; i++) {
		config_error_format(&errs->v[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
}

void config_errors_free(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
	errs->cap = 0;
}
