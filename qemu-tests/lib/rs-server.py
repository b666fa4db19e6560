#!/usr/bin/env python3
"""A real server for the tests and the demo: on PORT (TCP and UDP, IPv4 and
IPv6) it answers every connection or datagram with one line,

    NAME client=<peer ip> local=<local ip>

so a test sees which real server answered and that the packet arrived
unmodified (client's own address as source, the VIP as destination). A TCP
request that starts with "GET " gets the line as an HTTP response.

    rs-server.py NAME PORT [PORT...]
"""
import selectors
import socket
import sys

IP_PKTINFO = 8  # <linux/in.h>; not exported by Python's socket module
name, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
sel = selectors.DefaultSelector()
for port in ports:
    fam = socket.AF_INET6
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    t.bind(("::", port))
    t.listen(128)
    t.setblocking(False)
    sel.register(t, selectors.EVENT_READ, "tcp")
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    u.bind(("::", port))
    sel.register(u, selectors.EVENT_READ, "udp")


def plain(a):
    return a[7:] if a.startswith("::ffff:") else a


def line(peer, local):
    return f"{name} client={plain(peer)} local={plain(local)}\n".encode()


conns = {}
print(f"{name} listening on {ports}", flush=True)
while True:
    for key, _ in sel.select():
        kind = key.data
        s = key.fileobj
        if kind == "tcp":
            c, peer = s.accept()
            c.setblocking(False)
            conns[c] = line(peer[0], c.getsockname()[0])
            sel.register(c, selectors.EVENT_READ, "conn")
        elif kind == "conn":
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                reply = conns[s]
                if data.startswith(b"GET "):
                    reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
                try:
                    s.sendall(reply)
                except OSError:
                    pass
                if data.startswith(b"GET ") or data.startswith(b"ONCE"):
                    data = b""
            if not data:
                sel.unregister(s)
                conns.pop(s, None)
                s.close()
        else:
            data, anc, _, peer = s.recvmsg(65536, 256)
            local = "?"
            for level, typ, val in anc:
                if level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
                    local = socket.inet_ntop(socket.AF_INET6, val[:16])
                elif level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                    local = socket.inet_ntop(socket.AF_INET, val[8:12])  # ipi_addr
            s.sendto(line(peer[0], local), peer)
