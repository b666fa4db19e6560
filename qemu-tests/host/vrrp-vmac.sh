# use_vmac: vrrpd against vrrpd, 1 s adverts, on the host in namespaces:
#
#   client ---+--- br0 ---+--- dir1 (prio 150) ---+--- dir2 (prio 100)
#
# The client reaches the VIP on the segment (no route through dir1): its
# neighbour entry for the VIP must be the virtual MAC 00:00:5e:00:01:33 and
# stay so across a failover (dir1 dies: kill -9 and its link down) and a
# preemption back. The master's macvlan vrrp.51 holds the VIP and is up;
# the backup's is down without it; adverts and GARPs leave from the
# virtual MAC; the refresh GARPs are counted; SIGTERM removes the macvlan.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
VMAC=00:00:5e:00:01:33
n client ip route del "$VIP4/32"
conf() { VRRP_INTERVAL_MS=1000 vrrp_conf "$1" "$2" 'use_vmac = true' 'garp_master_delay_ms = 1000' \
	'garp_master_repeat = 2' 'garp_master_refresh_ms = 2000'; }
conf dir1 150 >"$VRRP_DIR/d1.toml"
conf dir2 100 >"$VRRP_DIR/d2.toml"
"$VRRPD" check-config "$VRRP_DIR/d1.toml" || fail "check-config refuses use_vmac"
# (a TCP listener on every address of each director)
for h in dir1 dir2; do n "$h" socat -T 2 TCP-LISTEN:8080,fork,reuseaddr SYSTEM:"echo hello-$h" & done
vmac_of() { ip -n "drlb-$TOPO_TAG-$1" -br link show vrrp.51 2>/dev/null; }
vmac_vip() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show vrrp.51 2>/dev/null) == *" $VIP4/32"* ]]; }
client_mac() { n client ip neigh show "$VIP4" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
reach() { # the VIP answers ping and TCP from the client
	n client ping -c1 -W2 "$VIP4" >/dev/null || fail "$1: the client cannot ping the VIP"
	n client timeout 5 bash -c "exec 3<>/dev/tcp/$VIP4/8080" || fail "$1: no TCP connection to the VIP"
	log "ok: $1: ping and TCP to the VIP"
}

log "election with use_vmac: the master's macvlan holds the VIP, the backup's is down"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 MASTER 10
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 BACKUP 10
l=$(vmac_of dir1); [[ $l == *" UP "*"$VMAC"* || $l == *"UP"*"$VMAC"* ]] || fail "dir1's vrrp.51: $l"
log "ok: dir1: $l"
l=$(vmac_of dir2); [[ $l == *DOWN*"$VMAC"* ]] || fail "dir2's vrrp.51: $l"
log "ok: dir2: $l"
vmac_vip dir1 || fail "dir1's macvlan lacks the VIP"
! holds_vip dir1 || fail "dir1's eth0 holds the VIP"
! vmac_vip dir2 || fail "dir2's macvlan holds the VIP"
expect_eq "$(n dir1 sysctl -n net.ipv4.conf.eth0.arp_ignore net.ipv4.conf.eth0.arp_filter net.ipv4.conf.eth0.arp_announce | tr '\n' ' ')" "1 1 2 " \
	"dir1's eth0 arp_ignore, arp_filter, arp_announce"
expect_eq "$(vrrp_status dir1 | jq -r '.instances[0].vmac | "\(.name) \(.mac) \(.up)"')" "vrrp.51 $VMAC true" "dir1's status"

log "the client's neighbour entry for the VIP is the virtual MAC"
reach "dir1 master"

expect_eq "$(client_mac)" "$VMAC" "the client's MAC for the VIP"

log "adverts leave from the virtual MAC"
src=$(n client timeout 5 tcpdump -nei eth0 -c 2 'ip proto 112' 2>/dev/null | awk '{print $2}' | sort -u)
expect_eq "$src" "$VMAC" "adverts' source MAC"

log "dir1 dies (kill -9, its link down); dir2 takes over with the same MAC"
kill -9 "${VRRPD_PID[dir1]}"
wait "${VRRPD_PID[dir1]}" 2>/dev/null || true
n dir1 ip link set eth0 down
wait_state dir2 MASTER 10
vmac_vip dir2 || fail "dir2's macvlan lacks the VIP"
reach "dir2 master"
expect_eq "$(client_mac)" "$VMAC" "the client's MAC for the VIP after the failover"
answer=$(n client timeout 5 socat -T 2 - TCP:"$VIP4":8080 </dev/null)
expect_eq "$answer" "hello-dir2" "the answer comes from"

log "GARPs while master: 2 at once, 2 after 1 s, then one per 2 s (refresh)"
sleep 2.5
n client timeout 9 tcpdump -nei eth0 "arp[6:2] = 1 and ether src $VMAC" >"$VRRP_DIR/garp.txt" 2>/dev/null || true
sed 's/^/    /' "$VRRP_DIR/garp.txt"
garps=$(grep -c "who-has $VIP4 .*tell $VIP4" "$VRRP_DIR/garp.txt" || true)
# 9 s at one per 2 s: 4 or 5, by the phase
[ "$garps" -ge 4 ] && [ "$garps" -le 5 ] || fail "$garps refresh GARPs in 9 s, not 4 or 5"
log "ok: $garps refresh GARPs in 9 s"

log "dir1 comes back: its leftover macvlan is replaced; it preempts, the MAC stays"
n dir1 ip link set eth0 up
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 10
grep -q "has no MAC\|exists, and it is not" "$VRRP_DIR/dir1.log" && fail "dir1 did not take its leftover macvlan"
sleep 1
! vmac_vip dir2 || fail "dir2's macvlan kept the VIP"
[[ $(vmac_of dir2) == *DOWN* ]] || fail "dir2's macvlan is up as backup"
reach "dir1 master again"
expect_eq "$(client_mac)" "$VMAC" "the client's MAC for the VIP after the preemption"

log "SIGTERM removes the macvlans and restores eth0's ARP settings"
vrrpd_stop dir1
vrrpd_stop dir2
for h in dir1 dir2; do
	[ -z "$(vmac_of $h)" ] || fail "$h's vrrp.51 is still there"
done
expect_eq "$(n dir2 sysctl -n net.ipv4.conf.eth0.arp_ignore net.ipv4.conf.eth0.arp_filter net.ipv4.conf.eth0.arp_announce | tr '\n' ' ')" "0 0 0 " \
	"dir2's eth0 arp_ignore, arp_filter, arp_announce"
log "ok: vrrp.51 gone from both"
