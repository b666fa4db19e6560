#!/usr/bin/env bash
# `make demo`, inside the guest (and a scenario of `make test`, through
# tests/demo.sh): two directors running drlb and vrrpd with the README's
# example configuration (examples/vrrpd.toml), two nginx real servers and a
# client on one segment. In order: balancing; a real server failing its
# check and leaving; it coming back; a director failover.
set -euo pipefail
cd "$(dirname "$0")"
export DRLB_KO DRLB_TOOL VRRPD
. lib/testlib.sh
. lib/vrrp.sh
. lib/nginx-rs.sh
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
get() { # N: N requests from the client, one line each
	local i
	for ((i = 1; i <= $1; i++)); do
		printf '  request %d -> %s\n' "$i" "$(n client curl -s --max-time 3 "http://$VIP4/" || echo FAILED)"
	done
}
answered_by() { # OUTPUT RS...: the answers came from exactly these real servers
	local line rs got=""; local -A seen=()
	while IFS= read -r line; do rs=${line#*-> }; seen[${rs%% *}]=1; done <<<"$1"
	for rs in rs1 rs2 FAILED; do [ -z "${seen[$rs]:-}" ] || got+=" $rs"; done
	[ "$got" = " ${*:2}" ] || fail "answers came from${got:- nowhere}, expected ${*:2}"
}

say "load drlb.ko"
insmod "$DRLB_KO"
dmesg | grep 'drlb .* loaded' | tail -n1

say "topology: client, dir1, dir2, rs1, rs2 on one segment; the VIP $VIP4 on the real servers' lo"
topo_up -d 2 -r 2 -c
# The client finds the VIP by ARP, on whichever director holds it.
n client ip route del "$VIP4/32"
nginx_rs 1
nginx_rs 2
for h in client dir1 dir2 rs1 rs2; do printf '  %-7s %s\n' "$h" "$(ip -n "$(ns "$h")" -br addr show eth0 | awk '{print $3}')"; done

say "vrrpd on both directors: the README's example (dir2's has priority = 100)"
cp ../examples/vrrpd.toml "$VRRP_DIR/dir1.toml"
sed 's/^priority = 150$/priority = 100/' ../examples/vrrpd.toml >"$VRRP_DIR/dir2.toml"
grep -v '^#' "$VRRP_DIR/dir1.toml" | sed 's/^/  | /'
vrrpd_start dir1 "$VRRP_DIR/dir1.toml"
vrrpd_start dir2 "$VRRP_DIR/dir2.toml"
wait_instance dir1 vi1 MASTER 15
wait_role dir1 1 up 15
wait_role dir1 2 up 15
wait_resolved dir1
for d in dir1 dir2; do echo "  $d\$ vrrpd status"; n "$d" "$VRRPD" status | sed 's/^/    /'; done

say "balancing: six requests from the client to http://$VIP4/"
out=$(get 6)
echo "$out"
answered_by "$out" rs1 rs2
echo "  dir1\$ drlb-tool list"
dt dir1 list | sed 's/^/    /'

say "rs1's nginx stops: three failed checks, and vrrpd drains it (weight 0)"
nginx_rs_stop 1
wait_role dir1 1 down 10
n dir1 "$VRRPD" status | grep '198.51.100.21' | sed 's/^/  /'
out=$(get 4)
echo "$out"
answered_by "$out" rs2

say "rs1's nginx starts again: two passing checks bring it back"
nginx_rs 1
wait_role dir1 1 up 10
n dir1 "$VRRPD" status | grep '198.51.100.21' | sed 's/^/  /'
out=$(get 4)
echo "$out"
[[ $out == *"-> rs1 "* ]] || fail "rs1 took no request after its return"
echo "  (wlc sends new connections to rs1 until its share of connections is even again)"

say "director failover: dir1's vrrpd stops; dir2 takes the VIP, its drlb service goes active"
vrrpd_stop dir1
wait_instance dir2 vi1 MASTER 10
wait_role dir2 1 up 10
printf '  drlb state: dir1 %s, dir2 %s; the service on dir1 %s, on dir2 %s\n' "$(dt dir1 state)" "$(dt dir2 state)" \
	"$(list_json dir1 'd.services[0].state')" "$(list_json dir2 'd.services[0].state')"
out=$(get 4)
echo "$out"
[[ $out != *FAILED* ]] || fail "requests failed after the failover"
echo "  dir2\$ drlb-tool list --stats"
dt dir2 list --stats | sed 's/^/    /'

say "unload drlb"
vrrpd_stop dir2
topo_down
rmmod drlb
dmesg | grep 'drlb' | tail -n 1
