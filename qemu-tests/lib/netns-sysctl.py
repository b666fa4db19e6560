#!/usr/bin/env python3
"""Sets sysctls in several network namespaces from one process (under TCG a
process start costs more than everything it does here).

    netns-sysctl.py NS key=value ... [-- NS key=value ...]

NS is a name under /run/netns. Each key is a dotted sysctl name, written
after entering NS, so net.* keys land in that namespace."""
import ctypes
import os
import sys

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
groups, cur = [], []
for a in sys.argv[1:]:
    if a == "--":
        groups.append(cur)
        cur = []
    else:
        cur.append(a)
groups.append(cur)
for ns, *settings in (g for g in groups if g):
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit(f"netns-sysctl: entering {ns}: {os.strerror(ctypes.get_errno())}")
    os.close(fd)
    for kv in settings:
        key, value = kv.split("=", 1)
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
