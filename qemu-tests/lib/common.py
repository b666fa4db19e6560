"""What the scenarios' Python helpers share: entering a network namespace,
a netlink attribute, and argument lists split into groups at "--" (one
process does several namespaces' or requests' work: under TCG a Python
start costs about a second)."""
import ctypes
import os
import struct

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter(path):
    """Moves this process into the network namespace at path; raises
    OSError if it cannot."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def nla(kind, payload):
    """A netlink attribute: header, payload, padding to 4 bytes."""
    return struct.pack("HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def groups(args):
    """args split at each "--", empty groups left out."""
    out, cur = [], []
    for arg in args:
        if arg == "--":
            out.append(cur)
            cur = []
        else:
            cur.append(arg)
    out.append(cur)
    return [g for g in out if g]
