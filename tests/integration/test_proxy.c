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
		print_message("# %s\n", line); /* a TAP comment: "ok" lines would count as tests */
	if (r.err[0] != '\0')
		print_message("# stderr: %.900s\n", r.err);
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
	assert_true(h_log_count(e, "no valid PROXY header") >= 1);
	/* UDP: each datagram names its client too (one "first payload"). */
	assert_true(h_log_count(e, "udp: datagram of 13 bytes, PROXY v2 header, client "
	                           "10.1.2.3:4567") == 1);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 15000), 0);
	h_echod_free(e);
}

/* A v2 LOCAL header, what HAProxy's health checks send, then a line. */
static const char local_check[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00"
                                  "check\n";
#define LOCAL_CHECK_LEN (sizeof(local_check) - 1)
#define LOCAL_HDR_LEN   16

/* What a check gets back: 1 if its line was echoed, 0 if it was closed
 * with nothing echoed. */
static int health_check(struct echod *e)
{
	char buf[16];
	int fd = h_connect("127.0.0.1", e->ports[0]);

	assert_true(fd >= 0);
	h_send_all(fd, local_check, LOCAL_CHECK_LEN);
	size_t n = h_recv_exact(fd, buf, LOCAL_CHECK_LEN - LOCAL_HDR_LEN, 2000);
	int echoed = n == LOCAL_CHECK_LEN - LOCAL_HDR_LEN &&
	             memcmp(buf, local_check + LOCAL_HDR_LEN, n) == 0;
	if (!echoed)
		assert_int_equal(n, 0);
	close(fd);
	return echoed;
}

/*
 * drain_delay: after TERM echod says it drains; for the delay a client
 * connection is still accepted and echoed, while a balancer's health check
 * (a LOCAL header) is refused so that the balancer takes the instance out;
 * then it stops as usual.
 */
static void test_drain_delay(void **state)
{
	static const char client[] = "PROXY TCP4 10.9.8.7 127.0.0.1 1234 7\r\nhello\n";
	char buf[6];
	(void)state;

	struct echod *e =
	    h_echod_start("workers = 2;\n"
	                  "drain_delay = 2;\n"
	                  "listen = ( { address = \"127.0.0.1\"; port = 0;\n"
	                  "             proxy_protocol = { from = [ \"127.0.0.1\" ]; }; } );\n",
	                  NULL);
	assert_true(health_check(e));
	uint64_t t0 = h_now_ms();
	assert_int_equal(kill(e->pid, SIGTERM), 0);
	assert_true(h_log_wait(e, "draining for 2 s", 1, 5000));
	/* Both workers heard it before the checks below. */
	assert_true(h_log_wait(e, "draining: failing balancers' health checks", 2, 2000));
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	h_send_all(fd, client, sizeof(client) - 1);
	assert_int_equal(h_recv_exact(fd, buf, 6, 2000), 6);
	assert_memory_equal(buf, "hello\n", 6);
	close(fd);
	assert_false(health_check(e));
	/* Still draining, not stopping, after all that. */
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
