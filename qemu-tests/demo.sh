#!/usr/bin/env bash
# `make demo`, inside the guest (and a scenario of `make test`, through
# tests/demo.sh): two directors running drlb and vrrpd with the README's
# example configuration (examples/vrrpd.toml), two nginx real servers and a
# client on one segment. In order: balancing; a real server failing its
# check and leaving; it coming back; a director failover under held
# connections, which connection sync keeps (none lost, counted).
set -euo pipefail
cd "$(dirname "$0")"
export DRLB_KO DRLB_TOOL VRRPD
. lib/testlib.sh
. lib/vrrp.sh
. lib/nginx-rs.sh
. lib/hold.sh
# The held connections of the last part, a line a second each (under TCG
# the guest answers at most 150-200 such lines a second in all); an answer
# later than HELD_TIMEOUT counts as a timeout (VRRP's takeover at the
# example's 1 s adverts takes over 3 s, and TCP retransmits after 0.2,
# 0.6, 1.4, 3.0, 6.2, 12.6 s).
HELD=50 HELD_TIMEOUT=30 HOLD_INTERVAL=1
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
# (nginx answers on :80; rs-server.py on :9000 answers the held
# connections' lines, each answer naming its real server)
topo_up -d 2 -r 2 -p 9000
# The client finds the VIP by ARP, on whichever director holds it.
n client ip route del "$VIP4/32"
nginx_rs 1
nginx_rs 2
for h in client dir1 dir2 rs1 rs2; do printf '  %-7s %s\n' "$h" "$(ip -n "$(ns "$h")" -br addr show eth0 | awk '{print $3}')"; done

say "vrrpd on both directors: the README's example (dir2's has priority = 100), with a second service and connection sync"
# A second service, rr, for the held connections at the end, and [sync]:
# each director sends its connections to the other.
extra() { # PEER
	cat <<EOF

[[virtual_server]]
protocol = "tcp"
address = "$VIP4:9000"
scheduler = "rr"
instance = "vi1"
check = { type = "tcp", interval_ms = 1000 }
real = [{ address = "$(rs4 1)" }, { address = "$(rs4 2)" }]

[sync]
interface = "eth0"
peers = ["$1"]
key = "demo-secret"
EOF
}
{ cat ../examples/vrrpd.toml; extra "$(dir4 2)"; } >"$VRRP_DIR/dir1.toml"
{ sed 's/^priority = 150$/priority = 100/' ../examples/vrrpd.toml; extra "$(dir4 1)"; } >"$VRRP_DIR/dir2.toml"
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
n dir1 "$VRRPD" status | grep 'check 198.51.100.21:80' | sed 's/^/  /'
out=$(get 4)
echo "$out"
answered_by "$out" rs2

say "rs1's nginx starts again: two passing checks bring it back"
nginx_rs 1
wait_role dir1 1 up 10
n dir1 "$VRRPD" status | grep 'check 198.51.100.21:80' | sed 's/^/  /'
out=$(get 4)
echo "$out"
[[ $out == *"-> rs1 "* ]] || fail "rs1 took no request after its return"
echo "  (wlc sends new connections to rs1 until its share of connections is even again)"

say "held connections: $HELD TCP connections to $VIP4:9000 (rr), each sending a line every $HOLD_INTERVAL s and reading the answer"
hold_start "$HELD" 9000 "$HELD_TIMEOUT"
echo "  client: $(hold_sum)"
# dir2 (standby) has them too, each on the same real server, by sync.
svc9000="tcp $VIP4:9000"
conns_of() { q "sorted('%s:%s>%s' % (c.client, c.client_port, c.real) for c in d if c.state == 'ESTABLISHED')" dt "$1" conns --service $svc9000 --json; }
end=$((SECONDS + 30))
until [ "$(conns_of dir1)" = "$(conns_of dir2)" ]; do
	((SECONDS < end)) || fail "dir2's table never matched dir1's"
	snooze 1
done
printf '  dir1 %s, dir2 %s established connections to :9000, on the same real servers\n' \
	"$(q 'len(d)' dt dir1 conns --service $svc9000 --json)" "$(q 'len(d)' dt dir2 conns --service $svc9000 --json)"
echo "  dir2\$ drlb-tool sync"
dt dir2 sync | sed 's/^/    /'

say "director failover: dir1 crashes (kill -9 of its vrrpd, its link down); dir2 takes the VIP"
a0=$(hold_q d.answers)
hold_window
kill -9 "${VRRPD_PID[dir1]}"
wait "${VRRPD_PID[dir1]}" 2>/dev/null || true
n dir1 ip link set eth0 down
wait_instance dir2 vi1 MASTER 10
printf '  dir2: vi1 %s; its services %s\n' "$(instance_state dir2 vi1)" "$(list_json dir2 '" and ".join(s.state for s in d.services)')"
# (until every held connection has answered through dir2, at most 30 s)
hold_through 30
echo "  client: $(hold_sum); $(($(hold_q d.answers) - a0)) answers since the crash"
read -r alive resets timeouts moved wait_ms < <(hold_q '"%d %d %d %d %d" % (d.alive, d.window_resets, d.window_timeouts, d.window_moved, d.window_max_wait_ms)')
counts="$alive of $HELD alive, $resets reset, $timeouts without an answer for ${HELD_TIMEOUT} s, $moved moved to another real server"
if [ "$alive" -eq "$HELD" ] && [ "$(hold_q d.since_mark)" -eq "$HELD" ] && [ $((resets + timeouts + moved)) -eq 0 ]; then
	printf '  \033[1mNone of the %d held connections was lost: %s (the longest wait for an answer, across the failover: %d ms)\033[0m\n' "$HELD" "$counts" "$wait_ms"
else
	fail "held connections lost or moved in the failover: $counts"
fi
hold_stop
out=$(get 4)
echo "$out"
[[ $out != *FAILED* ]] || fail "requests failed after the failover"
echo "  dir2\$ drlb-tool list --stats"
dt dir2 list --stats | sed 's/^/    /'

say "unload drlb"
vrrpd_stop dir2
vrrpd_stop dir1
topo_down
rmmod drlb
dmesg | grep 'drlb' | tail -n 1
