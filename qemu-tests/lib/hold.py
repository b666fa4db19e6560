#!/usr/bin/env python3
"""Long-lived connections through the VIP, for failover tests: N TCP
connections to ADDR PORT, each sending a line every INTERVAL seconds and
reading the answer, which names the real server that answered (see
rs-server.py: "rs2 client=... local=..."). It counts what a failover must
not do to them:

  resets    connections ended by a reset, an end of stream or another
            socket error (the real server or a director dropped them)
  timeouts  answers that took longer than TIMEOUT (each stall counted once,
            even if the connection answers later)
  moved     connections answered by another real server than their first
            (one count per connection)

    hold.py ADDR PORT N --status FILE [--stop FILE] [--interval 0.1]
            [--timeout 3] [--src ADDR]

It runs until --stop FILE exists or SIGTERM, then writes the summary a last
time and exits 0. The summary is FILE (written whole every second, by a
rename, so a reader never sees half of one), one JSON object:

  n, connected, alive, ready (every connection open and answered once),
  answers, resets, timeouts, moved, stalled (waiting longer than TIMEOUT
  now), fresh (answered within the last second), lost (not alive, or
  stalled now), max_wait_ms (the longest wait for an answer so far),
  connect_failed, first ({"rs1": k, ...}: the first real server of each
  connection), events (the first 20 resets, timeouts and moves, each
  "T conn N: what", T in seconds since the start), done (the last write);
  since_mark (live connections answered since the last SIGUSR1, the
  mark; the start before one), marks (SIGUSR1s received, so that a reader
  knows the summary is from after its mark), window_max_wait_ms (the
  longest wait for an answer since the last SIGUSR2; the start before
  one), window_resets, window_timeouts, window_moved (the counts since
  that SIGUSR2).

A failover test sends SIGUSR2 just before the event and SIGUSR1 once the
new director has taken over, then waits until since_mark is N: every
connection made it through the new director, and window_max_wait_ms is
the pause the event caused.

One process and one thread (selectors), sending in ten slots per interval
so that 200 connections at 10 requests a second stay cheap under TCG
emulation: a connection with an answer still due skips its turn (one
request in flight each).
"""
import heapq
import json
import os
import selectors
import signal
import socket
import sys
import time

SLOTS = 10  # send slots per interval


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    addr, port, n = args[0], int(args[1]), int(args[2])
    opts = dict(zip(args[3::2], args[4::2]))
    status = opts["--status"]
    stop_file = opts.get("--stop")
    interval = float(opts.get("--interval", 0.1))
    timeout = float(opts.get("--timeout", 3))
    src = opts.get("--src")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    mark = [time.monotonic(), 0.0, 0]  # its time, the window's longest wait, marks

    def on_mark(*_):
        mark[0], mark[2] = time.monotonic(), mark[2] + 1

    def on_window(*_):
        mark[1] = 0.0
        base.update(c)

    signal.signal(signal.SIGUSR1, on_mark)
    signal.signal(signal.SIGUSR2, on_window)
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()

    # Per connection: [socket, first, pending_since, stalled, last_answer,
    #                  moved, alive, buffer, connected]
    SOCK, FIRST, PEND, STALL, LAST, MOVED, ALIVE, BUF, CONN = range(9)
    conns = []
    c = dict(answers=0, resets=0, timeouts=0, moved=0, connect_failed=0)
    base = dict(c)  # the counts at the window's start
    events = []
    max_wait = [0.0]

    slow_events = [0]

    def event(i, what, slow=False):
        # (at most 20, of which at most 5 slow answers: resets and moves
        # are what a failure needs shown)
        if len(events) >= 20 or (slow and slow_events[0] >= 5):
            return
        slow_events[0] += slow
        events.append(f"{time.monotonic() - t0:.2f} conn {i}: {what}")

    def die(i, what):
        k = conns[i]
        if not k[ALIVE]:
            return
        k[ALIVE] = False
        try:
            sel.unregister(k[SOCK])
        except (KeyError, ValueError):
            pass
        k[SOCK].close()
        if k[CONN]:
            c["resets"] += 1
        else:
            c["connect_failed"] += 1
        event(i, what)

    # Open them all, non-blocking, at most 32 connects in flight.
    opening = list(range(n))
    for i in range(n):
        conns.append([None, None, None, False, None, False, True, b"", False])
    in_flight = 0
    connect_deadline = {}

    def start_connect(i):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        if src:
            s.bind((src, 0))
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        conns[i][SOCK] = s
        connect_deadline[i] = time.monotonic() + 10
        sel.register(s, selectors.EVENT_WRITE, i)

    # The send schedule: connection i's turn comes at t + slot(i).
    heap = []

    def connected(i):
        k = conns[i]
        k[CONN] = True
        sel.modify(k[SOCK], selectors.EVENT_READ, i)
        now = time.monotonic()
        slot = (i % SLOTS) * interval / SLOTS
        base = now - (now - t0) % interval
        due = base + slot
        if due < now:
            due += interval
        heapq.heappush(heap, (due, i))

    def summary(done=False):
        now = time.monotonic()
        alive = sum(1 for k in conns if k[ALIVE] and k[CONN])
        stalled = sum(1 for k in conns if k[ALIVE] and k[PEND] is not None and now - k[PEND] > timeout)
        fresh = sum(1 for k in conns if k[ALIVE] and k[LAST] is not None and now - k[LAST] <= 1.0)
        first = {}
        for k in conns:
            if k[FIRST]:
                first[k[FIRST]] = first.get(k[FIRST], 0) + 1
        d = dict(
            n=n,
            connected=sum(1 for k in conns if k[CONN]),
            alive=alive,
            ready=alive == n and all(k[FIRST] for k in conns),
            answers=c["answers"],
            resets=c["resets"],
            timeouts=c["timeouts"],
            moved=c["moved"],
            stalled=stalled,
            fresh=fresh,
            lost=(n - alive) + stalled,
            max_wait_ms=int(max_wait[0] * 1000),
            since_mark=sum(1 for k in conns if k[ALIVE] and k[LAST] is not None and k[LAST] > mark[0]),
            window_max_wait_ms=int(mark[1] * 1000),
            window_resets=c["resets"] - base["resets"],
            window_timeouts=c["timeouts"] - base["timeouts"],
            window_moved=c["moved"] - base["moved"],
            marks=mark[2],
            connect_failed=c["connect_failed"],
            first=first,
            seconds=round(now - t0, 1),
            events=events,
            done=done,
        )
        tmp = status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, status)

    next_status = t0
    while True:
        now = time.monotonic()
        while opening and in_flight < 32:
            start_connect(opening.pop(0))
            in_flight += 1
        # Turns that are due: send, or skip while an answer is due.
        while heap and heap[0][0] <= now:
            due, i = heapq.heappop(heap)
            k = conns[i]
            if not k[ALIVE]:
                continue
            if k[PEND] is None:
                try:
                    k[SOCK].send(b"x\n")
                    k[PEND] = now
                except OSError as e:
                    die(i, f"send: {e.strerror or e}")
                    continue
            nxt = due + interval
            if nxt <= now:  # (late: skip the turns missed)
                nxt = now + interval - (now - due) % interval
            heapq.heappush(heap, (nxt, i))
        if now >= next_status:
            for i in list(connect_deadline):
                if connect_deadline[i] < now:
                    del connect_deadline[i]
                    in_flight -= 1
                    die(i, "connect timed out")
            for i, k in enumerate(conns):
                if k[ALIVE] and k[PEND] is not None and not k[STALL] and now - k[PEND] > timeout:
                    k[STALL] = True
                    c["timeouts"] += 1
                    event(i, f"no answer in {timeout:g} s", slow=True)
            summary()
            next_status = now + min(1.0, timeout / 4)
            if stopping or (stop_file and os.path.exists(stop_file)):
                break
        wait = next_status - now
        if heap:
            wait = min(wait, heap[0][0] - now)
        for key, ev in sel.select(max(wait, 0)):
            i = key.data
            k = conns[i]
            if not k[CONN]:
                in_flight -= 1
                connect_deadline.pop(i, None)
                err = k[SOCK].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    die(i, f"connect: {os.strerror(err)}")
                else:
                    connected(i)
                continue
            try:
                data = k[SOCK].recv(4096)
            except OSError as e:
                die(i, f"recv: {e.strerror or e}")
                continue
            if not data:
                die(i, "closed by the other end")
                continue
            t = time.monotonic()
            buf = k[BUF] + data
            *lines, k[BUF] = buf.split(b"\n")
            for line in lines:
                name = line.split(b" ", 1)[0].decode(errors="replace")
                c["answers"] += 1
                if k[PEND] is not None:
                    max_wait[0] = max(max_wait[0], t - k[PEND])
                    mark[1] = max(mark[1], t - k[PEND])
                    if t - k[PEND] > timeout and not k[STALL]:
                        c["timeouts"] += 1
                        event(i, f"answered after {t - k[PEND]:.1f} s", slow=True)
                k[PEND], k[STALL], k[LAST] = None, False, t
                if k[FIRST] is None:
                    k[FIRST] = name
                elif name != k[FIRST] and not k[MOVED]:
                    k[MOVED] = True
                    c["moved"] += 1
                    event(i, f"moved from {k[FIRST]} to {name}")
    summary(done=True)


if __name__ == "__main__":
    main()
