"""Whether what a process did (an strace -f log) stays inside what a systemd
unit's sandbox allows, without systemd: its system calls against
SystemCallFilter= (the sets as `systemd-analyze syscall-filter` lists
them), the socket families it opened against RestrictAddressFamilies=, and
the files it opened for writing against ProtectSystem=strict (only /tmp,
/var/tmp, /dev and the process's own /proc entries stay writable).

    unit-allows.py UNIT TRACE

Prints what it checked and each violation; exits 1 if there is one.
"""
import re
import subprocess
import sys


def unit_values(unit, key):
    vals = []
    with open(unit) as f:
        for line in f:
            line = line.strip()
            if line.startswith(key + "="):
                vals.extend(line[len(key) + 1:].split())
    return vals


def syscall_sets():
    """{"@name": [members...]}: members are syscalls or "@sets"."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                         capture_output=True, text=True).stdout
    sets, cur = {}, None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            cur = line.strip()
            sets[cur] = []
        elif cur and not line.strip().startswith("#"):
            sets[cur].append(line.strip())
    return sets


def expand(names, sets, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            out |= expand(sets.get(n, []), sets, seen)
        else:
            out.add(n)
    return out


WRITABLE = ("/tmp/", "/var/tmp/", "/dev/", "/proc/self/", "/proc/thread-self/")


def main():
    unit, trace = sys.argv[1], sys.argv[2]
    bad = []
    filt = unit_values(unit, "SystemCallFilter")
    families = set(unit_values(unit, "RestrictAddressFamilies"))
    allowed = expand(filt, syscall_sets()) if filt else None
    used, fams, writes = set(), set(), set()
    call = re.compile(r"^\d+\s+([a-z0-9_]+)\((.*)")
    for line in open(trace, errors="replace"):
        m = call.match(line)
        if not m:
            continue
        name, args = m.groups()
        used.add(name)
        if name in ("socket", "socketpair"):
            fm = re.match(r"(AF_[A-Z0-9]+)", args)
            if fm:
                fams.add(fm.group(1))
        if name in ("open", "openat", "creat"):
            pm = re.search(r'"([^"]*)"', args)
            flags = args.split(",")[2 if name == "openat" else 1] if "," in args else ""
            if pm and (name == "creat" or re.search(r"O_WRONLY|O_RDWR|O_CREAT", flags)):
                if not pm.group(1).startswith(WRITABLE):
                    writes.add(pm.group(1))
    print(f"system calls used: {len(used)}; socket families: {' '.join(sorted(fams))}")
    if allowed is not None:
        for s in sorted(used - allowed):
            bad.append(f"system call {s} is outside SystemCallFilter={' '.join(filt)}")
    if families:
        for f in sorted(fams - families):
            bad.append(f"socket family {f} is outside RestrictAddressFamilies=")
    for w in sorted(writes):
        bad.append(f"opened {w} for writing: read-only under ProtectSystem=strict")
    for b in bad:
        print("violation:", b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
