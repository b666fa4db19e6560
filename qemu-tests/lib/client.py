#!/usr/bin/env python3
"""The test client: N requests to ADDR PORT over tcp or udp, each from a new
source port; prints one answer line per request (see rs-server.py), or
"ERROR ..." for a request that got no answer.

    client.py tcp|udp ADDR PORT N [--hold SECONDS] [--sport PORT]

With --sport, requests come from that source port (for TCP, N=1: the port
is then in TIME_WAIT). With --hold, one TCP connection is opened and kept, sending a request every
SECONDS/N seconds N times (a long flow that must stay on one server)."""
import socket
import sys
import time

proto, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
opts = dict(zip(sys.argv[5::2], sys.argv[6::2]))
hold = float(opts["--hold"]) if "--hold" in opts else None
sport = int(opts.get("--sport", 0))
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
src = ("::" if fam == socket.AF_INET6 else "0.0.0.0", sport)


def tcp_once():
    with socket.create_connection((addr, port), timeout=3, source_address=src) as s:
        s.sendall(b"ONCE\n")
        return s.makefile().readline().strip()


def udp_once():
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.bind(src)
        s.sendto(b"hello\n", (addr, port))
        return s.recv(4096).decode().strip()


if hold is not None:
    with socket.create_connection((addr, port), timeout=3, source_address=src) as s:
        f = s.makefile()
        for _ in range(n):
            s.sendall(b"AGAIN\n")
            print(f.readline().strip(), flush=True)
            time.sleep(hold / n)
    sys.exit(0)

for _ in range(n):
    try:
        print(tcp_once() if proto == "tcp" else udp_once(), flush=True)
    except OSError as e:
        print(f"ERROR {e}", flush=True)
