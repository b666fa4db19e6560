"""A stand-in for systemd's notification socket (sd_notify(3)).

    notify-listen.py SOCKET OUT [LOG MARKER]

Binds a datagram socket at SOCKET (a path, or @name for an abstract one, as
NOTIFY_SOCKET names it), prints "listening" on stdout, then appends one JSON
line per datagram to OUT: {"fields": {KEY: value...}, "marker": bool}, where
"marker" says whether the file LOG held the text MARKER when the datagram
arrived (what the daemon had logged by then: READY=1 must come after its
"running ..." line).
"""
import json
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    log, marker = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if path.startswith("@"):
        s.bind("\0" + path[1:])
    else:
        if os.path.exists(path):
            os.unlink(path)
        s.bind(path)
    print("listening", flush=True)
    with open(out, "a") as f:
        while True:
            data = s.recv(65536).decode()
            fields = {}
            for line in data.split("\n"):
                if line:
                    k, _, v = line.partition("=")
                    fields[k] = v
            seen = False
            if log and os.path.exists(log):
                with open(log) as lf:
                    seen = marker in lf.read()
            f.write(json.dumps({"fields": fields, "marker": seen}) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
