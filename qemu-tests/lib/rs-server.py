#!/usr/bin/env python3
"""The real servers for the tests: on each PORT (TCP and UDP, IPv4 and IPv6)
every real server answers each connection or datagram with one line,

    NAME client=<peer ip> local=<local ip>

so a test sees which real server answered and that the packet arrived
unmodified (client's own address as source, the VIP as destination). A TCP
request that starts with "GET " gets the line as an HTTP response; one that
is "BIG N" gets the line and N more bytes, then the connection closes (a
reply larger than one packet, for path MTU tests).

    rs-server.py PORT[,PORT...] NAME[=NETNS]...

One process serves them all: NAME=NETNS makes NAME's sockets in the network
namespace at path NETNS (a socket keeps the namespace it was made in), a bare
NAME in the current one. Under TCG a Python start costs most of a second, so
one process instead of one per real server matters. It prints "listening"
once every socket is bound: a test waits for that line instead of polling.
"""
import selectors
import socket
import sys

from common import enter

IP_PKTINFO = 8  # <linux/in.h>; not exported by Python's socket module
ports = [int(p) for p in sys.argv[1].split(",")]
sel = selectors.DefaultSelector()


def listen(name):
    for port in ports:
        t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        t.bind(("::", port))
        t.listen(128)
        t.setblocking(False)
        sel.register(t, selectors.EVENT_READ, ("tcp", name))
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        u.bind(("::", port))
        sel.register(u, selectors.EVENT_READ, ("udp", name))


def plain(a):
    return a[7:] if a.startswith("::ffff:") else a


def line(name, peer, local):
    return f"{name} client={plain(peer)} local={plain(local)}\n".encode()


for spec in sys.argv[2:]:
    name, _, netns = spec.partition("=")
    if netns:
        enter(netns)
    listen(name)
conns = {}
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        kind, name = key.data
        s = key.fileobj
        if kind == "tcp":
            c, peer = s.accept()
            c.setblocking(False)
            conns[c] = line(name, peer[0], c.getsockname()[0])
            sel.register(c, selectors.EVENT_READ, ("conn", name))
        elif kind == "conn":
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                reply = conns[s]
                if data.startswith(b"GET "):
                    reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
                elif data.startswith(b"BIG "):
                    reply += b"x" * int(data.split()[1])
                    s.setblocking(True)
                try:
                    s.sendall(reply)
                except OSError:
                    pass
                if data.startswith((b"GET ", b"ONCE", b"BIG ")):
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
            s.sendto(line(name, peer[0], local), peer)
