/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parsing and checking echod-bench's command line.  Every option is one row
 * of the table below and one entry of echod-bench(1); a combination that
 * cannot mean anything is refused here rather than half-honoured later.
 */
#include "acconfig.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

/* A datagram starts with its 8-byte sequence number, and must fit in one
 * IPv4 UDP datagram. */
#define UDP_SIZE_MIN 8
#define UDP_SIZE_MAX 65507
/* Far above any useful message; keeps size arithmetic far from overflow. */
#define SIZE_MAX_OPT ((size_t)1 << 30)

enum {
	OPT_CONNECT_RATE = 256,
	OPT_JSON,
	OPT_SLOW,
	OPT_FAIL_ON_LOSS,
	OPT_PROXY,
	OPT_BACKEND,
	OPT_NO_PROGRESS,
};

static const struct option opts_long[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"unix", required_argument, NULL, 'U'},
    {"udp", no_argument, NULL, 'u'},
    {"connections", required_argument, NULL, 'c'},
    {"size", required_argument, NULL, 's'},
    {"depth", required_argument, NULL, 'q'},
    {"duration", required_argument, NULL, 'd'},
    {"count", required_argument, NULL, 'n'},
    {"rate", required_argument, NULL, 'r'},
    {"source", required_argument, NULL, 'S'},
    {"timeout", required_argument, NULL, 't'},
    {"connect-rate", no_argument, NULL, OPT_CONNECT_RATE},
    {"slow", required_argument, NULL, OPT_SLOW},
    {"fail-on-loss", no_argument, NULL, OPT_FAIL_ON_LOSS},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"json", no_argument, NULL, OPT_JSON},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void opts_usage(FILE *out)
{
	fputs("usage: echod-bench [-u] [-H HOST] [-p PORT] [-U PATH] [-c CONNS] [-s SIZE|MIN-MAX]\n"
	      "                   [-q DEPTH] [-d SECONDS] [-n COUNT] [-r RATE] [-S ADDRS]\n"
	      "                   [-t SECONDS] [--connect-rate] [--slow MS] [--fail-on-loss]\n"
	      "                   [--proxy 1|2]\n"
	      "                   [--json] [--backend NAME] [--no-progress] [-h] [-V]\n"
	      "  -H, --host HOST        server name or address (127.0.0.1)\n"
	      "  -p, --port PORT        server port (7)\n"
	      "  -U, --unix PATH        Unix stream socket instead of TCP\n"
	      "  -u, --udp              UDP datagrams instead of a TCP stream\n"
	      "  -c, --connections N    connections (UDP: flows) at once (1)\n"
	      "  -s, --size SIZE        bytes per message, or MIN-MAX for a range (64)\n"
	      "  -q, --depth N          messages in flight per connection (1)\n"
	      "  -d, --duration SECS    run time (10 unless -n is given)\n"
	      "  -n, --count N          messages in all (connections with --connect-rate)\n"
	      "  -r, --rate R           messages (connections) per second, paced\n"
	      "  -S, --source ADDRS     local addresses, e.g. 127.0.0.1-127.0.0.8\n"
	      "  -t, --timeout SECS     longest wait for a connect or an echo (2)\n"
	      "      --connect-rate     connect, send one message, verify, close; repeat\n"
	      "      --slow MS          send each message in parts, MS ms apart\n"
	      "      --fail-on-loss     a lost datagram is an error\n"
	      "      --proxy 1|2        start each TCP connection with a PROXY v1/v2 header\n"
	      "      --json             one JSON object on stdout\n"
	      "      --backend NAME     event loop: auto, epoll, poll, select\n"
	      "      --no-progress      no progress line on a terminal\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          print the version\n",
	      out);
}

/* strtod/strtoull and a suffix from `units`: returns 0 and sets *out, or -1. */
struct opts_unit {
	const char *suffix;
	double mult;
};

static int opts_parse_scaled(const char *s, const struct opts_unit *units, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0)
		return -1;
	if (*end != '\0') {
		for (; units->suffix != NULL; units++)
			if (strcmp(end, units->suffix) == 0)
				break;
		if (units->suffix == NULL)
			return -1;
		v *= units->mult;
	}
	*out = v;
	return 0;
}

int opts_parse_size(const char *s, size_t *out)
{
	static const struct opts_unit units[] = {
	    {"k", 1024.0},       {"K", 1024.0},       {"m", 1048576.0}, {"M", 1048576.0},
	    {"g", 1073741824.0}, {"G", 1073741824.0}, {NULL, 0},
	};
	double v;

	if (opts_parse_scaled(s, units, &v) == -1 || v != floor(v) || v > (double)SIZE_MAX_OPT)
		return -1;
	*out = (size_t)v;
	return 0;
}

int opts_parse_rate(const char *s, double *out)
{
	static const struct opts_unit units[] = {
	    {"k", 1e3}, {"K", 1e3}, {"m", 1e6}, {"M", 1e6}, {NULL, 0},
	};

	return opts_parse_scaled(s, units, out);
}

int opts_parse_seconds(const char *s, double *out)
{
	static const struct opts_unit units[] = {
	    {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}, {NULL, 0},
	};

	return opts_parse_scaled(s, units, out);
}

static int opts_parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* SIZE or MIN-MAX. */
static int opts_parse_size_range(const char *s, size_t *min, size_t *max)
{
	const char *dash = strchr(s, '-');
	char first[64];
	size_t len;

	if (dash == NULL) {
		if (opts_parse_size(s, min) == -1)
			return -1;
		*max = *min;
		return 0;
	}
	len = (size_t)(dash - s);
	if (len == 0 || len >= sizeof(first))
		return -1;
	memcpy(first, s, len);
	first[len] = '\0';
	if (opts_parse_size(first, min) == -1 || opts_parse_size(dash + 1, max) == -1)
		return -1;
	return *min <= *max ? 0 : -1;
}

static enum opts_result opts_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static enum opts_result opts_bad(const char *fmt, ...)
{
	va_list ap;

	fputs("echod-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'echod-bench --help'.\n", stderr);
	return OPTS_BAD;
}

/* The combinations that make no sense; a message, or NULL if all is well. */
static const char *opts_check(const struct bench_opts *o)
{
	if (o->size_min == 0)
		return "message size must be at least 1 byte";
	if (o->udp && o->unix_path != NULL)
		return "-u and -U cannot be combined (Unix datagram sockets are not supported)";
	if (o->udp && (o->size_min < UDP_SIZE_MIN || o->size_max > UDP_SIZE_MAX))
		return "UDP message size must be within 8-65507 bytes";
	if (o->udp && o->connect_rate)
		return "--connect-rate needs a stream (TCP or Unix) socket";
	if (o->udp && o->slow_ms >= 0)
		return "--slow needs a stream (TCP or Unix) socket";
	if (o->connect_rate && o->slow_ms >= 0)
		return "--connect-rate and --slow cannot be combined";
	if (o->slow_ms >= 0 && o->rate > 0)
		return "--slow sets its own pace; it cannot be combined with -r";
	if (o->connect_rate && o->depth != 1)
		return "--connect-rate sends one message per connection (-q 1)";
	if (o->slow_ms >= 0 && o->depth != 1)
		return "--slow sends one message at a time (-q 1)";
	if (o->unix_path != NULL && o->sources != NULL)
		return "-S makes no sense with a Unix socket";
	if (o->fail_on_loss && !o->udp)
		return "--fail-on-loss is for UDP (-u)";
	if (o->proxy != 0 && (o->udp || o->unix_path != NULL))
		return "--proxy is for TCP";
	return NULL;
}

enum opts_result opts_parse(struct bench_opts *o, int argc, char **argv)
{
	const char *msg;
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = "7";
	o->backend = "auto";
	o->conns = 1;
	o->size_min = o->size_max = 64;
	o->depth = 1;
	o->timeout = 2.0;
	o->slow_ms = -1;
	o->progress = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "H:p:U:uc:s:q:d:n:r:S:t:hV", opts_long, NULL)) != -1) {
		switch (ch) {
		case 'H':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'U':
			o->unix_path = optarg;
			break;
		case 'u':
			o->udp = 1;
			break;
		case 'c':
			if (opts_parse_int(optarg, 1, 1000000, &o->conns) == -1)
				return opts_bad("bad connection count '%s' (1-1000000)", optarg);
			break;
		case 's':
			if (opts_parse_size_range(optarg, &o->size_min, &o->size_max) == -1)
				return opts_bad(
				    "bad message size '%s' (SIZE or MIN-MAX, e.g. 64 or 1-4k)",
				    optarg);
			break;
		case 'q':
			if (opts_parse_int(optarg, 1, 65536, &o->depth) == -1)
				return opts_bad("bad depth '%s' (1-65536)", optarg);
			break;
		case 'd':
			if (opts_parse_seconds(optarg, &o->duration) == -1 || o->duration <= 0)
				return opts_bad("bad duration '%s' (seconds, e.g. 10 or 500ms)",
				                optarg);
			break;
		case 'n': {
			char *end;

			errno = 0;
			o->count = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || o->count == 0 ||
			    *optarg == '-')
				return opts_bad("bad count '%s'", optarg);
			break;
		}
		case 'r':
			if (opts_parse_rate(optarg, &o->rate) == -1 || o->rate <= 0)
				return opts_bad("bad rate '%s' (per second, e.g. 5000 or 10k)",
				                optarg);
			break;
		case 'S':
			o->sources = optarg;
			break;
		case 't':
			if (opts_parse_seconds(optarg, &o->timeout) == -1 || o->timeout < 0.001)
				return opts_bad("bad timeout '%s' (seconds)", optarg);
			break;
		case OPT_CONNECT_RATE:
			o->connect_rate = 1;
			break;
		case OPT_SLOW:
			if (opts_parse_int(optarg, 0, 60000, &o->slow_ms) == -1)
				return opts_bad("bad --slow pause '%s' (0-60000 ms)", optarg);
			break;
		case OPT_FAIL_ON_LOSS:
			o->fail_on_loss = 1;
			break;
		case OPT_PROXY:
			if (opts_parse_int(optarg, 1, 2, &o->proxy) == -1)
				return opts_bad("bad --proxy version '%s' (1 or 2)", optarg);
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_BACKEND:
			o->backend = optarg;
			break;
		case OPT_NO_PROGRESS:
			o->progress = 0;
			break;
		case 'h':
			opts_usage(stdout);
			return OPTS_EXIT;
		case 'V':
			printf("echod-bench %s\n", PACKAGE_VERSION);
			return OPTS_EXIT;
		default:
			fputs("Try 'echod-bench --help'.\n", stderr);
			return OPTS_BAD;
		}
	}
	if (optind != argc)
		return opts_bad("unexpected argument '%s'", argv[optind]);
	if (o->duration == 0 && o->count == 0)
		o->duration = 10;
	if ((msg = opts_check(o)) != NULL)
		return opts_bad("%s", msg);
	return OPTS_RUN;
}
