/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the prefix parser (cidr.c), the access-list matcher
 * (acl.c) and the UDP guard's verdict (guard.c).  The input is lines: one
 * starting with '+' is an allow rule, with '-' a deny rule, anything else is
 * only parsed.  Every prefix parsed must print and read back the same; then
 * addresses made from the input's bytes are checked against the list, and
 * the binary searches must agree with a plain scan for the longest match.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "acl.h"
#include "cidr.h"
#include "guard.h"

const char fuzz_name[] = "acl";

/* The rules, as the issue states them, by brute force. */
static enum acl_verdict reference(const struct acl *a, const struct cidr_addr *src)
{
	int best = -1;
	enum acl_verdict v = a->nallow > 0 ? ACL_DENY : ACL_ALLOW;

	for (size_t i = 0; i < a->n; i++) {
		const struct acl_rule *r = &a->rules[i];
		if (!cidr_contains(&r->net, src))
			continue;
		if ((int)r->net.prefix > best) {
			best = (int)r->net.prefix;
			v = r->deny ? ACL_DENY : ACL_ALLOW;
		} else if ((int)r->net.prefix == best && r->deny) {
			v = ACL_DENY;
		}
	}
	return v;
}

static void parse_line(struct acl *a, const char *line)
{
	struct cidr c, again;
	char out[CIDR_STRLEN];
	const char *s = line[0] == '+' || line[0] == '-' ? line + 1 : line;

	if (cidr_parse(s, &c, NULL) == -1)
		return;
	cidr_format(&c, out, sizeof(out));
	if (cidr_parse(out, &again, NULL) == -1 || !cidr_equal(&again, &c))
		abort();
	if (line[0] == '+' || line[0] == '-')
		(void)acl_add(a, &c, line[0] == '-' ? ACL_DENY : ACL_ALLOW);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acl a = {0};
	struct guard g = {0};
	char line[256];
	size_t i = 0;

	while (i < size) {
		size_t n = 0;
		while (i < size && data[i] != '\n' && n < sizeof(line) - 1)
			line[n++] = (char)data[i++];
		line[n] = '\0';
		while (i < size && data[i] != '\n')
			i++;
		i++;
		parse_line(&a, line);
	}
	if (acl_finish(&a) == -1) {
		acl_free(&a);
		return 0;
	}
	/* Probes: every 17 bytes of the input are a family bit and an
	 * address; the rules' own addresses are probes too. */
	for (size_t off = 0; off + 17 <= size; off += 17) {
		struct cidr_addr p = {.family = (data[off] & 1) ? AF_INET6 : AF_INET};
		memcpy(p.b, data + off + 1, p.family == AF_INET ? 4 : 16);
		if (acl_check(&a, &p) != reference(&a, &p))
			abort();
		struct guard_arrival in = {.ifindex = data[off] >> 1};
		(void)guard_check(&g, &p, (uint16_t)(data[off + 1] << 8 | data[off + 2]),
		                  data[off] & 2, &in);
	}
	for (size_t r = 0; r < a.n; r++) {
		struct cidr_addr p = {.family = (uint8_t)a.rules[r].net.family};
		memcpy(p.b, a.rules[r].net.addr, sizeof(p.b));
		if (acl_check(&a, &p) != reference(&a, &p))
			abort();
	}
	acl_free(&a);
	return 0;
}
