/* SPDX-License-Identifier: BSD-2-Clause */
/* Exit statuses of echod (SPEC §3), in one place. */
#ifndef ECHOD_EXITCODE_H
#define ECHOD_EXITCODE_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* cannot bind, cannot drop privileges, no master to signal */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_CONFIG = 78, /* EX_CONFIG: bad configuration */
};

#endif
