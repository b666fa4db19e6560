#!/usr/bin/env bash
# `make demo`, inside the guest: build the topology, load drlb and show what
# it sees, namespace by namespace.
set -euo pipefail
cd "$(dirname "$0")"
export DRLB_KO DRLB_TOOL VRRPD
. lib/testlib.sh
trap topo_down EXIT
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

say "load drlb.ko"
insmod "$DRLB_KO"
dmesg | grep drlb | tail -n1

say "topology: client, dir1, rs1, rs2 on one segment; VIP $VIP4 on the real servers' lo"
topo_up -d 1 -r 2
for h in client dir1 rs1 rs2; do printf '  %-7s %s\n' "$h" "$(n "$h" ip -br addr show eth0 | awk '{print $3}')"; done

say "drlb-tool status in dir1, before traffic"
dt dir1 status
say "the client pings dir1 (IPv4 x20, IPv6 x10)"
n client ping -q -c 20 -i 0.05 "$(dir4 1)" | tail -n2
n client ping -q -c 10 -i 0.05 "$(dir6 1)" | tail -n2
say "drlb-tool status in dir1: its hooks saw them"
dt dir1 status
say "drlb-tool status in rs2: its own namespace, its own count"
dt rs2 status
say "switch dir1 to standby and back"
dt dir1 state standby; echo "dir1: $(dt dir1 state)"
dt dir1 state active; echo "dir1: $(dt dir1 state)"
say "unload drlb"
topo_down
rmmod drlb
dmesg | tail -n 3
