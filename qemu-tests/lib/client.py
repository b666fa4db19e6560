#!/usr/bin/env python3
"""The test client: N requests to ADDR PORT over tcp or udp, each from a new
source port; prints one answer line per request (see rs-server.py), or
"ERROR ..." for a request that got no answer. http makes each request an
HTTP GET of / (nginx's real servers, nginx-rs.sh) and prints the first line
of the body, or "ERROR HTTP <status>".

    client.py tcp|udp|http ADDR PORT N [--hold SECONDS] [--until FILE] [--sport PORT]
              [--src ADDR]
              [--timeout SECONDS] [--pace SECONDS] [--reset 1]
    client.py --serve

--src makes the requests from ADDR, one of the client's addresses (a
client of its own for persistence). --timeout bounds the wait for each
connection or answer (default 3 s: a request meant to fail can fail
sooner). With --sport, requests come from
that source port (for TCP, N=1: the port is then in TIME_WAIT, unless
--reset 1 ends each connection with a RST, which leaves no TIME_WAIT, so
the next request reuses the port). With
--hold, one TCP connection is opened and kept, sending a request every
SECONDS/N seconds N times (a long flow that must stay on one server); with
--until FILE as well, it goes on at that pace until FILE exists, so a test
ends the flow once its checks are done, however slow the machine. Without
--hold, --until FILE likewise goes on making new requests until FILE exists
(a steady stream of new connections); --pace SECONDS waits that long
after each of those requests, so that a stream beside a test does not take
the guest's CPUs.

With --serve, it reads such argument lines (without "client.py") from stdin
and answers each with its lines, then a line ".": under TCG a Python start
costs most of a second, and a test makes dozens of requests."""
import os
import socket
import sys
import time


def run(argv):
    """The answer lines for one command line's arguments."""
    proto, addr, port, n = argv[0], argv[1], int(argv[2]), int(argv[3])
    opts = dict(zip(argv[4::2], argv[5::2]))
    hold = float(opts["--hold"]) if "--hold" in opts else None
    until = opts.get("--until")
    sport = int(opts.get("--sport", 0))
    timeout = float(opts.get("--timeout", 3))
    pace = float(opts.get("--pace", 0))
    reset = opts.get("--reset") == "1"
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    src = (opts.get("--src", "::" if fam == socket.AF_INET6 else "0.0.0.0"), sport)

    def more(sent):
        return sent < n or (until and not os.path.exists(until))

    def tcp_once():
        with socket.create_connection((addr, port), timeout=timeout, source_address=src) as s:
            if reset:  # close with a RST (SO_LINGER on, 0 s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            s.sendall(b"ONCE\n")
            return s.makefile().readline().strip()

    def http_once():
        with socket.create_connection((addr, port), timeout=timeout, source_address=src) as s:
            host = f"[{addr}]" if fam == socket.AF_INET6 else addr
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            f = s.makefile("rb")
            status = f.readline().split()
            while f.readline().strip():
                pass
            body = f.readline().decode().strip()
            if len(status) < 2 or status[1] != b"200":
                return f"ERROR HTTP {b' '.join(status[1:2]).decode()}"
            return body

    def udp_once():
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.bind(src)
            s.sendto(b"hello\n", (addr, port))
            return s.recv(4096).decode().strip()

    if hold is not None:
        with socket.create_connection((addr, port), timeout=timeout, source_address=src) as s:
            f = s.makefile()
            sent = 0
            while more(sent):
                s.sendall(b"AGAIN\n")
                yield f.readline().strip()
                sent += 1
                time.sleep(hold / n)
        return
    sent = 0
    while more(sent):
        sent += 1
        try:
            once = {"tcp": tcp_once, "udp": udp_once, "http": http_once}[proto]
            yield once()
        except OSError as e:
            yield f"ERROR {e}"
        if pace:
            time.sleep(pace)


if sys.argv[1:] == ["--serve"]:
    for request in sys.stdin:
        try:
            for answer in run(request.split()):
                print(answer)
        except (OSError, ValueError, IndexError) as e:
            print(f"ERROR {e}")
        print(".", flush=True)
else:
    for answer in run(sys.argv[1:]):
        print(answer, flush=True)
