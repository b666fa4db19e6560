# VRRPv3 over IPv6, on the host in namespaces (100 ms adverts), VIP
# 2001:db8:1::10: vrrpd against vrrpd (election, failover, graceful
# release), then keepalived preempting vrrpd and releasing to it.
#
#   dir1 ---+--- br0 ---+--- dir2          adverts from link-local to ff02::12
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'ka_stop; vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
conf6() { vrrp_conf "$1" "$2" | sed "s|\"$VIP4/32\"|\"$VIP6/128\"|"; }
holds_vip6() { ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0 | grep -q "$VIP6/128"; }
conf6 dir1 150 >"$VRRP_DIR/d1.toml"
conf6 dir2 100 >"$VRRP_DIR/d2.toml"

log "election over IPv6"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
holds_vip6 dir1 || fail "dir1 lacks the IPv6 VIP"
ll1=$(ip -n "drlb-$TOPO_TAG-dir1" -6 -br addr show eth0 scope link | awk '{print $3}' | cut -d/ -f1)
expect_eq "$(vrrp_status dir2 | jq -r '.instances[0].master')" "$ll1" "dir2's master: dir1's link-local address"
dump=$(ip netns exec "drlb-$TOPO_TAG-dir2" timeout 10 tshark -q -i eth0 -f "ip6 proto 112" -c 3 -V 2>/dev/null)
expect_eq "$(grep -c 'Checksum Status: Good' <<<"$dump")" 3 "adverts on the wire with a good checksum (tshark)"
expect_eq "$(grep -c 'Hop Limit: 255' <<<"$dump")" 3 "with hop limit 255"
expect_eq "$(grep -c 'Destination Address: ff02::12' <<<"$dump")" 3 "to ff02::12"

log "kill -9 of the master: dir2 takes over, and the client learns it by unsolicited NA"
n client ip -6 route del "$VIP6/128" # (reach the VIP on the segment)
n client ping -6 -c1 -W2 "$VIP6" >/dev/null
expect_eq "$(n client ip -6 neigh show "$VIP6" | awk '{print $5}')" "$(mac_of dir1)" "the client's neighbour entry for the VIP"
t0=$(now_ms)
kill -9 "${VRRPD_PID[dir1]}"
until holds_vip6 dir2; do sleep 0.01; [ $(($(now_ms) - t0)) -lt 3000 ] || fail "no failover in 3 s"; done
expect_le $(($(now_ms) - t0)) 500 "failover time in ms"
ip -n "drlb-$TOPO_TAG-dir1" addr del "$VIP6/128" dev eth0
sleep 0.3
expect_eq "$(n client ip -6 neigh show "$VIP6" | awk '{print $5}')" "$(mac_of dir2)" "the client's neighbour entry after the failover"

log "keepalived (150) preempts vrrpd (100) over IPv6, then releases to it"
ka_start dir1 3 0.1 "$VIP6/128"
wait_state dir2 BACKUP 15
sleep 0.5
holds_vip6 dir1 || { cat "$VRRP_DIR/ka.log"; fail "keepalived lacks the VIP"; }
! holds_vip6 dir2 || fail "vrrpd kept the VIP under keepalived"
expect_eq "$(vrrp_status dir2 | jq -c '.instances[0].bad_packets')" "{}" "packets vrrpd discarded"
t0=$(now_ms)
kill "$ka_pid"
wait_state dir2 MASTER 5
expect_le $(($(now_ms) - t0)) 300 "ms until vrrpd took over from keepalived's release"
ka_stop
