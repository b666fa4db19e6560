#!/usr/bin/env python3
"""The sync bench's probe (bench/sync.sh): both directors' tables, sync
counters and relay daemons, read from one process.

    syncbench.py sample OUT STOP MASTER_NS STANDBY_NS MASTER_PID STANDBY_PID [INTERVAL_MS]
        Every INTERVAL_MS (50) of guest time until the file STOP exists,
        one JSON line to OUT: t (time.time()), the entries in each table
        (STATUS's conn count: m, s), each side's SYNC_GET counters (mq
        queued, msent read out, mover overflow; sapp applied, sunk
        unknown, sroom no room, smal malformed batches), each daemon's
        CPU time (utime+stime, clock ticks: mcpu, scpu), the standby's
        UDP receive-buffer drops and datagrams received (srcvbuf,
        sindg, from /proc/PID/net/snmp of its daemon), the master's UDP
        send-buffer errors (msndbuf) and this probe's own CPU (pcpu).
    syncbench.py wait MASTER_NS STANDBY_NS TIMEOUT_S
        Until the standby's table holds as many entries as the master's
        (and the master's no longer grows), or TIMEOUT_S of guest time:
        prints "caught_up MS" or "behind M S".

Namespaces by name (/run/netns/NAME) or path."""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from nldump import Genl, attrs, ns  # noqa: E402

SYNC_GET = 25
A_QUEUED = 48
A_SENT, A_OVERFLOW, A_APPLIED, A_UNKNOWN, A_MALFORMED, A_NO_ROOM = 49, 50, 51, 52, 53, 54


def sync_get(g):
    err, reps = g.request(g.family, SYNC_GET)
    if err:
        return {}
    a = attrs(reps[0])
    u64 = lambda t: struct.unpack("Q", a[t])[0] if t in a else -1
    return {"queued": struct.unpack("I", a[A_QUEUED])[0] if A_QUEUED in a else -1, "sent": u64(A_SENT),
            "overflow": u64(A_OVERFLOW), "applied": u64(A_APPLIED), "unknown": u64(A_UNKNOWN),
            "malformed": u64(A_MALFORMED), "no_room": u64(A_NO_ROOM)}


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return -1
    f = s[s.rindex(")") + 2:].split()
    # (fields 14 and 15 of the line: 12 and 13 after the state)
    return int(f[11]) + int(f[12])


def udp_snmp(pid):
    """The Udp: line of PID's namespace, as a dict (empty if gone)."""
    try:
        with open(f"/proc/{pid}/net/snmp") as f:
            lines = [l.split() for l in f if l.startswith("Udp:")]
    except OSError:
        return {}
    return dict(zip(lines[0][1:], map(int, lines[1][1:]))) if len(lines) >= 2 else {}


def sample(out, stop, mns, sns, mpid, spid, interval_ms=50):
    gm, gs = Genl(ns(mns)), Genl(ns(sns))
    step = interval_ms / 1000.0
    nxt = time.time()
    with open(out, "a", buffering=1) as f:
        while not os.path.exists(stop):
            t = time.time()
            m, s = gm.conn_count(), gs.conn_count()
            mg, sg = sync_get(gm), sync_get(gs)
            su, mu = udp_snmp(spid), udp_snmp(mpid)
            f.write('{"t":%.4f,"m":%d,"s":%d,"mq":%d,"msent":%d,"mover":%d,"sapp":%d,"sunk":%d,"sroom":%d,'
                    '"smal":%d,"mcpu":%d,"scpu":%d,"srcvbuf":%d,"sindg":%d,"msndbuf":%d,"pcpu":%d}\n' % (
                        t, m, s, mg.get("queued", -1), mg.get("sent", -1), mg.get("overflow", -1),
                        sg.get("applied", -1), sg.get("unknown", -1), sg.get("no_room", -1),
                        sg.get("malformed", -1), cpu_ticks(mpid), cpu_ticks(spid), su.get("RcvbufErrors", -1),
                        su.get("InDatagrams", -1), mu.get("SndbufErrors", -1), cpu_ticks(os.getpid())))
            nxt += step
            d = nxt - time.time()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.time()


def wait(mns, sns, timeout):
    gm, gs = Genl(ns(mns)), Genl(ns(sns))
    t0 = time.time()
    last_m = -1
    while True:
        m, s = gm.conn_count(), gs.conn_count()
        if s >= m and m == last_m:
            print(f"caught_up {int((time.time() - t0) * 1000)}")
            return
        if time.time() - t0 > timeout:
            print(f"behind {m} {s}")
            return
        last_m = m
        time.sleep(0.05)


def main():
    a = sys.argv[1:]
    if a and a[0] == "sample" and len(a) in (7, 8):
        sample(a[1], a[2], a[3], a[4], int(a[5]), int(a[6]), int(a[7]) if len(a) == 8 else 50)
    elif a and a[0] == "wait" and len(a) == 4:
        wait(a[1], a[2], float(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
