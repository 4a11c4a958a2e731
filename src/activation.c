/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Socket activation: reading LISTEN_* and turning passed descriptors into
 * listeners (see activation.h).
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "log.h"

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int activation_parse(const char *pid, const char *fds, const char *fdnames, pid_t self,
                     const char **names, char **names_buf)
{
	long p, n;

	if (names_buf != NULL)
		*names_buf = NULL;
	if (pid == NULL || fds == NULL)
		return 0;
	if (parse_long(pid, 1, INT_MAX, &p) == -1 ||
	    parse_long(fds, 0, ACTIVATION_MAX_FDS, &n) == -1)
		return -1;
	if ((pid_t)p != self)
		return 0; /* meant for another process (our parent's) */
	if (names == NULL)
		return (int)n;
	for (long i = 0; i < n; i++)
		names[i] = "";
	if (fdnames == NULL || names_buf == NULL)
		return (int)n;
	if ((*names_buf = strdup(fdnames)) == NULL)
		return -1;
	char *s = *names_buf;
	for (long i = 0; i < n && s != NULL; i++) {
		char *colon = strchr(s, ':');
		if (colon != NULL)
			*colon = '\0';
		names[i] = s;
		s = colon != NULL ? colon + 1 : NULL;
	}
	return (int)n;
}

/* Describe passed descriptor fd as a listener: protocol and bound address.
 * Returns 0, or -1 if it is not a listening socket echod can serve. */
static int describe(int fd, struct listener *l)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	memset(l, 0, sizeof(*l));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return -1;
	l->addrlen = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) == -1)
		return -1;
	int family = l->addr.ss_family;
	if (family == AF_UNIX && type == SOCK_STREAM)
		l->proto = LISTEN_UNIX;
	else if ((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM)
		l->proto = LISTEN_TCP;
	else if ((family == AF_INET || family == AF_INET6) && type == SOCK_DGRAM)
		l->proto = LISTEN_UDP;
	else
		return -1;
	len = sizeof(listening);
	if (type == SOCK_STREAM &&
	    (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 || !listening))
		return -1;
	if (l->proto == LISTEN_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&l->addr;
		size_t plen = l->addrlen > offsetof(struct sockaddr_un, sun_path)
		                  ? strnlen(sun->sun_path, sizeof(sun->sun_path))
		                  : 0;
		if (plen == 0 || sun->sun_path[0] != '/')
			return -1; /* abstract or unnamed: no entry can name it */
		if ((l->path = strndup(sun->sun_path, plen)) == NULL)
			return -1;
	}
	return 0;
}

/* "tcp 127.0.0.1:7" for a passed socket, through the config's own naming. */
static void name_socket(struct listener *l)
{
	struct listen_conf lc = {.proto = l->proto, .path = l->path};
	char host[INET6_ADDRSTRLEN] = "?";

	if (l->proto != LISTEN_UNIX) {
		if (l->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			lc.port = ntohs(a->sin6_port);
		} else {
			const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			lc.port = ntohs(a->sin_port);
		}
		lc.address = host;
	}
	listen_conf_name(&lc, l->name, sizeof(l->name));
}

/* Make a passed socket fit for the workers: non-blocking, close-on-exec,
 * and TCP_NODELAY inherited by what it accepts, as listener.c's own. */
static int prepare(int fd, enum listen_proto proto)
{
	static const int one = 1;
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	if (proto == LISTEN_TCP &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		return -1;
	return 0;
}

/* Add passed descriptor fd to l's group (l is empty or has its first). */
static int add_fd(struct listener *l, int fd)
{
	int *fds = realloc(l->fds, (l->nfds + 1) * sizeof(*fds));

	if (fds == NULL)
		return -1;
	l->fds = fds;
	l->fds[l->nfds++] = fd;
	return 0;
}

int activation_take(struct listener **setp, size_t *np, const struct config *cfg)
{
	const char *names[ACTIVATION_MAX_FDS];
	char *names_buf = NULL;
	int n = activation_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
	                         getenv("LISTEN_FDNAMES"), getpid(), names, &names_buf);
	/* From an upgrade, the old master's sockets, for the config as it is
	 * now: what it no longer names is closed, what is new is bound. */
	int lenient = getenv("ECHOD_UPGRADE_FD") != NULL;
	struct listener *ls = NULL;
	int *owner = NULL; /* entry -> first passed socket index, or -1 */
	int failed = 0;
	size_t kept = 0;

	if (n <= 0) {
		if (n == -1)
			log_errorx("socket activation: LISTEN_PID or LISTEN_FDS is malformed");
		free(names_buf);
		return n;
	}
	ls = calloc(cfg->nlisten, sizeof(*ls));
	owner = malloc(cfg->nlisten * sizeof(*owner));
	if (ls == NULL || owner == NULL) {
		log_warn("socket activation");
		failed = 1;
		goto out;
	}
	for (size_t i = 0; i < cfg->nlisten; i++)
		owner[i] = -1;
	for (int k = 0; k < n; k++) {
		int fd = ACTIVATION_FD_START + k;
		const char *name = *names[k] ? names[k] : "unnamed";
		struct listener l;
		if (describe(fd, &l) == -1) {
			log_errorx("socket activation: descriptor %d (%s) is not a listening TCP, "
			           "UDP or Unix stream socket",
			           fd, name);
			failed = 1;
			continue;
		}
		name_socket(&l);
		/* An entry without a socket yet, else one whose group this
		 * socket joins (an upgrade passes whole SO_REUSEPORT groups). */
		size_t i = 0;
		while (i < cfg->nlisten &&
		       (owner[i] != -1 || !listener_matches(&l, &cfg->listen[i])))
			i++;
		if (i == cfg->nlisten) {
			i = 0;
			while (i < cfg->nlisten &&
			       (owner[i] == -1 || !listener_matches(&l, &cfg->listen[i])))
				i++;
		}
		if (i == cfg->nlisten && lenient) {
			log_notice("no longer listening on %s", l.name);
			free(l.path);
			close(fd);
			continue;
		}
		if (i == cfg->nlisten) {
			log_errorx("socket activation: passed socket %s (%s, descriptor %d) has no "
			           "listen entry in %s",
			           l.name, name, fd, cfg->file);
			free(l.path);
			failed = 1;
			continue;
		}
		if (prepare(fd, l.proto) == -1) {
			log_warn("socket activation: descriptor %d", fd);
			free(l.path);
			failed = 1;
			continue;
		}
		if (owner[i] == -1) {
			owner[i] = k;
			ls[i] = l;
			/* A service manager's socket file is its own; an upgrade's is
			 * ours now (the old master leaves it). */
			ls[i].inherited = !lenient;
		} else {
			free(l.path);
		}
		if (add_fd(&ls[i], fd) == -1)
			failed = 1;
	}
	for (size_t i = 0; i < cfg->nlisten && !lenient; i++) {
		if (owner[i] != -1)
			continue;
		char name[LISTEN_NAME_MAX];
		listen_conf_name(&cfg->listen[i], name, sizeof(name));
		log_errorx("%s:%d: no socket was passed for %s (socket activation passes every "
		           "listener)",
		           cfg->file, cfg->listen[i].line, name);
		failed = 1;
	}
out:
	if (failed) {
		for (size_t i = 0; ls != NULL && i < cfg->nlisten; i++)
			listener_release(&ls[i]); /* the service manager's sockets stay */
		free(ls);
	} else {
		/* The entries served by passed sockets, in order: the set that
		 * listener_set_update() keeps and completes. */
		for (size_t i = 0; i < cfg->nlisten; i++) {
			if (owner[i] == -1)
				continue;
			log_notice("listening on %s (passed socket %s)", ls[i].name,
			           *names[owner[i]] ? names[owner[i]] : "unnamed");
			ls[kept++] = ls[i];
		}
		*setp = ls;
		*np = kept;
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	free(owner);
	free(names_buf);
	return failed ? -1 : 0;
}
