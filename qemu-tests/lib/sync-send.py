#!/usr/bin/env python3
"""Hand-made connection-sync datagrams (v1, the README's format) for
vrrpd's receive rules: good ones and each kind of bad one, from any network
namespace and source address.

    sync-send.py TO PORT KEY CASE=NETNS[@SRC] ...

sends one datagram per CASE to TO:PORT over UDP, from a socket made in the
network namespace at path NETNS, bound to SRC if given (the peer's address,
added to a namespace or held by the peer director). KEY is the shared key
("-": none). Every datagram carries one or two IPv4 records of TCP flows
from 203.0.113.7 to 198.51.100.10:80 (ESTABLISHED, 600 s left):

  good      flow :40001 on real server .21, right key: applied
  wrongkey  flows :40001 on .22 and :40002 on .21, MAC made with another key
  nomac     the same records without a MAC (a key is configured)
  short     12 bytes: shorter than the header
  cut       the records cut in the middle of the second, length and MAC
            made to match (the MAC is right, the records do not decode)
  trunc     a right datagram with its last 10 bytes missing (its length
            field no longer matches)
  badver    a right datagram of version 2
  nonpeer   a right datagram (send it from an address that is no peer)
  unknown   flow :40003 for 198.51.100.10:81, a service nobody has, right
            key: vrrpd passes it on, the module counts it unknown

A fresh random sender id each (vrrpd ignores its own, and may track each
sender's sequence). Prints "CASE: N bytes" per datagram.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

from common import enter

VIP, CLIENT = "198.51.100.10", "203.0.113.7"
RS1, RS2 = "198.51.100.21", "198.51.100.22"
ESTABLISHED = 1  # IP_VS_TCP_S_ESTABLISHED


def record(cport, real, vport=80, state=ESTABLISHED, timeout_ms=600_000):
    """One IPv4 TCP sync record (drlb_kmod/core/src/sync_record.rs)."""
    return struct.pack("!BBBBIHH", 4, 6, state, 0, timeout_ms, vport, cport) + b"".join(
        socket.inet_aton(a) for a in (VIP, CLIENT, real)
    )


def datagram(payload, key, kind=1, version=1, mac=True):
    """Header, payload, and an HMAC-SHA256 over both when mac and key."""
    flags = 1 if (mac and key) else 0
    sender = int.from_bytes(os.urandom(4), "big")
    head = b"DRSY" + struct.pack("!BBBBIIHH", version, kind, flags, 0, sender, 1, len(payload), 0)
    body = head + payload
    if flags:
        body += hmac.new(key.encode(), body, hashlib.sha256).digest()
    return body


def build(case, key):
    moved = record(40001, RS2) + record(40002, RS1)  # would change the table
    if case == "good":
        return datagram(record(40001, RS1), key)
    if case == "wrongkey":
        return datagram(moved, (key or "") + "-wrong")
    if case == "nomac":
        return datagram(moved, key, mac=False)
    if case == "short":
        return datagram(moved, key)[:12]
    if case == "cut":
        return datagram(moved[: 24 + 10], key)
    if case == "trunc":
        return datagram(moved, key)[:-10]
    if case == "badver":
        return datagram(moved, key, version=2)
    if case == "nonpeer":
        return datagram(moved, key)
    if case == "unknown":
        return datagram(record(40003, RS1, vport=81), key)
    raise SystemExit(f"sync-send.py: unknown case {case}")


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    to, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    key = None if key == "-" else key
    for spec in sys.argv[4:]:
        case, _, where = spec.partition("=")
        netns, _, src = where.partition("@")
        if netns:
            enter(netns)
        data = build(case, key)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            if src:
                s.bind((src, 0))
            s.sendto(data, (to, port))
        print(f"{case}: {len(data)} bytes", flush=True)


if __name__ == "__main__":
    main()
