#!/usr/bin/env bash
# `make demo`, inside the guest: a client, a director running drlb and two
# nginx real servers on one segment; requests to the VIP are balanced, and
# the replies go straight back to the client.
set -euo pipefail
cd "$(dirname "$0")"
export DRLB_KO DRLB_TOOL VRRPD
. lib/testlib.sh
. lib/nginx-rs.sh
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

say "load drlb.ko"
insmod "$DRLB_KO"
dmesg | grep 'drlb .* loaded' | tail -n1

say "topology: client, dir1, rs1, rs2 on one segment; VIP $VIP4 on the real servers' lo"
topo_up -d 1 -r 2
for h in client dir1 rs1 rs2; do printf '  %-7s %s\n' "$h" "$(ip -n "$(ns "$h")" -br addr show eth0 | awk '{print $3}')"; done
printf '  client route to the VIP: %s\n' "$(n client ip route get "$VIP4" | head -n1)"
nginx_rs 1
nginx_rs 2

say "configure drlb in dir1"
show() { echo "  dir1\$ drlb-tool $*"; dt dir1 "$@"; }
show service add tcp "$VIP4:80" --scheduler rr
show real add tcp "$VIP4:80" "$(rs4 1)"
show real add tcp "$VIP4:80" "$(rs4 2)"
wait_resolved dir1

say "six requests from the client to http://$VIP4/"
for i in 1 2 3 4 5 6; do
	printf '  request %d -> %s' "$i" "$(n client curl -s --max-time 3 "http://$VIP4/")"
	echo
done

say "drlb-tool list (in dir1)"
dt dir1 list

say "replies bypass the director"
hook0=$(status_field dir1 "hook packets")
fwd0=$(dt dir1 list --json | jq '.services[0].stats.packets')
for i in 1 2 3 4; do n client curl -s --max-time 3 -o /dev/null "http://$VIP4/"; done
hook1=$(status_field dir1 "hook packets")
fwd1=$(dt dir1 list --json | jq '.services[0].stats.packets')
echo "  4 more requests: dir1 forwarded $((fwd1 - fwd0)) client packets; its hooks saw $((hook1 - hook0)) packets in all,"
echo "  so none of the real servers' replies passed through dir1: they went straight to the client."

say "unload drlb"
topo_down
rmmod drlb
dmesg | grep 'drlb' | tail -n 1
