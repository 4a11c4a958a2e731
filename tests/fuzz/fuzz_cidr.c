/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the prefix parser: any NUL-terminated input is
 * parsed; an accepted prefix must be self-consistent and match its own
 * network address.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cidr.h"

const char fuzz_name[] = "cidr";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];
	struct cidr c;
	struct sockaddr_storage ss;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cidr_parse(s, &c, NULL) == -1)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (c.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, c.addr, 4);
		if (c.prefix > 32)
			abort();
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, c.addr, 16);
		if (c.prefix > 128 || c.family != AF_INET6)
			abort();
	}
	/* A mapped IPv6 network matches as IPv4, so only plain ones here. */
	if (c.family == AF_INET && !cidr_match(&c, (struct sockaddr *)&ss))
		abort();
	return 0;
}
