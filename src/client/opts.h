/* SPDX-License-Identifier: BSD-2-Clause */
/* echod-bench's command line: the options as parsed and checked, before any
 * socket exists. */
#ifndef ECHOD_CLIENT_OPTS_H
#define ECHOD_CLIENT_OPTS_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses of echod-bench, in one place. */
enum bench_exit {
	BENCH_EXIT_OK = 0,    /* every byte came back right */
	BENCH_EXIT_FAIL = 1,  /* a verification error, failed connection or setup error */
	BENCH_EXIT_USAGE = 2, /* bad command line */
};

struct bench_opts {
	const char *host;      /* -H; default 127.0.0.1 */
	const char *port;      /* -p; default 7 */
	const char *unix_path; /* -U; NULL for TCP/UDP */
	const char *sources;   /* -S; NULL: let the kernel choose */
	const char *backend;   /* --backend; default "auto" */
	int udp;               /* -u */
	int conns;             /* -c; connections (or flows) at once */
	size_t size_min;       /* -s SIZE or MIN-MAX; bytes per message */
	size_t size_max;
	int depth;       /* -q; messages in flight per connection */
	double duration; /* -d; seconds, 0 = no limit (then count is set) */
	uint64_t count;  /* -n; messages (connections with --connect-rate), 0 = none */
	double rate;     /* -r; messages (or connections) per second, 0 = unpaced */
	double timeout;  /* -t; seconds to wait for a connect or an echo */
	int slow_ms;     /* --slow; pause between parts, -1 = off */
	int connect_rate;
	int fail_on_loss;
	int proxy; /* --proxy: 0, or the PROXY header version sent first */
	int json;
	int progress; /* 1 unless --no-progress */
};

enum opts_result {
	OPTS_RUN,  /* run the benchmark */
	OPTS_EXIT, /* --help or --version done: exit 0 */
	OPTS_BAD,  /* usage error reported on stderr: exit 2 */
};

/* Fill `o` from the command line, defaults included, and check that the
 * combination makes sense.  Messages go to stderr, --help to stdout. */
enum opts_result opts_parse(struct bench_opts *o, int argc, char **argv);

/* Numbers as the command line writes them; each returns 0, or -1 if `s` is
 * not one.  Sizes take k/m/g (binary), rates k/m (decimal), durations
 * ms/s/m. */
int opts_parse_size(const char *s, size_t *out);
int opts_parse_rate(const char *s, double *out);
int opts_parse_seconds(const char *s, double *out);

#endif
