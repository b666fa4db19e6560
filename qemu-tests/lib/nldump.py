#!/usr/bin/env python3
"""Connection dumps from the outside: many UDP flows, dumps read part by
part while the table changes, and dumps held open (for rmmod).

    nldump.py flows CLIENT_NS VIP PORT FIRST COUNT
        COUNT UDP datagrams from the client to VIP:PORT, from source ports
        FIRST, FIRST+1, ... (one new connection each).
    nldump.py churn CLIENT_NS VIP PORT FIRST STOPFILE
        New flows as above, about 2000 a second, until STOPFILE exists.
    nldump.py check DIR_NS CLIENT_NS VIP PORT FROM NEXT CHURN PARTS
        Dumps the connections (CONN_GET), and after each of the first PARTS
        parts makes CHURN new flows from source port NEXT on (pushed at the
        front of their chains). Prints "entries=N distinct=N doubled=N
        missing=N interrupted=0|1 errno=N parts=N next=N": doubled counts
        entries seen more than once, missing the flows from ports FROM to
        NEXT-1 not seen (they were in the table all along), interrupted
        whether any message carried NLM_F_DUMP_INTR, next the first port
        not used yet.
    nldump.py services DIR_NS VIP N
        Adds N udp services VIP:1..N, dumps the services (SERVICE_GET),
        deletes the first ten after the dump's first part and adds five
        more (N+1..N+5) after its second. Prints the same line as check
        (missing: services there all along, 11..N, not seen; the first ten
        went out in the first part) and deletes them all again.
    nldump.py count DIR_NS N
        Waits until the director's table holds N connections (60 s at most).
    nldump.py hold DIR_NS
        Starts a connection dump, reads its first part and prints "holding
        N" (entries so far); then reads one line: "finish" reads the rest
        and prints "done N errno E", "close" closes the socket mid-dump and
        prints "closed".

Flows come from a raw socket in the client's namespace (the kernel adds
the IP header, checksum 0), the dumps from a netlink socket made in the
director's: one process does both, as a Python start costs about a second
under TCG. Every read asks for 4 KiB at most, so dump parts are the
smallest the kernel makes (NLMSG_GOODSIZE, about 40 IPv4 connections)."""
import os
import socket
import struct
import sys
import time

from common import enter, nla

NETLINK_GENERIC, SOL_NETLINK, NETLINK_EXT_ACK = 16, 270, 11
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR = 1, 4, 0x300, 0x10
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 16, 3, 1, 2
CMD_STATUS, CMD_SERVICE_NEW, CMD_SERVICE_DEL, CMD_SERVICE_GET, CMD_CONN_GET = 1, 3, 5, 6, 11
ATTR_PROTO, ATTR_VIP, ATTR_PORT = 4, 5, 6
RECV = 4096
ATTR_CLIENT_PORT, ATTR_CONN_COUNT = 17, 26


def attrs(buf):
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("HH", buf, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = buf[off + 4 : off + ln]
        off += (ln + 3) & ~3
    return out


def messages(data):
    """(type, flags, seq, payload) of each message in one read."""
    off = 0
    while off + 16 <= len(data):
        ln, typ, flags, seq, _ = struct.unpack_from("IHHII", data, off)
        if ln < 16:
            return
        yield typ, flags, seq, data[off + 16 : off + ln]
        off += (ln + 3) & ~3


class Genl:
    """A generic-netlink socket on the drlb family, in the namespace at
    path."""

    def __init__(self, path):
        enter(path)
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.bind((0, 0))
        self.seq = 0
        err, reps = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"drlb\0"))
        if err:
            sys.exit(f"nldump.py: drlb family not found (errno {-err})")
        self.family = struct.unpack("H", attrs(reps[0])[CTRL_ATTR_FAMILY_ID][:2])[0]

    def send(self, family, cmd, payload=b"", flags=NLM_F_REQUEST | NLM_F_ACK):
        self.seq += 1
        body = struct.pack("BBH", cmd, 1, 0) + payload
        self.s.send(struct.pack("IHHII", 16 + len(body), family, flags, self.seq, 0) + body)

    def request(self, family, cmd, payload=b""):
        """A doit request: (errno, [reply payloads after the genl header])."""
        self.send(family, cmd, payload)
        replies = []
        while True:
            for typ, _, seq, msg in messages(self.s.recv(RECV)):
                if seq != self.seq:
                    continue
                if typ == NLMSG_ERROR:
                    return struct.unpack_from("i", msg)[0], replies
                replies.append(msg[4:])

    def conn_count(self):
        err, reps = self.request(self.family, CMD_STATUS)
        return struct.unpack("I", attrs(reps[0])[ATTR_CONN_COUNT])[0] if not err else -1


class Dump:
    """A dump (connections by client port, or services by port), read one
    part (one recv) at a time."""

    def __init__(self, g, cmd=CMD_CONN_GET, key=ATTR_CLIENT_PORT):
        self.g, self.key = g, key
        g.send(g.family, cmd, flags=NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
        self.ports, self.interrupted, self.errno, self.parts = [], False, None, 0

    def part(self):
        """Reads one part; False once the dump has ended."""
        if self.errno is not None:
            return False
        self.parts += 1
        for typ, flags, seq, msg in messages(self.g.s.recv(RECV)):
            if seq != self.g.seq:
                continue
            if flags & NLM_F_DUMP_INTR:
                self.interrupted = True
            if typ in (NLMSG_DONE, NLMSG_ERROR):
                self.errno = -struct.unpack_from("i", msg)[0]
                return False
            port = attrs(msg[4:]).get(self.key)
            if port is not None:
                self.ports.append(struct.unpack("H", port)[0])
        return True


class Flows:
    """UDP datagrams to vip:port from chosen source ports, from the
    namespace at path."""

    def __init__(self, path, vip, port):
        enter(path)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
        self.dst, self.port = (vip, 0), int(port)

    def send(self, first, count):
        payload = b"drlb"
        for sport in range(first, first + count):
            hdr = struct.pack("!HHHH", sport, self.port, 8 + len(payload), 0)
            self.s.sendto(hdr + payload, self.dst)


def wait_count(g, want, secs=60):
    end = time.monotonic() + secs
    while (n := g.conn_count()) < want:
        if time.monotonic() > end:
            sys.exit(f"nldump.py: the table holds {n} connections, not {want}, after {secs} s")
        time.sleep(0.2)


def report(d, frm, to, nxt):
    """The line check and services print: entries, those seen more than
    once, those from frm to to-1 not seen, the flags."""
    seen = {}
    for p in d.ports:
        seen[p] = seen.get(p, 0) + 1
    doubled = sum(k - 1 for k in seen.values())
    missing = sum(1 for p in range(frm, to) if p not in seen)
    print(f"entries={len(d.ports)} distinct={len(seen)} doubled={doubled} missing={missing} "
          f"interrupted={int(d.interrupted)} errno={d.errno} parts={d.parts} next={nxt}")


def ns(name):
    return name if name.startswith("/") else f"/run/netns/{name}"


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "flows":
        path, vip, port, first, count = args
        Flows(ns(path), vip, port).send(int(first), int(count))
    elif mode == "churn":
        path, vip, port, first, stop = args
        f, sport = Flows(ns(path), vip, port), int(first)
        while not os.path.exists(stop):
            f.send(sport, 100)
            sport += 100
            time.sleep(0.05)
    elif mode == "count":
        path, n = args
        wait_count(Genl(ns(path)), int(n))
    elif mode == "check":
        dir_ns, client_ns, vip, port, frm, nxt, churn, parts = args
        frm, nxt, churn, parts = int(frm), int(nxt), int(churn), int(parts)
        g = Genl(ns(dir_ns))
        f = Flows(ns(client_ns), vip, port)
        d, before = Dump(g), nxt
        while d.part():
            if d.parts <= parts and churn:
                f.send(nxt, churn)
                nxt += churn
        report(d, frm, before, nxt)
    elif mode == "services":
        path, vip, n = args
        n = int(n)
        g = Genl(ns(path))
        key = lambda port: nla(ATTR_PROTO, b"\x11") + nla(ATTR_VIP, socket.inet_aton(vip)) + nla(ATTR_PORT, struct.pack("H", port))
        # (its own socket: the dump's must stay free while it is read)
        ctl = Genl(ns(path))

        def change(cmd, ports):
            for p in ports:
                err, _ = ctl.request(ctl.family, cmd, key(p))
                if err:
                    sys.exit(f"nldump.py: command {cmd} for port {p}: errno {-err}")

        change(CMD_SERVICE_NEW, range(1, n + 1))
        d = Dump(g, CMD_SERVICE_GET, ATTR_PORT)
        while d.part():
            if d.parts == 1:
                change(CMD_SERVICE_DEL, range(1, 11))
            elif d.parts == 2:
                change(CMD_SERVICE_NEW, range(n + 1, n + 6))
        report(d, 11, n + 1, n + 6)
        change(CMD_SERVICE_DEL, range(11, n + 6))
    elif mode == "hold":
        (dir_ns,) = args
        g = Genl(ns(dir_ns))
        d = Dump(g)
        d.part()
        print(f"holding {len(d.ports)}", flush=True)
        what = sys.stdin.readline().strip()
        if what == "finish":
            while d.part():
                pass
            print(f"done {len(d.ports)} errno {d.errno} interrupted {int(d.interrupted)}", flush=True)
        else:
            g.s.close()
            print("closed", flush=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
