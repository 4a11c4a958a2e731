/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * echod-bench: a client, load generator and byte-exact verifier for any
 * RFC 862 echo server.  main() only strings the parts together.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "opts.h"
#include "report.h"

int main(int argc, char **argv)
{
	struct bench_opts opts;
	struct report *rep;
	int status;

	switch (opts_parse(&opts, argc, argv)) {
	case OPTS_EXIT:
		return BENCH_EXIT_OK;
	case OPTS_BAD:
		return BENCH_EXIT_USAGE;
	case OPTS_RUN:
		break;
	}
	/* Two histograms make the report too big for the stack. */
	if ((rep = malloc(sizeof(*rep))) == NULL) {
		perror("echod-bench");
		return BENCH_EXIT_FAIL;
	}
	report_init(rep, &opts);
	if (client_run(&opts, rep) == -1) {
		free(rep);
		return BENCH_EXIT_FAIL;
	}
	if (opts.json)
		report_print_json(rep, stdout);
	else
		report_print_text(rep, stdout);
	status = report_failed(rep) ? BENCH_EXIT_FAIL : BENCH_EXIT_OK;
	if (opts.hdr_out != NULL && report_write_hdr(rep, opts.hdr_out) == -1) {
		fprintf(stderr, "echod-bench: %s: %s\n", opts.hdr_out, strerror(errno));
		status = BENCH_EXIT_FAIL;
	}
	free(rep);
	if (fflush(stdout) == EOF) {
		perror("echod-bench: stdout");
		status = BENCH_EXIT_FAIL;
	}
	return status;
}
