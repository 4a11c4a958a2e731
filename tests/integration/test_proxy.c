/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PROXY protocol and draining against the real echod.  The headers are
 * made by hand in tests/integration/proxy_client.py (v1, v2, LOCAL, TLVs,
 * CRC32C good and bad, whole and byte by byte, an untrusted source, a
 * stalled header, UDP); this test starts echod for it, runs it, and checks
 * that the log names the clients the headers claimed.  Then drain_delay: a
 * stopping echod keeps accepting and echoing for the delay.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PYTHON "/usr/bin/python3"

static void test_proxy_clients(void **state)
{
	char script[1024], tcp[16], udp[16];
	const char *data = getenv("ECHOD_TESTDATA");
	struct h_run r;
	(void)state;

	if (access(PYTHON, X_OK) != 0) {
		print_message("skipped: %s is not installed (dev.sh installs python3)\n", PYTHON);
		skip();
	}
	assert_non_null(data);
	struct echod *e =
	    h_echod_start("workers = 2;\n"
	                  "log = { level = \"debug\"; };\n"
	                  "listen = (\n"
	                  "  { address = \"127.0.0.1\"; port = 0;\n"
	                  "    proxy_protocol = { from = [ \"127.0.0.1/32\" ]; timeout = 1; }; },\n"
	                  "  { address = \"127.0.0.1\"; port = 0; protocol = \"udp\";\n"
	                  "    proxy_protocol = { from = [ \"127.0.0.1\" ]; }; }\n"
	                  ");\n",
	                  NULL);
	assert_int_equal(e->nports, 2);
	snprintf(script, sizeof(script), "%s/../integration/proxy_client.py", data);
	snprintf(tcp, sizeof(tcp), "%d", e->ports[0]);
	snprintf(udp, sizeof(udp), "%d", e->ports[1]);
	const char *argv[] = {PYTHON, script, tcp, udp, "1", NULL};
	h_run(&r, 60000, argv);
	/* Line by line: cmocka cuts long messages. */
	for (char *line = strtok(r.out, "\n"); line != NULL; line = strtok(NULL, "\n"))
		print_message("%s\n", line);
	if (r.err[0] != '\0')
		print_message("stderr: %.900s\n", r.err);
	int ok = r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
	h_run_free(&r);
	assert_true(ok);

	/* The log names the claimed clients, not the proxy (127.0.0.1). */
	assert_true(h_log_count(e, "PROXY v1 header, client 10.1.2.3:4567") >= 2);
	assert_true(h_log_count(e, "PROXY v2 header, client 10.1.2.3:4567") >= 2);
	assert_true(h_log_count(e, "PROXY v1 header, client [2001:db8::7]:4567") >= 2);
	assert_true(h_log_count(e, "PROXY v2 header, client (local") >= 2);
	assert_true(h_log_count(e, "refused: not in proxy_protocol.from") >= 1);
	assert_true(h_log_count(e, "(PROXY header timeout)") >= 1);
	assert_true(h_log_count(e, "(invalid PROXY header)") >= 1);
	assert_true(h_log_count(e, "without a valid PROXY header") >= 1 ||
	            h_log_count(e, "no valid PROXY header") >= 1);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 15000), 0);
	h_echod_free(e);
}

/*
 * drain_delay: after TERM echod says it drains, and for the delay a new
 * connection is still accepted and echoed; then it stops as usual.
 */
static void test_drain_delay(void **state)
{
	char buf[6];
	(void)state;

	struct echod *e = h_echod_start("workers = 1;\n"
	                                "drain_delay = 2;\n"
	                                "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                                NULL);
	uint64_t t0 = h_now_ms();
	assert_int_equal(kill(e->pid, SIGTERM), 0);
	assert_true(h_log_wait(e, "draining for 2 s", 1, 5000));
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_send_all(fd, "hello\n", 6);
	assert_int_equal(h_recv_exact(fd, buf, 6, 2000), 6);
	assert_memory_equal(buf, "hello\n", 6);
	close(fd);
	/* Still serving later in the delay, before the stop begins. */
	assert_int_equal(h_log_count(e, "graceful stop:"), 0);
	int status = h_echod_signal_wait(e, 0, 8000);
	uint64_t took = h_now_ms() - t0;
	assert_int_equal(status, 0);
	assert_true(took >= 2000);
	assert_true(h_log_count(e, "graceful stop:") >= 1);
	h_echod_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_proxy_clients, h_teardown),
	    cmocka_unit_test_teardown(test_drain_delay, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
