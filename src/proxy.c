/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PROXY protocol v1 and v2, parsed strictly: a header that a conforming
 * sender would not emit is refused rather than guessed at, because whoever
 * can get a loose header accepted can claim any client address.  The v2
 * length is always skipped in full, whatever the family needs, so that a
 * header with TLVs never leaks into the echoed stream.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY ";

/* v2 byte 13 and 14 (ver_cmd, fam). */
#define V2_VERSION    0x20
#define V2_CMD_LOCAL  0x00
#define V2_CMD_PROXY  0x01
#define V2_UNSPEC     0x00
#define V2_TCP4       0x11
#define V2_UDP4       0x12
#define V2_TCP6       0x21
#define V2_UDP6       0x22
#define V2_UNIX       0x31
#define V2_UNIX_DGRAM 0x32
/* Address block sizes by family. */
#define V2_INET_LEN  12
#define V2_INET6_LEN 36
#define V2_UNIX_LEN  216
/* The one TLV checked; every other type is skipped. */
#define PP2_TYPE_CRC32C 0x03

/* Bitwise: a header is read once per connection, so a table buys nothing
 * worth its 1 KiB.  p NULL stands for len zero bytes. */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= p != NULL ? p[i] : 0u;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc;
}

unsigned long proxy_crc32c(const void *buf, size_t len)
{
	return (unsigned long)(crc_update(0xFFFFFFFFu, buf, len) ^ 0xFFFFFFFFu);
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* ---- version 1 ------------------------------------------------------- */

/* A decimal port: 1 to 5 digits, no leading zero (except "0"), <= 65535. */
static int v1_port(const char *s, size_t n, unsigned *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* A numeric address of family af (inet_pton's own strict syntax). */
static int v1_addr(int af, const char *s, size_t n, struct sockaddr_storage *ss)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, tmp, &sin->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* The next field of line[*pos..end): up to a single space or the end.  The
 * field may not be empty; the space, if any, is consumed. */
static int v1_field(const char *line, size_t end, size_t *pos, size_t *start, size_t *n)
{
	size_t i = *pos;

	while (i < end && line[i] != ' ')
		i++;
	if (i == *pos)
		return -1;
	*start = *pos;
	*n = i - *pos;
	*pos = i < end ? i + 1 : i;
	/* "a  b" and a trailing space both leave an empty field: refused. */
	if (i < end && *pos == end)
		return -1;
	return 0;
}

/* The line without its "\r\n", whose length is n. */
static int v1_line(const char *line, size_t n, struct proxy_hdr *out)
{
	size_t pos = sizeof(v1_sig) - 1, s, len;
	int af;

	if (v1_field(line, n, &pos, &s, &len) == -1)
		return -1;
	if (len == 7 && memcmp(line + s, "UNKNOWN", 7) == 0) {
		/* The rest of the line is for the receiver to ignore. */
		out->local = 1;
		return 0;
	}
	if (len == 4 && memcmp(line + s, "TCP4", 4) == 0)
		af = AF_INET;
	else if (len == 4 && memcmp(line + s, "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return -1;

	unsigned sport, dport;
	if (v1_field(line, n, &pos, &s, &len) == -1 || v1_addr(af, line + s, len, &out->src) == -1)
		return -1;
	if (v1_field(line, n, &pos, &s, &len) == -1 || v1_addr(af, line + s, len, &out->dst) == -1)
		return -1;
	if (v1_field(line, n, &pos, &s, &len) == -1 || v1_port(line + s, len, &sport) == -1)
		return -1;
	if (v1_field(line, n, &pos, &s, &len) == -1 || v1_port(line + s, len, &dport) == -1)
		return -1;
	if (pos != n)
		return -1;
	set_port(&out->src, sport);
	set_port(&out->dst, dport);
	return 0;
}

static long parse_v1(const char *p, size_t len, struct proxy_hdr *out, size_t *need)
{
	size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;

	if (memcmp(p, v1_sig, len < 6 ? len : 6) != 0)
		return -1;
	for (size_t i = 0; i < scan; i++) {
		if (p[i] == '\r') {
			if (i + 1 >= PROXY_V1_MAX)
				return -1;
			if (i + 1 == len)
				break;
			if (p[i + 1] != '\n' || i < sizeof(v1_sig) - 1)
				return -1;
			out->version = 1;
			return v1_line(p, i, out) == 0 ? (long)(i + 2) : -1;
		}
		/* Printable ASCII only: fail early on binary garbage. */
		if (p[i] < 0x20 || p[i] > 0x7e)
			return -1;
	}
	if (len >= PROXY_V1_MAX)
		return -1;
	if (need != NULL)
		*need = len + 1;
	return 0;
}

/* ---- version 2 ------------------------------------------------------- */

/* The TLVs in buf[off..total): well formed, and a CRC32C one matching. */
static int v2_tlvs(const unsigned char *buf, size_t off, size_t total)
{
	while (off < total) {
		if (total - off < 3)
			return -1;
		unsigned type = buf[off];
		size_t vlen = get16(buf + off + 1);
		if (vlen > total - off - 3)
			return -1;
		if (type == PP2_TYPE_CRC32C) {
			size_t v = off + 3;
			if (vlen != 4)
				return -1;
			unsigned long want = (unsigned long)buf[v] << 24 |
			                     (unsigned long)buf[v + 1] << 16 |
			                     (unsigned long)buf[v + 2] << 8 | buf[v + 3];
			/* Computed over the whole header with the field zeroed. */
			uint32_t crc = crc_update(0xFFFFFFFFu, buf, v);
			crc = crc_update(crc, NULL, 4);
			crc = crc_update(crc, buf + v + 4, total - v - 4);
			if ((unsigned long)(crc ^ 0xFFFFFFFFu) != want)
				return -1;
		}
		off += 3 + vlen;
	}
	return 0;
}

static void v2_inet(const unsigned char *a, struct proxy_hdr *out)
{
	struct sockaddr_in *src = (struct sockaddr_in *)&out->src;
	struct sockaddr_in *dst = (struct sockaddr_in *)&out->dst;

	src->sin_family = dst->sin_family = AF_INET;
	memcpy(&src->sin_addr, a, 4);
	memcpy(&dst->sin_addr, a + 4, 4);
	memcpy(&src->sin_port, a + 8, 2);
	memcpy(&dst->sin_port, a + 10, 2);
}

static void v2_inet6(const unsigned char *a, struct proxy_hdr *out)
{
	struct sockaddr_in6 *src = (struct sockaddr_in6 *)&out->src;
	struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&out->dst;

	src->sin6_family = dst->sin6_family = AF_INET6;
	memcpy(&src->sin6_addr, a, 16);
	memcpy(&dst->sin6_addr, a + 16, 16);
	memcpy(&src->sin6_port, a + 32, 2);
	memcpy(&dst->sin6_port, a + 34, 2);
}

static void v2_unix(const unsigned char *a, struct proxy_hdr *out)
{
	struct sockaddr_un *src = (struct sockaddr_un *)&out->src;
	struct sockaddr_un *dst = (struct sockaddr_un *)&out->dst;
	size_t max = sizeof(src->sun_path) - 1;

	src->sun_family = dst->sun_family = AF_UNIX;
	memcpy(src->sun_path, a, max);
	memcpy(dst->sun_path, a + 108, max);
}

static long parse_v2(const unsigned char *p, size_t len, enum proxy_mode mode,
                     struct proxy_hdr *out, size_t *need)
{
	size_t total, alen;

	if (memcmp(p, v2_sig, len < 12 ? len : 12) != 0)
		return -1;
	if (len > 12 && (p[12] & 0xF0) != V2_VERSION)
		return -1;
	if (len > 12 && (p[12] & 0x0F) != V2_CMD_LOCAL && (p[12] & 0x0F) != V2_CMD_PROXY)
		return -1;
	if (len > 13) {
		switch (p[13]) {
		case V2_UNSPEC:
			break;
		case V2_TCP4:
		case V2_TCP6:
		case V2_UNIX:
			if (mode != PROXY_STREAM)
				return -1;
			break;
		case V2_UDP4:
		case V2_UDP6:
		case V2_UNIX_DGRAM:
			if (mode != PROXY_DGRAM)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (len < PROXY_V2_FIXED) {
		if (need != NULL)
			*need = PROXY_V2_FIXED;
		return 0;
	}
	total = PROXY_V2_FIXED + get16(p + 14);
	if (len < total) {
		if (need != NULL)
			*need = total;
		return 0;
	}
	out->version = 2;
	if ((p[12] & 0x0F) == V2_CMD_LOCAL || p[13] == V2_UNSPEC) {
		/* LOCAL: the balancer speaks for itself (a health check); its
		 * address block and TLVs mean nothing to us. */
		out->local = 1;
		return (long)total;
	}
	switch (p[13] >> 4) {
	case 1:
		alen = V2_INET_LEN;
		break;
	case 2:
		alen = V2_INET6_LEN;
		break;
	default:
		alen = V2_UNIX_LEN;
		break;
	}
	if (total - PROXY_V2_FIXED < alen)
		return -1;
	if (v2_tlvs(p, PROXY_V2_FIXED + alen, total) == -1)
		return -1;
	if (alen == V2_INET_LEN)
		v2_inet(p + PROXY_V2_FIXED, out);
	else if (alen == V2_INET6_LEN)
		v2_inet6(p + PROXY_V2_FIXED, out);
	else
		v2_unix(p + PROXY_V2_FIXED, out);
	return (long)total;
}

char *proxy_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		snprintf(buf, len, "unix %.100s", ((const struct sockaddr_un *)ss)->sun_path);
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

long proxy_parse(const void *buf, size_t len, enum proxy_mode mode, struct proxy_hdr *out,
                 size_t *need)
{
	const unsigned char *p = buf;
	long rc;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		if (need != NULL)
			*need = 1;
		return mode == PROXY_DGRAM ? -1 : 0;
	}
	if (p[0] == v2_sig[0])
		rc = parse_v2(p, len, mode, out, need);
	else if (p[0] == (unsigned char)v1_sig[0] && mode == PROXY_STREAM)
		rc = parse_v1(buf, len, out, need);
	else
		rc = -1;
	if (rc == 0 && mode == PROXY_DGRAM)
		rc = -1;
	if (rc <= 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
