#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Hand-made PROXY protocol clients against a running echod (test_proxy.c).

Usage: proxy_client.py TCP_PORT UDP_PORT TIMEOUT_S

echod listens on 127.0.0.1 with proxy_protocol from = [ "127.0.0.1/32" ].
Every header is sent whole (with the payload in the same write) and byte
by byte; a valid one must give back exactly the payload, an invalid one
nothing but EOF.  Then: a source outside `from` (127.0.0.2) is refused, a
stalled header is closed at TIMEOUT_S +- 0.3 s, and over UDP a v2 DGRAM
datagram is answered with its payload alone while a headerless one gets no
answer.  Prints one line per check; exits 1 if any failed.
"""
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
failures = 0


def check(ok, what):
    global failures
    print(("ok " if ok else "not ok ") + what, flush=True)
    if not ok:
        failures += 1


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def v2(cmd, fam, body):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body


def inet4(src, dst, sport, dport):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


def inet6(src, dst, sport, dport):
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport))


def tlv(t, value):
    return bytes([t]) + struct.pack("!H", len(value)) + value


def with_crc(body_without_crc, good=True):
    """A TCP4 header whose last TLV is a CRC32C, right or wrong."""
    body = body_without_crc + tlv(0x03, b"\0\0\0\0")
    hdr = v2(1, 0x11, body)
    crc = crc32c(hdr) ^ (0 if good else 1)
    return hdr[:-4] + struct.pack("!I", crc)


GOOD = {
    "v1 TCP4": b"PROXY TCP4 10.1.2.3 192.0.2.1 4567 7\r\n",
    "v1 TCP6": b"PROXY TCP6 2001:db8::7 ::1 4567 7\r\n",
    "v1 UNKNOWN": b"PROXY UNKNOWN\r\n",
    "v2 TCP4": v2(1, 0x11, inet4("10.1.2.3", "192.0.2.1", 4567, 7)),
    "v2 TCP6": v2(1, 0x21, inet6("2001:db8::7", "::1", 4567, 7)),
    "v2 LOCAL": v2(0, 0x00, b""),
    "v2 TLVs": v2(1, 0x11, inet4("10.1.2.3", "192.0.2.1", 4567, 7)
                  + tlv(0x04, b"noop!") + tlv(0x02, b"example.org") + tlv(0xE0, b"")),
    "v2 CRC32C": with_crc(inet4("10.1.2.3", "192.0.2.1", 4567, 7)),
}
BAD = {
    "v2 bad CRC32C": with_crc(inet4("10.1.2.3", "192.0.2.1", 4567, 7), good=False),
    "v1 two spaces": b"PROXY TCP4  10.1.2.3 192.0.2.1 4567 7\r\n",
    "v1 LF only": b"PROXY TCP4 10.1.2.3 192.0.2.1 4567 7\n",
    "v1 port 65536": b"PROXY TCP4 10.1.2.3 192.0.2.1 65536 7\r\n",
    "v1 too long": b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n",
    "v2 version 1": SIG + b"\x11\x11\x00\x0c" + inet4("10.1.2.3", "192.0.2.1", 1, 7),
    "v2 DGRAM on TCP": v2(1, 0x12, inet4("10.1.2.3", "192.0.2.1", 4567, 7)),
    "v2 short block": v2(1, 0x21, inet4("10.1.2.3", "192.0.2.1", 4567, 7)),
    "no header": b"hello, world\r\n",
}


def connect(src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if src is not None:
        s.bind((src, 0))
    s.settimeout(5)
    s.connect((HOST, TCP_PORT))
    return s


def read_until_eof(s, limit_s):
    """Everything until EOF (or reset), within limit_s; (data, got_eof)."""
    data = b""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def recv_exact(s, n, limit_s=5):
    data = b""
    end = time.monotonic() + limit_s
    while len(data) < n and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(n - len(data))
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def send_bytewise(s, data, gap_s):
    for i in range(len(data)):
        s.sendall(data[i:i + 1])
        time.sleep(gap_s)  # pacing the sender, not synchronising with echod


def good_case(name, hdr, bytewise, gap_s=0.002):
    payload = b"echo after " + name.encode() + b" " + bytes(range(256)) * 8
    s = connect()
    if bytewise:
        send_bytewise(s, hdr, gap_s)
        s.sendall(payload)
    else:
        s.sendall(hdr + payload)  # header and data in one write
    got = recv_exact(s, len(payload))
    s.shutdown(socket.SHUT_WR)
    rest, eof = read_until_eof(s, 5)
    s.close()
    how = "byte by byte" if bytewise else "whole"
    check(got == payload and rest == b"" and eof,
          "%s (%s): payload echoed exactly, header not (%d/%d bytes)"
          % (name, how, len(got), len(payload)))


def bad_case(name, hdr, bytewise):
    s = connect()
    try:
        if bytewise:
            send_bytewise(s, hdr, 0.001)
        else:
            s.sendall(hdr + b"payload")
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed early, as soon as a byte made it invalid
    data, eof = read_until_eof(s, 3)
    s.close()
    how = "byte by byte" if bytewise else "whole"
    check(data == b"" and eof, "%s (%s): closed with nothing echoed (got %r)"
          % (name, how, data[:40]))


def untrusted():
    s = connect(src="127.0.0.2")
    try:
        s.sendall(GOOD["v1 TCP4"] + b"payload")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, eof = read_until_eof(s, 3)
    s.close()
    check(data == b"" and eof, "source 127.0.0.2 outside from: refused, nothing echoed")


def stalled():
    s = connect()
    s.sendall(b"PROXY TCP4 10.1.2.3 ")
    start = time.monotonic()
    data, eof = read_until_eof(s, TIMEOUT_S + 2)
    took = time.monotonic() - start
    s.close()
    check(eof and data == b"" and abs(took - TIMEOUT_S) <= 0.3,
          "stalled header closed after %.3f s (timeout %d s +- 0.3)" % (took, TIMEOUT_S))


def slow_header():
    # The case: one byte every 10 ms.
    good_case("v2 TCP4 at 10 ms a byte", GOOD["v2 TCP4"], True, gap_s=0.010)


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((HOST, UDP_PORT))
    hdr = v2(1, 0x12, inet4("10.1.2.3", "192.0.2.1", 4567, 7))
    s.send(b"headerless datagram")
    s.send(v2(1, 0x11, inet4("10.1.2.3", "192.0.2.1", 4567, 7)) + b"stream transport")
    s.send(hdr + b"first payload")
    s.send(v2(0, 0x00, b"") + b"local payload")
    replies = []
    end = time.monotonic() + 3
    while len(replies) < 2 and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            replies.append(s.recv(65536))
        except socket.timeout:
            break
    check(replies == [b"first payload", b"local payload"],
          "UDP: v2 DGRAM datagrams echoed without header, others dropped (%r)" % replies)
    # Nothing more comes: the dropped ones were not answered late.
    s.settimeout(0.3)
    try:
        extra = s.recv(65536)
    except socket.timeout:
        extra = None
    check(extra is None, "UDP: no answer to the headerless datagrams (%r)" % (extra,))
    s.close()


if __name__ == "__main__":
    TCP_PORT, UDP_PORT, TIMEOUT_S = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for name, hdr in GOOD.items():
        good_case(name, hdr, False)
        good_case(name, hdr, True)
    slow_header()
    for name, hdr in BAD.items():
        bad_case(name, hdr, False)
        bad_case(name, hdr, True)
    untrusted()
    stalled()
    udp()
    sys.exit(1 if failures else 0)
