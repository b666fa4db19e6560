# use_vmac against Debian's keepalived (its use_vmac), VRRPv3, 1 s adverts:
#
#   client ---+--- br0 ---+--- dir1: keepalived (150) ---+--- dir2: vrrpd (100)
#
# The client reaches the VIP on the segment; its neighbour entry stays the
# virtual MAC 00:00:5e:00:01:33 while the VIP moves from keepalived to
# vrrpd (keepalived stops) and back (keepalived starts and preempts).
# keepalived 2.2.7 sets arp_ignore and arp_filter on its VMAC's interface
# but not arp_announce: its ARP request for the client then names the VIP
# from eth0's MAC, and the client learns that MAC for the VIP (seen here).
# vrrpd sets arp_announce=2 itself; dir1's is set by hand, as an operator
# of keepalived would.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'ka_stop; vrrpd_stop dir2; tail -20 "$VRRP_DIR/ka.log"; topo_down' EXIT
VMAC=00:00:5e:00:01:33
n client ip route del "$VIP4/32"
VRRP_INTERVAL_MS=1000 vrrp_conf dir2 100 'use_vmac = true' >"$VRRP_DIR/d2.toml"
client_mac() { n client ip neigh show "$VIP4" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
vmac_vip() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show vrrp.51 2>/dev/null) == *" $VIP4/32"* ]]; }
reach() {
	local end=$((SECONDS + 5))
	until n client ping -c1 -W1 "$VIP4" >/dev/null; do
		((SECONDS < end)) || fail "$1: the client cannot ping the VIP"
	done
	expect_eq "$(client_mac)" "$VMAC" "$1: the client's MAC for the VIP"
}

n dir1 sysctl -qw net.ipv4.conf.eth0.arp_announce=2
log "keepalived (150, use_vmac) is master, vrrpd (100, use_vmac) backs it up"
ka_start dir1 3 1 "$VIP4/32" "use_vmac"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
end=$((SECONDS + 15)); until vmac_vip dir1; do ((SECONDS < end)) || fail "keepalived's vrrp.51 lacks the VIP"; sleep 0.2; done
wait_state dir2 BACKUP 10
sleep 3
expect_eq "$(vrrp_state dir2)" BACKUP "vrrpd under keepalived"
expect_eq "$(vrrp_status dir2 | jq -c '.instances[0].bad_packets')" "{}" "packets vrrpd discarded"
reach "keepalived master"

log "keepalived stops; vrrpd takes over with the same MAC"
ka_stop
wait_state dir2 MASTER 10
vmac_vip dir2 || fail "vrrpd's vrrp.51 lacks the VIP"
reach "vrrpd master"

log "keepalived starts again and preempts; the MAC stays"
ka_start dir1 3 1 "$VIP4/32" "use_vmac"
wait_state dir2 BACKUP 15
end=$((SECONDS + 10)); until vmac_vip dir1; do ((SECONDS < end)) || fail "keepalived's vrrp.51 lacks the VIP"; sleep 0.2; done
! vmac_vip dir2 || fail "vrrpd kept the VIP"
reach "keepalived master again"
ka_stop
vrrpd_stop dir2
