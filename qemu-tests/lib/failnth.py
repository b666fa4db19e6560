#!/usr/bin/env python3
"""Systematic allocation failures in drlb's genetlink requests, as syzkaller
makes them: for N = 1, 2, 3 ... the Nth allocation of one request fails
(/proc/thread-self/fail-nth; failslab and fail_page_alloc must be set to
fail GFP_KERNEL allocations, see faults.sh), until the request goes through
without the fault being reached.

    failnth.py CLIENT_NETNS NAME=ADDR,... STEP [-- STEP ...]

STEP is one of
    sweep LABEL CMD [TYPE:KIND:VALUE ...]   the request, under failures
    do CMD [TYPE:KIND:VALUE ...]            a request that must succeed
with attributes as nlraw.py writes them (KIND u8, u16, u32, str, hex).
NAME=ADDR names each real server by its address, as it answers requests.
Runs in the director's namespace; CLIENT_NETNS (a path or a name under
/run/netns) is where the requests to the services come from.

After every attempt of a sweep:
- an attempt that failed (an errno from sendmsg or in the reply) must have
  had its fault injected, and left everything as it was: the services and
  real servers with every setting `drlb-tool save` prints, the namespace
  state, the timeouts and the limits (the connection bound and the table's
  chains among them); no event went out;
- an attempt that succeeded made the change: every success of a sweep,
  those where the fault hit an allocation that has a fallback (kmemleak's
  own metadata, kvmalloc's vmalloc, an event) and the last one alike,
  leaves the same state (a namespace left without a service may keep its
  table's chains if shrinking them found no memory). A success that sends
  an event sent it, or its listeners were told one was lost (ENOBUFS).
  A success whose fault was injected is undone (the state put back as
  before the sweep) and the sweep goes on;
- requests to every service reach each of its real servers (weight above
  0), one new connection each: the round-robin schedulers visit every one
  (a real server a failure left configured but unusable gets none).
With FAILNTH_SAVE=1 (faults.sh's default), `drlb-tool save` is run after
each failed attempt too (in the same namespace: $DRLB_TOOL) and must print
what it printed before the sweep.

Prints one line per sweep (attempts, the errors seen, the faults absorbed)
and exits 1 at the first attempt that breaks a rule, saying which and why.
The request is sent without NLM_F_ACK and followed by a request that is
acknowledged: a success then needs no allocation after the handler (the
ack's), which would otherwise be one the sweep cannot tell from the
handler's; an error is acknowledged either way."""
import ctypes
import errno
import os
import select
import socket
import struct
import subprocess
import sys
import time

from common import groups, nla

NETLINK_GENERIC, SOL_NETLINK, NETLINK_EXT_ACK, NETLINK_ADD_MEMBERSHIP = 16, 270, 11, 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLA_F_NESTED = 0x8000
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_MCAST_GROUPS = 1, 2, 7
CTRL_ATTR_MCAST_GRP_NAME, CTRL_ATTR_MCAST_GRP_ID = 1, 2
CLONE_NEWNET = 0x40000000
# drlb_kmod/core/src/proto.rs
C_STATUS, C_SET_STATE, C_SERVICE_NEW, C_SERVICE_SET, C_SERVICE_DEL, C_SERVICE_GET = 1, 2, 3, 4, 5, 6
C_REAL_NEW, C_REAL_SET, C_REAL_DEL, C_REAL_GET = 7, 8, 9, 10
C_TIMEOUTS_GET, C_TIMEOUTS_SET, C_LIMITS_GET, C_LIMITS_SET = 14, 15, 16, 17
EVENTS = {C_SET_STATE: 20, C_REAL_NEW: 21, C_REAL_DEL: 22, C_REAL_SET: 23}
A_STATE, A_PROTO, A_VIP, A_PORT, A_SCHEDULER, A_PERSISTENCE, A_FLAGS = 2, 4, 5, 6, 7, 8, 9
A_REAL, A_WEIGHT, A_REAL_STATE = 10, 11, 14
A_TIMEOUT_UDP, A_CONN_MAX, A_FLOOD_RATE, A_MAGLEV_SEED, A_EXPIRE_NODEST = 22, 25, 27, 29, 31
A_TIMEOUT_STATES, A_SVC_STATE, A_CONN_BUCKETS = 37, 38, 44
STATE_ACTIVE, REAL_RESOLVED = 1, 1
MAX_ATTEMPTS = 400

libc = ctypes.CDLL(None, use_errno=True)


class Broken(Exception):
    """A rule of the sweep was broken."""


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
    off = 0
    while off + 16 <= len(data):
        ln, typ, flags, seq, _ = struct.unpack_from("IHHII", data, off)
        if ln < 16:
            return
        yield typ, flags, seq, data[off + 16 : off + ln]
        off += (ln + 3) & ~3


def u(b):
    return int.from_bytes(b, sys.byteorder) if b is not None else None


def payload(specs):
    out = b""
    for spec in specs:
        t, kind, value = spec.split(":", 2)
        packed = {
            "u8": lambda v: struct.pack("B", int(v)),
            "u16": lambda v: struct.pack("H", int(v)),
            "u32": lambda v: struct.pack("I", int(v)),
            "str": lambda v: v.encode() + b"\0",
            "hex": bytes.fromhex,
        }[kind](value)
        out += nla(int(t), packed)
    return out


class Genl:
    """The drlb family, from this process's namespace."""

    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.bind((0, 0))
        self.seq = 0
        err, reps = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"drlb\0"))
        if err:
            sys.exit(f"failnth.py: drlb family not found (errno {-err})")
        a = attrs(reps[0])
        self.family = u(a[CTRL_ATTR_FAMILY_ID][:2])
        self.group = None
        for g in attrs(a.get(CTRL_ATTR_MCAST_GROUPS, b"")).values():
            g = attrs(g)
            if g.get(CTRL_ATTR_MCAST_GRP_NAME, b"").rstrip(b"\0") == b"events":
                self.group = u(g[CTRL_ATTR_MCAST_GRP_ID])

    def message(self, family, cmd, body=b"", flags=NLM_F_REQUEST | NLM_F_ACK):
        self.seq += 1
        body = struct.pack("BBH", cmd, 1, 0) + body
        return struct.pack("IHHII", 16 + len(body), family, flags, self.seq, 0) + body

    def replies(self, seq):
        """Messages for seq up to its ack (or NLMSG_DONE): (errno, [payloads])."""
        out = []
        while True:
            for typ, _, rseq, msg in messages(self.s.recv(65536)):
                if rseq != seq:
                    continue
                if typ in (NLMSG_ERROR, NLMSG_DONE):
                    return -struct.unpack_from("i", msg)[0], out
                out.append(msg[4:])

    def request(self, family, cmd, body=b"", dump=False):
        self.s.send(self.message(family, cmd, body, NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)))
        return self.replies(self.seq)

    def drlb(self, cmd, body=b"", dump=False):
        """A request that must succeed: its replies' attributes."""
        err, reps = self.request(self.family, cmd, body, dump)
        if err:
            raise Broken(f"request {cmd} failed with errno {err} ({os.strerror(err)}) outside injection")
        return [attrs(r) for r in reps]


class Events:
    """A listener on the events group: what arrived since the last read."""

    def __init__(self, group):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self.s.setblocking(False)

    def read(self):
        """([event commands], whether the socket reported lost events)."""
        cmds, lost = [], False
        while True:
            try:
                data = self.s.recv(65536)
            except BlockingIOError:
                return cmds, lost
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                lost = True
                continue
            cmds += [msg[0] for typ, _, _, msg in messages(data) if typ >= 16]


def key_of(a):
    return (u(a[A_PROTO]), a[A_VIP], u(a[A_PORT]))


def key_attrs(k):
    return nla(A_PROTO, struct.pack("B", k[0])) + nla(A_VIP, k[1]) + nla(A_PORT, struct.pack("H", k[2]))


class State:
    """What a change may change, read from the module: the namespace
    state, the timeouts, the limits, and each service's settings and real
    servers (everything `drlb-tool save` prints)."""

    def __init__(self, g):
        self.ns = u(g.drlb(C_STATUS)[0][A_STATE])
        self.timeouts = g.drlb(C_TIMEOUTS_GET)[0]
        lim = g.drlb(C_LIMITS_GET)[0]
        self.limits = {a: u(lim.get(a)) for a in (A_CONN_MAX, A_FLOOD_RATE, A_EXPIRE_NODEST)}
        self.buckets = u(lim[A_CONN_BUCKETS])
        self.services = {}
        self.unresolved = set()
        for s in g.drlb(C_SERVICE_GET, dump=True):
            k = key_of(s)
            settings = tuple(s.get(a) for a in (A_SCHEDULER, A_PERSISTENCE, A_FLAGS, A_MAGLEV_SEED, A_SVC_STATE))
            reals = {}
            for r in g.drlb(C_REAL_GET, key_attrs(k), dump=True):
                reals[r[A_REAL]] = u(r[A_WEIGHT])
                if u(r[A_REAL_STATE]) != REAL_RESOLVED:
                    self.unresolved.add(r[A_REAL])
            self.services[k] = (settings, reals)

    def config(self):
        return (self.ns, sorted(self.timeouts.items()), sorted(self.limits.items()), sorted(self.services.items()))

    def same(self, other, after_success=False):
        """The same state. After a success, a namespace left without
        services may keep its table's chains (shrinking them, after the
        change, found no memory: they go at the next resize)."""
        if self.config() != other.config():
            return False
        return self.buckets == other.buckets or (after_success and not self.services)

    def diff(self, other):
        """What differs from other, for the report."""
        out = []
        if self.ns != other.ns:
            out.append(f"state {other.ns} -> {self.ns}")
        if self.timeouts != other.timeouts:
            out.append("timeouts")
        for a in self.limits:
            if self.limits[a] != other.limits[a]:
                out.append(f"limit {a}: {other.limits[a]} -> {self.limits[a]}")
        if self.buckets != other.buckets:
            out.append(f"chains {other.buckets} -> {self.buckets}")
        for k in sorted(set(self.services) | set(other.services)):
            a, b = other.services.get(k), self.services.get(k)
            if a != b:
                out.append(f"service {fmt_key(k)}: {fmt_service(a)} -> {fmt_service(b)}")
        return "; ".join(out) or "nothing"


def fmt_addr(a):
    return socket.inet_ntop(socket.AF_INET if len(a) == 4 else socket.AF_INET6, a)


def fmt_key(k):
    return f"{'tcp' if k[0] == 6 else 'udp'} {fmt_addr(k[1])}:{k[2]}"


def fmt_service(s):
    """A service's settings and real servers, as a diff shows them."""
    if s is None:
        return "(none)"
    settings, reals = s
    sched, persistence, flags, seed, state = settings
    sched = sched.rstrip(b"\0").decode()
    reals = ",".join(f"{fmt_addr(a)}/{w}" for a, w in sorted(reals.items())) or "-"
    return f"[{sched} persistence={u(persistence)} flags={u(flags)} seed={u(seed)} state={u(state)} reals={reals}]"


class Director:
    def __init__(self, client_ns, names):
        self.g = Genl()
        self.events = Events(self.g.group)
        self.names = names
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        path = client_ns if client_ns.startswith("/") else f"/run/netns/{client_ns}"
        self.client = os.open(path, os.O_RDONLY)
        # Opened before any fault is armed: opening it allocates.
        self.nth = os.open("/proc/thread-self/fail-nth", os.O_RDWR)
        self.nth_buf = bytearray(32)
        # drlb-tool, to compare its `save` too (a process per failed
        # attempt: with FAILNTH_SAVE=1 only)
        self.tool = os.environ.get("DRLB_TOOL") if os.environ.get("FAILNTH_SAVE") == "1" else None

    def save(self):
        """`drlb-tool save` here, if asked for: a function that returns
        its output (it runs meanwhile)."""
        if not self.tool:
            return lambda: None
        p = subprocess.Popen([self.tool, "save"], stdout=subprocess.PIPE, text=True)

        def output():
            out = p.communicate()[0]
            if p.returncode:
                raise Broken(f"drlb-tool save exited {p.returncode}")
            return out
        return output

    # -- one attempt --------------------------------------------------
    def attempt(self, n, cmd, body):
        """Sends the request with the nth allocation failing: (errno or 0,
        whether the fault was injected)."""
        msg = self.g.message(self.g.family, cmd, body, NLM_F_REQUEST)
        seq = self.g.seq
        arm = str(n).encode()
        err = 0
        # Nothing between arming and reading back but the sendmsg, which
        # runs the handler in this thread (nothing here allocates either).
        os.write(self.nth, arm)
        try:
            self.g.s.send(msg)
        except OSError as e:
            err = e.errno
        got = os.preadv(self.nth, [self.nth_buf], 0)
        os.write(self.nth, b"0")
        injected = int(bytes(self.nth_buf[:got])) == 0
        if err:
            return err, injected
        # The barrier: an acknowledged request; the sweep's own reply, an
        # error, comes first if there is one.
        self.g.s.send(self.g.message(self.g.family, C_STATUS, b"", NLM_F_REQUEST | NLM_F_ACK))
        barrier = self.g.seq
        while True:
            for typ, _, rseq, m in messages(self.g.s.recv(65536)):
                if typ == NLMSG_ERROR and rseq == seq:
                    err = -struct.unpack_from("i", m)[0]
                elif typ == NLMSG_ERROR and rseq == barrier:
                    return err, injected

    # -- checks --------------------------------------------------------
    def ask_all(self, targets):
        """A request to each (vip, port) from the client, all at once (a
        round-robin scheduler visits every real server whatever the
        order): the names that answered."""
        socks, out = [], []
        try:
            for vip, port in targets:
                if libc.setns(self.client, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns to the client's namespace")
                try:
                    s = socket.socket(socket.AF_INET if len(vip) == 4 else socket.AF_INET6, socket.SOCK_STREAM)
                finally:
                    if libc.setns(self.home, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns back home")
                socks.append(s)
                s.setblocking(False)
                s.connect_ex((fmt_addr(vip), port))
            for s in socks:
                out.append(self.answer(s))
        finally:
            for s in socks:
                s.close()
        return out

    @staticmethod
    def answer(s):
        """The name in the answer on s, once connected."""
        try:
            if not select.select([], [s], [], 3)[1]:
                return "ERROR no connection in 3 s"
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                return f"ERROR {os.strerror(e)}"
            s.settimeout(3)
            s.sendall(b"ONCE\n")
            line = b""
            while not line.endswith(b"\n"):
                more = s.recv(256)
                if not more:
                    break
                line += more
        except OSError as e:
            return f"ERROR {e}"
        return line.decode().split(" ")[0].strip() or "ERROR no answer"

    def traffic(self, st, where):
        """Requests to every service reach each of its real servers."""
        if st.ns != STATE_ACTIVE:
            return
        end = time.monotonic() + 5
        while st.unresolved and time.monotonic() < end:  # a real server just added
            time.sleep(0.1)
            st = State(self.g)
        wants = {}
        for k, (settings, reals) in sorted(st.services.items()):
            if u(settings[4]) == STATE_ACTIVE:
                wants[k] = sorted(self.names.get(a, a.hex()) for a, w in reals.items() if w)
        answers = iter(self.ask_all([(k[1], k[2]) for k, want in wants.items() for _ in want]))
        for k, want in wants.items():
            got = sorted(next(answers) for _ in want)
            if got != want:
                raise Broken(f"{where}: {len(want)} requests to {fmt_key(k)} went to {' '.join(got) or 'nothing'}, "
                             f"not one to each of {' '.join(want)}")

    # -- putting a state back -------------------------------------------
    def restore(self, want):
        """Requests that make the module's state want's again."""
        now = State(self.g)
        g = self.g
        if now.ns != want.ns:
            g.drlb(C_SET_STATE, nla(A_STATE, struct.pack("B", want.ns)))
        if now.timeouts != want.timeouts:
            g.drlb(C_TIMEOUTS_SET, nla(A_TIMEOUT_UDP, want.timeouts[A_TIMEOUT_UDP])
                   + nla(A_TIMEOUT_STATES | NLA_F_NESTED, want.timeouts[A_TIMEOUT_STATES]))
        if now.limits != want.limits:
            g.drlb(C_LIMITS_SET, b"".join(nla(a, struct.pack("B" if a == A_EXPIRE_NODEST else "I", v))
                                          for a, v in want.limits.items()))
        for k in now.services.keys() - want.services.keys():
            g.drlb(C_SERVICE_DEL, key_attrs(k))
        for k, (settings, reals) in want.services.items():
            sattrs = key_attrs(k) + b"".join(nla(t, v) for t, v in zip(
                (A_SCHEDULER, A_PERSISTENCE, A_FLAGS, A_MAGLEV_SEED, A_SVC_STATE), settings))
            if k not in now.services:
                g.drlb(C_SERVICE_NEW, sattrs)
                have = {}
            else:
                if now.services[k][0] != settings:
                    g.drlb(C_SERVICE_SET, sattrs)
                have = now.services[k][1]
            for a in have.keys() - reals.keys():
                g.drlb(C_REAL_DEL, key_attrs(k) + nla(A_REAL, a))
            for a, w in reals.items():
                body = key_attrs(k) + nla(A_REAL, a) + nla(A_WEIGHT, struct.pack("I", w))
                if a not in have:
                    g.drlb(C_REAL_NEW, body)
                elif have[a] != w:
                    g.drlb(C_REAL_SET, body)
        again = State(self.g)
        if not again.same(want):
            raise Broken(f"could not put the state back: {again.diff(want)}")
        self.events.read()

    # -- a sweep ---------------------------------------------------------
    def sweep(self, label, cmd, body):
        start = time.monotonic()
        before = State(self.g)
        saved = self.save()()
        self.traffic(before, f"{label}, before")
        self.events.read()
        done, errors, absorbed, missed = None, {}, 0, 0
        for n in range(1, MAX_ATTEMPTS + 1):
            err, injected = self.attempt(n, cmd, body)
            events, lost = self.events.read()
            st = State(self.g)
            where = f"{label}, fault at allocation {n}"
            if err:
                if not injected:
                    raise Broken(f"{where}: errno {err} ({os.strerror(err)}) but no fault was injected")
                if not st.same(before):
                    raise Broken(f"{where}: failed with errno {err} ({os.strerror(err)}) "
                                 f"but changed {st.diff(before)}")
                if events or lost:
                    raise Broken(f"{where}: failed with errno {err}, yet events {events} went out (lost: {lost})")
                save = self.save()  # (beside the traffic: a process start is slow under TCG)
                self.traffic(st, f"{where}, failed with errno {err}")
                if save() != saved:
                    raise Broken(f"{where}: failed with errno {err}, but `drlb-tool save` changed")
                errors[err] = errors.get(err, 0) + 1
                continue
            if st.same(before, after_success=True):
                raise Broken(f"{where}: succeeded{' (fault absorbed)' if injected else ''} but changed nothing")
            if done is None:
                done = st
            elif not st.same(done, after_success=True):
                raise Broken(f"{where}: succeeded, with another result than before: {st.diff(done)}")
            want = [EVENTS[cmd]] if cmd in EVENTS else []
            if events != want and not (want and not events and lost):
                raise Broken(f"{where}: succeeded, with events {events} (lost: {lost}), not {want}")
            missed += want != events
            self.traffic(st, f"{where}, succeeded")
            if not injected:
                errs = ", ".join(f"{os.strerror(e)} {c}" for e, c in sorted(errors.items())) or "none"
                lost = f" (the event lost, and its listener told, {missed})" if missed else ""
                print(f"{label}: {n} attempts: {n - 1 - absorbed} failed ({errs}), "
                      f"{absorbed} succeeded despite the fault{lost}, then done ({time.monotonic() - start:.1f} s)",
                      flush=True)
                return
            absorbed += 1
            self.restore(before)
        raise Broken(f"{label}: still reaching faults after {MAX_ATTEMPTS} attempts")


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    names = {}
    for spec in sys.argv[2].split(","):
        name, _, addr = spec.partition("=")
        names[socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)] = name
    d = Director(sys.argv[1], names)
    try:
        for step in groups(sys.argv[3:]):
            if step[0] == "sweep":
                d.sweep(step[1], int(step[2]), payload(step[3:]))
            elif step[0] == "do":
                d.g.drlb(int(step[1]), payload(step[2:]))
                d.events.read()
            else:
                sys.exit(f"failnth.py: unknown step {step[0]}")
        d.traffic(State(d.g), "at the end")
    except Broken as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
