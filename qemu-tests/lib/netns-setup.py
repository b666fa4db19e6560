#!/usr/bin/env python3
"""Configures several network namespaces from one process: under TCG a
process start costs more than everything it does here, and one `ip` per
namespace was most of a topology's cost.

    netns-setup.py NS LINE... [-- NS LINE...]...

NS is a name under /run/netns. Each LINE is one of a few ip(8) and
sysctl(8) commands, done in NS in order:

    sysctl KEY=VALUE                    (net.* keys are NS's own)
    link set DEV up
    addr add ADDR/LEN dev DEV [nodad]
    route add DST/LEN via GATEWAY

The first failure stops it with a message naming the namespace and the
line, and exit status 1."""
import ipaddress
import os
import socket
import struct
import sys

import common
from common import nla

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFF_UP = 0x1
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD = 0x02
RTA_DST, RTA_GATEWAY = 1, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1


class SetupError(Exception):
    pass


def enter(ns):
    try:
        common.enter(f"/run/netns/{ns}")
    except OSError as e:
        raise SetupError(f"entering it: {e.strerror}") from None


class Rtnl:
    """A NETLINK_ROUTE socket in the namespace current when it was made."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def request(self, kind, flags, body):
        self.seq += 1
        msg = struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0) + body
        self.sock.send(msg)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, typ, _, seq, _ = struct.unpack_from("IHHII", data, off)
                if typ == NLMSG_ERROR and seq == self.seq:
                    (err,) = struct.unpack_from("i", data, off + 16)
                    if err:
                        raise SetupError(os.strerror(-err))
                    return
                off += (length + 3) & ~3

    def close(self):
        self.sock.close()


def index(dev):
    try:
        return socket.if_nametoindex(dev)
    except OSError:
        raise SetupError(f"no device {dev}") from None


def run(rtnl, words):
    match words:
        case ["sysctl", setting] if "=" in setting:
            key, value = setting.split("=", 1)
            try:
                with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                    f.write(value)
            except OSError as e:
                raise SetupError(e.strerror) from None
        case ["link", "set", dev, "up"]:
            body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, index(dev), IFF_UP, IFF_UP)
            rtnl.request(RTM_NEWLINK, 0, body)
        case ["addr", "add", cidr, "dev", dev, *rest] if rest in ([], ["nodad"]):
            net = ipaddress.ip_interface(cidr)
            family = socket.AF_INET if net.version == 4 else socket.AF_INET6
            raw = net.ip.packed
            flags = IFA_F_NODAD if rest else 0
            body = struct.pack("BBBBI", family, net.network.prefixlen, 0, 0, index(dev))
            body += nla(IFA_LOCAL, raw) + nla(IFA_ADDRESS, raw) + nla(IFA_FLAGS, struct.pack("I", flags))
            rtnl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        case ["route", "add", dst, "via", gateway]:
            net = ipaddress.ip_network(dst)
            gw = ipaddress.ip_address(gateway)
            if net.version != gw.version:
                raise SetupError("destination and gateway of different families")
            family = socket.AF_INET if net.version == 4 else socket.AF_INET6
            body = struct.pack(
                "BBBBBBBBI", family, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0
            )
            body += nla(RTA_DST, net.network_address.packed) + nla(RTA_GATEWAY, gw.packed)
            rtnl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
        case _:
            raise SetupError("not a line this helper knows")


def main():
    for ns, *lines in common.groups(sys.argv[1:]):
        line = None
        try:
            enter(ns)
            rtnl = Rtnl()
            for line in lines:
                if line.strip():
                    run(rtnl, line.split())
            rtnl.close()
        except (SetupError, ValueError) as e:
            where = f" '{line}'" if line else ""
            sys.exit(f"netns-setup: {ns}{where}: {e}")


if __name__ == "__main__":
    main()
