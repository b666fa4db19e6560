#!/usr/bin/env python3
"""Send raw requests to the drlb generic-netlink family, bypassing
drlb-tool's argument checks, to test the module's own validation.

    nlraw.py CMD [TYPE:KIND:VALUE ...] [-- CMD [TYPE:KIND:VALUE ...] ...]

KIND is u8, u16, u32, u64, str or hex. Prints one line per request, "ok" or
"errno N: extack message", and exits 0 either way (exit 2 on usage errors).
Several requests share one process: under TCG a Python start costs about a
second."""
import socket
import struct
import sys

from common import groups, nla

NETLINK_GENERIC, SOL_NETLINK, NETLINK_EXT_ACK = 16, 270, 11
NLMSG_ERROR, NLM_F_REQUEST, NLM_F_ACK, NLM_F_ACK_TLVS = 2, 1, 4, 0x200
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 16, 3, 1, 2


def attrs(buf):
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("HH", buf, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = buf[off + 4 : off + ln]
        off += (ln + 3) & ~3
    return out


def request(s, family, cmd, payload, seq):
    body = struct.pack("BBH", cmd, 1, 0) + payload
    s.send(struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    replies = []
    while True:
        data = s.recv(65536)
        off = 0
        while off < len(data):
            ln, typ, flags, rseq, _ = struct.unpack_from("IHHII", data, off)
            msg = data[off + 16 : off + ln]
            off += (ln + 3) & ~3
            if typ == NLMSG_ERROR:
                (err,) = struct.unpack_from("i", msg)
                text = ""
                if flags & NLM_F_ACK_TLVS:
                    olen = struct.unpack_from("I", msg, 4)[0] if not flags & 0x100 else 16
                    tl = attrs(msg[4 + ((olen + 3) & ~3) :])
                    text = tl.get(1, b"").rstrip(b"\0").decode()
                return err, text, replies
            replies.append(msg[4:])


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.bind((0, 0))
    err, text, rep = request(s, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"drlb\0"), 1)
    if err:
        print(f"errno {-err}: drlb family not found")
        return
    family = struct.unpack("H", attrs(rep[0])[CTRL_ATTR_FAMILY_ID][:2])[0]
    for seq, (cmd, *specs) in enumerate(groups(sys.argv[1:]), start=2):
        payload = b""
        for spec in specs:
            t, kind, value = spec.split(":", 2)
            packed = {
                "u8": lambda v: struct.pack("B", int(v)),
                "u16": lambda v: struct.pack("H", int(v)),
                "u32": lambda v: struct.pack("I", int(v)),
                "u64": lambda v: struct.pack("Q", int(v)),
                "str": lambda v: v.encode() + b"\0",
                "hex": bytes.fromhex,
            }[kind](value)
            payload += nla(int(t), packed)
        err, text, _ = request(s, family, int(cmd), payload, seq)
        print("ok" if err == 0 else f"errno {-err}: {text}".rstrip(": "))


if __name__ == "__main__":
    main()
