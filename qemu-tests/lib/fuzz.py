#!/usr/bin/env python3
"""A fuzzer for the drlb generic-netlink family: malformed and random
requests, from the network namespace it runs in.

    fuzz.py COUNT [--seed N] [--nobody]

Sends COUNT messages, a random mix of:
- requests with well-formed netlink and genetlink headers (every one asks
  for an ACK and must be answered): random commands (mostly the family's
  own, some unknown), flags (do, dump, echo, stray bits), versions and
  reserved bytes, and 0-8 attributes each: plausible values, wrong
  lengths, huge ones (up to 60 KB), unknown types, type 0, the nested and
  byte-order flag bits, nests of garbage, strings without their NUL, and
  an attribute whose length runs past the message;
- dumps read to their end (services, a service's real servers,
  connections with random filters), checking that they end with
  NLMSG_DONE;
- dumps cut off: a dump started on a socket of its own, which is closed
  after at most one read;
- broken frames on another socket (nothing has to answer them): lengths
  too short, too long or mid-header, no NLM_F_REQUEST, other families,
  several messages in one datagram, random bytes.

The answer to each well-formed request is checked against the privilege
table of drlb_kmod/core/src/proto.rs (OPS, copied below): with --nobody
(the process must lack CAP_NET_ADMIN) every command OPS keeps to
CAP_NET_ADMIN must fail with EPERM, whatever its attributes; as root none
may. Prints what was sent, the answers by errno and the time taken; exits 1
on a broken rule or a request left unanswered (5 s)."""
import errno
import random
import socket
import struct
import sys
import time

from common import nla

NETLINK_GENERIC, SOL_NETLINK, NETLINK_EXT_ACK, NETLINK_CAP_ACK = 16, 270, 11, 10
NLMSG_ERROR, NLMSG_DONE = 2, 3
F_REQUEST, F_MULTI, F_ACK, F_ECHO, F_DUMP = 1, 2, 4, 8, 0x300
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 16, 3, 1, 2
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000

# proto.rs's OPS: command -> (needs CAP_NET_ADMIN, answers dumps).
ADMIN, ANYONE = True, False
OPS = {
    1: (ANYONE, False),  # STATUS
    2: (ADMIN, False),  # SET_STATE
    3: (ADMIN, False),  # SERVICE_NEW
    4: (ADMIN, False),  # SERVICE_SET
    5: (ADMIN, False),  # SERVICE_DEL
    6: (ADMIN, True),  # SERVICE_GET
    7: (ADMIN, False),  # REAL_NEW
    8: (ADMIN, False),  # REAL_SET
    9: (ADMIN, False),  # REAL_DEL
    10: (ADMIN, True),  # REAL_GET
    11: (ADMIN, True),  # CONN_GET
    12: (ADMIN, False),  # CONN_DEL
    13: (ADMIN, False),  # FLOW_QUERY
    14: (ANYONE, False),  # TIMEOUTS_GET
    15: (ADMIN, False),  # TIMEOUTS_SET
    16: (ANYONE, False),  # LIMITS_GET
    17: (ADMIN, False),  # LIMITS_SET
    18: (ADMIN, False),  # FLUSH
    19: (ADMIN, False),  # ZERO
    24: (ADMIN, False),  # SYNC_SET
    25: (ANYONE, False),  # SYNC_GET
    26: (ADMIN, False),  # SYNC_READ
    27: (ADMIN, False),  # SYNC_WRITE
}
# Attribute kinds, by type (proto.rs's POLICY).
U8, U16, U32, U64, STR, BIN, NEST = range(7)
POLICY = {
    1: STR, 2: U8, 3: U64, 4: U8, 5: BIN, 6: U16, 7: STR, 8: U32, 9: U32, 10: BIN, 11: U32,
    12: BIN, 13: U32, 14: U8, 15: NEST, 16: BIN, 17: U16, 18: U8, 19: U32, 20: U32, 21: U32,
    22: U32, 23: U32, 24: U32, 25: U32, 26: U32, 27: U32, 28: U8, 29: U32, 30: U8, 31: U8,
    32: BIN, 33: U64, 34: U64, 35: U64, 36: U32, 37: NEST, 38: U8, 39: U64, 40: U64, 41: U64,
    42: U8, 43: BIN, 44: U32, 45: U8, 46: BIN, 47: U8, 48: U32, 49: U64, 50: U64, 51: U64,
    52: U64, 53: U64, 54: U64,
}
ATTR_PROTO, ATTR_VIP, ATTR_PORT, ATTR_REAL, ATTR_CLIENT = 4, 5, 6, 10, 16
# The topology's addresses (topology.sh), and a second VIP.
ADDRS = [socket.inet_pton(socket.AF_INET, a) for a in
         ("198.51.100.10", "198.51.100.11", "198.51.100.2", "198.51.100.21", "198.51.100.22", "0.0.0.0")]
ADDRS += [socket.inet_pton(socket.AF_INET6, a) for a in ("2001:db8:1::10", "2001:db8:1::21", "::")]
PORTS = [80, 81, 9, 0, 65535]
SCHEDULERS = [b"rr", b"wrr", b"lc", b"wlc", b"sh", b"maglev", b"mh", b"lblc", b"", b"x" * 15, b"x" * 40]
BIG = [0, 1, 7, 255, 256, 65535, 65536, 2073600, 2073601, 2**31, 2**32 - 1]


class Fuzzer:
    def __init__(self, rnd, nobody):
        self.r, self.nobody = rnd, nobody
        # Random bytes are cut from here (cheaper than fresh ones per
        # attribute under TCG; the seed decides them too).
        self.pool = rnd.randbytes(1 << 17)
        self.s = self.sock()
        self.junk = self.sock()
        self.junk.setblocking(False)
        self.seq = 0
        self.family = self.resolve()
        self.sent = dict(structured=0, dumps=0, cut=0, frames=0, random=0)
        self.answers = {}  # errno -> count (0: success)
        self.checked = 0
        self.broken = []

    @staticmethod
    def sock():
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        s.bind((0, 0))
        s.settimeout(5)
        return s

    def resolve(self):
        msg = self.header(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, F_REQUEST | F_ACK, 1, 0,
                          nla(CTRL_ATTR_FAMILY_NAME, b"drlb\0"))
        self.s.send(msg)
        for typ, _, _, payload in self.read(self.s, self.seq):
            if typ == GENL_ID_CTRL:
                off = 4
                while off + 4 <= len(payload):
                    ln, t = struct.unpack_from("HH", payload, off)
                    if t == CTRL_ATTR_FAMILY_ID:
                        return struct.unpack_from("H", payload, off + 4)[0]
                    off += max((ln + 3) & ~3, 4)
        sys.exit("fuzz.py: the drlb family is not registered")

    def header(self, typ, cmd, flags, version, reserved, payload):
        self.seq += 1
        body = struct.pack("BBH", cmd, version, reserved) + payload
        return struct.pack("IHHII", 16 + len(body), typ, flags, self.seq, 0) + body

    def read(self, s, seq):
        """The messages answering seq, up to and including the last one
        (NLMSG_ERROR, or NLMSG_DONE); raises socket.timeout."""
        while True:
            data = s.recv(1 << 16)
            off = 0
            while off + 16 <= len(data):
                ln, typ, flags, mseq, _ = struct.unpack_from("IHHII", data, off)
                if ln < 16:
                    break
                payload = data[off + 16: off + ln]
                off += (ln + 3) & ~3
                if mseq != seq:
                    continue
                yield typ, flags, mseq, payload
                if typ in (NLMSG_ERROR, NLMSG_DONE):
                    return

    # --- attributes -------------------------------------------------------

    def noise(self, n):
        at = self.r.randrange(len(self.pool) - n)
        return self.pool[at: at + n]

    def value(self, kind):
        r = self.r
        if kind == U8:
            return struct.pack("B", r.choice([0, 1, 2, 6, 17, 255, r.randrange(256)]))
        if kind == U16:
            return struct.pack("H", r.choice(PORTS + [r.randrange(65536)]))
        if kind == U32:
            return struct.pack("I", r.choice(BIG + [r.randrange(2**32)]))
        if kind == U64:
            return struct.pack("Q", r.randrange(2**64))
        if kind == STR:
            s = r.choice(SCHEDULERS)
            return s if r.random() < 0.2 else s + b"\0"
        if kind == BIN:
            return r.choice(ADDRS) if r.random() < 0.7 else self.noise(r.choice([0, 3, 5, 6, 15, 17, 40]))
        return self.nest(2)

    def nest(self, depth):
        out = b""
        for _ in range(self.r.randrange(5)):
            t = self.r.choice([self.r.randrange(1, 20), 0, self.r.randrange(65536)])
            if depth and self.r.random() < 0.3:
                out += nla(t | NLA_F_NESTED, self.nest(depth - 1))
            else:
                out += nla(t, self.noise(self.r.choice([0, 1, 4, 8, 13])))
        if self.r.random() < 0.2:
            out += self.noise(self.r.randrange(1, 7))  # a cut-off tail
        return out

    def attr(self):
        r = self.r
        t = r.randrange(1, max(POLICY) + 1)
        roll = r.random()
        if roll < 0.55:
            payload = self.value(POLICY[t])
        elif roll < 0.75:
            payload = self.noise(r.randrange(41))  # a wrong length, often
        elif roll < 0.8:
            payload = self.noise(r.randrange(1000, 60000))  # huge
        elif roll < 0.9:
            t = r.choice([0, r.randrange(max(POLICY) + 1, 0x3FFF), 15, 37])  # unknown, 0, nests
            payload = self.nest(3)
        else:
            payload = self.value(POLICY[t])
        if r.random() < 0.1:
            t |= r.choice([NLA_F_NESTED, NLA_F_NET_BYTEORDER])
        elif POLICY.get(t) == NEST and r.random() < 0.8:
            t |= NLA_F_NESTED
        return nla(t, payload)

    def key(self):
        """Attributes naming a service, mostly one that may exist."""
        return (nla(ATTR_PROTO, bytes([self.r.choice([6, 17, 17, 0])]))
                + nla(ATTR_VIP, self.r.choice(ADDRS)) + nla(ATTR_PORT, struct.pack("H", self.r.choice(PORTS))))

    # --- messages ---------------------------------------------------------

    def structured(self):
        """A request with sound headers, and its answer, checked."""
        r = self.r
        roll = r.random()
        cmd = r.choice(list(OPS)) if roll < 0.8 else r.choice([0, 20, 21, 22, 23, 28, r.randrange(256)])
        roll = r.random()
        if roll < 0.6:
            flags = F_REQUEST | F_ACK
        elif roll < 0.85:
            flags = F_REQUEST | F_ACK | F_DUMP
        elif roll < 0.92:
            flags = F_REQUEST | F_ACK | F_ECHO
        else:
            flags = F_REQUEST | F_ACK | r.randrange(65536)
        version = 1 if r.random() < 0.8 else r.randrange(256)
        reserved = 0 if r.random() < 0.95 else r.randrange(1, 65536)
        payload = self.key() if r.random() < 0.4 else b""
        payload += b"".join(self.attr() for _ in range(r.randrange(9)))
        if r.random() < 0.03 and payload:
            # an attribute header whose length runs past the message
            payload += struct.pack("HH", r.randrange(8, 400), r.randrange(1, 42))
        msg = self.header(self.family, cmd, flags, version, reserved, payload)
        self.sent["structured"] += 1
        try:
            self.s.send(msg)
        except OSError as e:  # more than the socket's send buffer
            self.answers[f"send {errno.errorcode[e.errno]}"] = self.answers.get(f"send {errno.errorcode[e.errno]}", 0) + 1
            return
        err = self.answer(self.s, self.seq)
        self.check(cmd, flags, reserved, err)

    def answer(self, s, seq):
        """The errno that ends the answer to seq (0: success)."""
        try:
            for typ, flags, _, payload in self.read(s, seq):
                if typ in (NLMSG_ERROR, NLMSG_DONE):
                    err = -struct.unpack_from("i", payload)[0] if len(payload) >= 4 else 0
                    self.answers[err] = self.answers.get(err, 0) + 1
                    return err
        except socket.timeout:
            self.broken.append(f"request {seq}: no answer in 5 s")
            self.answers["none"] = self.answers.get("none", 0) + 1
            return None

    def check(self, cmd, flags, reserved, err):
        """The privilege rule, for a request that reaches the permission
        check: genetlink checks the header, then finds the command (do or
        dump), then checks the permission, then parses attributes."""
        if err is None:
            return
        dump = flags & F_DUMP == F_DUMP
        rest = flags & ~F_DUMP if dump else flags
        if reserved or rest & ~(F_REQUEST | F_ACK | F_ECHO):
            return  # EINVAL from the header check
        op = OPS.get(cmd)
        if op is None or (dump and not op[1]):
            if err != errno.EOPNOTSUPP:
                self.broken.append(f"command {cmd} (dump {dump}): errno {err}, not EOPNOTSUPP")
            return
        self.checked += 1
        admin = op[0]
        if self.nobody and admin and err != errno.EPERM:
            self.broken.append(f"command {cmd} (dump {dump}) as nobody: errno {err}, not EPERM")
        if (not self.nobody or not admin) and err == errno.EPERM:
            self.broken.append(f"command {cmd} (dump {dump}): EPERM for a caller it allows")

    def dump(self):
        """A real dump, read to its end."""
        r = self.r
        cmd = r.choice([6, 10, 11, 11])
        payload = b""
        if cmd == 10 or (cmd == 11 and r.random() < 0.5):
            payload = self.key()
        if cmd == 11 and r.random() < 0.5:
            payload += nla(ATTR_CLIENT, r.choice(ADDRS)) if r.random() < 0.5 else nla(ATTR_REAL, r.choice(ADDRS))
        self.s.send(self.header(self.family, cmd, F_REQUEST | F_ACK | F_DUMP, 1, 0, payload))
        self.sent["dumps"] += 1
        err = self.answer(self.s, self.seq)
        self.check(cmd, F_REQUEST | F_ACK | F_DUMP, 0, err)

    def cut(self):
        """A dump on a socket of its own, closed after at most one read."""
        s = self.sock()
        try:
            cmd = self.r.choice([6, 11])
            s.send(self.header(self.family, cmd, F_REQUEST | F_ACK | F_DUMP, 1, 0, b""))
            if self.r.random() < 0.7:
                s.recv(1 << 16 if self.r.random() < 0.5 else 4096)
        finally:
            s.close()
        self.sent["cut"] += 1

    def frame(self):
        """A broken frame on the junk socket: nobody has to answer it."""
        r = self.r
        body = struct.pack("BBH", r.randrange(256), 1, 0) + b"".join(self.attr() for _ in range(r.randrange(4)))
        # (drlb's, the controller's, control types, and ids above any
        # family's: not another family's commands)
        typ = r.choice([self.family, self.family, GENL_ID_CTRL, 0, 1, 2, 3, r.randrange(0xF000, 0x10000)])
        flags = r.choice([F_REQUEST | F_ACK, F_ACK, 0, F_REQUEST | F_DUMP, r.randrange(65536)])
        real = 16 + len(body)
        ln = r.choice([0, 8, 15, 16, 17, 19, real - 1, real + 1, real + 400, 2**32 - 1, real])
        msg = struct.pack("IHHII", ln, typ, flags, r.randrange(2**32), 0) + body
        if r.random() < 0.3:
            # several in one datagram, the last maybe cut
            msg += self.header(self.family, r.randrange(20), F_REQUEST | F_ACK, 1, 0, b"")
            msg += msg[: r.randrange(len(msg))]
        try:
            self.junk.send(msg)
        except OSError:
            pass
        self.sent["frames"] += 1

    def garbage(self):
        try:
            self.junk.send(self.noise(self.r.randrange(0, 300)))
        except OSError:
            pass
        self.sent["random"] += 1

    def drain(self):
        try:
            while True:
                self.junk.recv(1 << 16)
        except (BlockingIOError, OSError):
            pass

    def run(self, count):
        # (cumulative: 62 % requests, 12 % dumps, 3 % cut dumps, 15 % frames, 8 % random bytes)
        kinds = [(0.62, self.structured), (0.74, self.dump), (0.77, self.cut), (0.92, self.frame), (1.0, self.garbage)]
        for i in range(count):
            roll = self.r.random()
            next(f for p, f in kinds if roll < p)()
            if i % 32 == 31:
                self.drain()
        self.drain()


def main():
    args = sys.argv[1:]
    if not args or not args[0].isdigit():
        sys.exit(__doc__)
    count = int(args[0])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else random.randrange(2**32)
    nobody = "--nobody" in args
    f = Fuzzer(random.Random(seed), nobody)
    start = time.monotonic()
    f.run(count)
    secs = time.monotonic() - start
    total = sum(f.sent.values())
    print(f"fuzz: {total} messages in {secs:.1f} s ({total / secs:.0f}/s), seed {seed}, "
          f"{'without CAP_NET_ADMIN' if nobody else 'as root'}: "
          + ", ".join(f"{n} {k}" for k, n in f.sent.items()))
    codes = {**errno.errorcode, errno.EOPNOTSUPP: "EOPNOTSUPP"}
    names = {k: (codes.get(k, str(k)) if isinstance(k, int) and k else ("ok" if k == 0 else k))
             for k in f.answers}
    print("fuzz: answers: " + ", ".join(f"{names[k]} {n}" for k, n in
                                        sorted(f.answers.items(), key=lambda kv: -kv[1])))
    print(f"fuzz: {f.checked} requests checked against the privilege table, {len(f.broken)} broke a rule")
    for b in f.broken[:20]:
        print(f"fuzz: BROKEN: {b}")
    sys.exit(1 if f.broken else 0)


if __name__ == "__main__":
    main()
