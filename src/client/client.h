/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running a benchmark: one event loop, a fixed array of connections of one
 * kind (streams or UDP flows, see bconn.h), and the schedule that says when
 * each may start and send.
 */
#ifndef ECHOD_CLIENT_CLIENT_H
#define ECHOD_CLIENT_CLIENT_H

#include "opts.h"
#include "report.h"

/*
 * Run the benchmark described by `o`, filling `rep`.  Returns 0 when the run
 * happened (its errors are in `rep`), or -1 when it could not start (already
 * reported on stderr).
 */
int client_run(const struct bench_opts *o, struct report *rep);

#endif
