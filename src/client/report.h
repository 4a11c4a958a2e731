/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a run measured: counters, the latency histogram, and the errors with
 * where they happened; printed as text, as one JSON object, or as the
 * once-a-second progress line.
 */
#ifndef ECHOD_CLIENT_REPORT_H
#define ECHOD_CLIENT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "opts.h"

/* Kinds of error, in the order of the JSON "errors" object. */
enum report_err {
	ERR_MISMATCH, /* an echoed byte differs from the one sent */
	ERR_EXTRA,    /* the server sent more than it was sent */
	ERR_SIZE,     /* an echoed datagram has the wrong length */
	ERR_EOF,      /* the server closed the connection early */
	ERR_RESET,    /* the connection was reset */
	ERR_TIMEOUT,  /* no connect or no echo within --timeout */
	ERR_CONNECT,  /* the connection could not be opened */
	ERR_IO,       /* any other socket error */
	ERR_LOST,     /* a datagram never came back (only with --fail-on-loss) */
	ERR_KINDS,
};

/* Errors shown with their details; past that they are only counted. */
#define REPORT_SAMPLES 10

struct report_sample {
	enum report_err kind;
	uint64_t conn;
	uint64_t offset;
	char msg[128];
};

struct report {
	const struct bench_opts *opts;
	char target[300];  /* "127.0.0.1:7", "[::1]:7" or the socket path */
	const char *proto; /* "tcp", "udp", "unix" */
	const char *backend;
	int conns_used; /* opts->conns, or fewer if descriptors ran short */

	uint64_t messages; /* complete messages echoed and verified */
	uint64_t bytes;    /* echoed bytes verified */
	uint64_t conns_opened;
	uint64_t conns_failed; /* ended by an error, connect failures included */
	uint64_t conns_active; /* started and not yet closed, connecting included */
	uint64_t conns_open;   /* opened and not yet closed */
	uint64_t conns_peak;   /* the most conns_open at once */
	uint64_t dgrams_sent;
	uint64_t dgrams_lost;
	uint64_t dgrams_late; /* came back after being counted lost */

	uint64_t errors;
	uint64_t err[ERR_KINDS];
	struct report_sample sample[REPORT_SAMPLES];
	unsigned nsample;

	struct hist lat;      /* the whole run, ns */
	struct hist tick_lat; /* since the last progress line */
	uint64_t tick_messages;
	uint64_t tick_bytes;
	uint64_t tick_start_ns;

	uint64_t start_ns;
	uint64_t end_ns;
	int progress_on; /* a progress line is on the terminal */
};

void report_init(struct report *r, const struct bench_opts *opts);

/* Count an error on connection `conn` at stream offset `offset` (for
 * datagrams: the offset in the datagram) and, for the first few, say so on
 * stderr at once. */
void report_error(struct report *r, enum report_err kind, uint64_t conn, uint64_t offset,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An echo (of a message, or with --slow of a part of one) took `ns`. */
static inline void report_latency(struct report *r, uint64_t ns)
{
	hist_record(&r->lat, ns);
	hist_record(&r->tick_lat, ns);
}

/* A message came back whole, its last part after `ns` nanoseconds. */
static inline void report_message(struct report *r, uint64_t ns)
{
	r->messages++;
	r->tick_messages++;
	report_latency(r, ns);
}

static inline void report_bytes(struct report *r, uint64_t n)
{
	r->bytes += n;
	r->tick_bytes += n;
}

/* A warning that is not an error of the run (stderr, clear of the progress
 * line). */
void report_note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Redraw the progress line with the figures since the last call. */
void report_progress(struct report *r, uint64_t now_ns);
/* Erase the progress line, if one is shown. */
void report_progress_clear(struct report *r);

void report_print_text(const struct report *r, FILE *out);
void report_print_json(const struct report *r, FILE *out);

/* True if the run must end with a non-zero status. */
int report_failed(const struct report *r);

#endif
