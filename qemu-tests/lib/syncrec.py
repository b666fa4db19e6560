#!/usr/bin/env python3
"""The drlb module's connection-sync commands, raw, in this process's
network namespace (run it under `ip netns exec`):

    syncrec.py set 0|1            SYNC_SET: sending off or on
    syncrec.py get                SYNC_GET: its counters, as JSON
    syncrec.py read [--hex]       SYNC_READ until nothing waits: the
                                  records, one JSON object a line (or
                                  all their bytes as one hex line)
    syncrec.py write HEX          SYNC_WRITE: "applied A unknown U no_room R",
                                  or "errno N: extack message"
    syncrec.py record K=V ...     a record's bytes as hex (kind=4 proto=6
                                  state=1 flags=0 ms=60000 vip= vport= client=
                                  cport= real=), for write

The record format is drlb_kmod/core/src/sync_record.rs's."""
import ipaddress
import json
import socket
import struct
import sys

from common import nla
from nlraw import NETLINK_GENERIC, SOL_NETLINK, NETLINK_EXT_ACK, GENL_ID_CTRL, CTRL_CMD_GETFAMILY
from nlraw import CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, attrs, request

SYNC_SET, SYNC_GET, SYNC_READ, SYNC_WRITE = 24, 25, 26, 27
A_SEND, A_RECORDS, A_MORE, A_QUEUED = 45, 46, 47, 48
COUNTERS = {49: "sent", 50: "overflow", 51: "applied", 52: "unknown", 53: "malformed", 54: "no_room"}


def family(s):
    err, _, reps = request(s, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"drlb\0"), 1)
    if err:
        sys.exit(f"syncrec.py: drlb family not found (errno {-err})")
    return struct.unpack("H", attrs(reps[0])[CTRL_ATTR_FAMILY_ID][:2])[0]


def decode(b):
    out, off = [], 0
    while off < len(b):
        kind = b[off]
        alen = 4 if kind == 4 else 16
        proto, state, flags = b[off + 1], b[off + 2], b[off + 3]
        ms, vport, cport = struct.unpack_from("!IHH", b, off + 4)
        addr = lambda i: str(ipaddress.ip_address(b[off + 12 + i * alen : off + 12 + (i + 1) * alen]))
        out.append(dict(kind=kind, proto=proto, state=state, flags=flags, ms=ms, vip=addr(0), vport=vport,
                        client=addr(1), cport=cport, real=addr(2)))
        off += 12 + 3 * alen
    return out


def record(kv):
    f = dict(kind=4, proto=6, state=1, flags=0, ms=60000, vport=80, cport=40000)
    for a in kv:
        k, v = a.split("=", 1)
        f[k] = v if k in ("vip", "client", "real") else int(v, 0)
    b = struct.pack("!BBBBIHH", f["kind"], f["proto"], f["state"], f["flags"], f["ms"], f["vport"], f["cport"])
    for k in ("vip", "client", "real"):
        b += ipaddress.ip_address(f[k]).packed
    return b.hex()


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    if args[0] == "record":
        print(record(args[1:]))
        return
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    fam = family(s)
    seq = 2
    if args[0] == "set":
        err, text, _ = request(s, fam, SYNC_SET, nla(A_SEND, bytes([int(args[1])])), seq)
        print("ok" if not err else f"errno {-err}: {text}")
    elif args[0] == "get":
        err, text, reps = request(s, fam, SYNC_GET, b"", seq)
        if err:
            sys.exit(f"errno {-err}: {text}")
        a = attrs(reps[0])
        out = {"send": a[A_SEND][0], "queued": struct.unpack("I", a[A_QUEUED])[0]}
        out.update({name: struct.unpack("Q", a[t])[0] for t, name in COUNTERS.items()})
        print(json.dumps(out))
    elif args[0] == "read":
        raw = b""
        while True:
            err, text, reps = request(s, fam, SYNC_READ, b"", seq)
            seq += 1
            if err:
                print(f"errno {-err}: {text}")
                return
            a = attrs(reps[0])
            raw += a.get(A_RECORDS, b"")
            if not a[A_MORE][0]:
                break
        if args[1:] == ["--hex"]:
            print(raw.hex())
        else:
            for r in decode(raw):
                print(json.dumps(r))
    elif args[0] == "write":
        err, text, reps = request(s, fam, SYNC_WRITE, nla(A_RECORDS, bytes.fromhex(args[1])), seq)
        if err:
            print(f"errno {-err}: {text}")
        else:
            a = attrs(reps[0])
            n = lambda t: struct.unpack("Q", a[t])[0]
            print(f"applied {n(51)} unknown {n(52)} no_room {n(54)}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
