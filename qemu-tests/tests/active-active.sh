# Per-VIP failover: two directors, each master for one of two VIPs, serve
# both at once; each service forwards only on the director where its
# instance is MASTER (the other's is standby). When dir1's vrrpd stops,
# dir2 serves both.
#
#   client --(ARP)--> dir1 (vi1 150: VIP1, vi2 100: VIP2) --+--> rs1, rs2 (nginx,
#                     dir2 (vi1 100, vi2 150: VIP2)  -------+    both VIPs on lo)
. lib/testlib.sh
. lib/vrrp.sh
. lib/nginx-rs.sh
drlb_load
topo_up -d 2 -r 2 -c
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
VIP2=198.51.100.11
# The client reaches both VIPs on the segment, wherever VRRP puts them.
n client ip route del "$VIP4/32"
for i in 1 2; do
	n "rs$i" ip addr add "$VIP2/32" dev lo
	nginx_rs "$i"
done
conf() { # PRIORITY-OF-vi1 PRIORITY-OF-vi2
	local name vip vrid prio
	for name in vi1 vi2; do
		if [ $name = vi1 ]; then vip=$VIP4 vrid=51 prio=$1; else vip=$VIP2 vrid=52 prio=$2; fi
		printf '[[instance]]\nname = "%s"\ninterface = "eth0"\nvrid = %s\npriority = %s\nadvert_interval_ms = 200\nvirtual_ips = ["%s/32"]\n\n' "$name" "$vrid" "$prio" "$vip"
		printf '[[virtual_server]]\nprotocol = "tcp"\naddress = "%s:80"\nscheduler = "rr"\ninstance = "%s"\n' "$vip" "$name"
		printf '[virtual_server.check]\ntype = "tcp"\ninterval_ms = 500\n'
		printf '[[virtual_server.real]]\naddress = "%s"\n[[virtual_server.real]]\naddress = "%s"\n\n' "$(rs4 1)" "$(rs4 2)"
	done
}
conf 150 100 >"$VRRP_DIR/d1.toml"
conf 100 150 >"$VRRP_DIR/d2.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
states() { list_json "$1" '" ".join(s.state for s in d.services)'; }
conns() { list_json "$1" '" ".join(str(s.stats.conns) for s in d.services)'; }

log "dir1 is master for VIP1, dir2 for VIP2; each forwards only its own"
wait_instance dir1 vi1 MASTER 10
wait_instance dir2 vi2 MASTER 10
wait_instance dir1 vi2 BACKUP 10
wait_instance dir2 vi1 BACKUP 10
expect_eq "$(states dir1)" "active standby" "dir1's services (VIP1 VIP2)"
expect_eq "$(states dir2)" "standby active" "dir2's services (VIP1 VIP2)"
expect_eq "$(dt dir1 state) $(dt dir2 state)" "active active" "the namespace switches (each director is master of something)"
wait_resolved dir1
wait_resolved dir2
end=$((SECONDS + 15))
until [ "$(list_json dir1 '[r.weight for s in d.services for r in s.reals]')" = "[1,1,1,1]" ]; do
	((SECONDS < end)) || fail "dir1's checks never rose"
	snooze 0.3
done
out1=$(requests http "$VIP4" 80 4)
out2=$(requests http "$VIP2" 80 4)
expect_eq "$(count_matching "$out1$out2" ERROR)" 0 "failed requests"
expect_eq "$(distinct "$out1") $(distinct "$out2")" "2 2" "real servers answering for VIP1 and VIP2"
expect_eq "$(conns dir1) / $(conns dir2)" "4 0 / 0 4" "connections each director scheduled (VIP1 VIP2)"

log "dir1's vrrpd stops: dir2 takes VIP1 and serves both"
vrrpd_stop dir1
wait_instance dir2 vi1 MASTER 10
expect_eq "$(states dir2)" "active active" "dir2's services"
expect_eq "$(states dir1)" "standby standby" "dir1's services after its vrrpd released them"
out1=$(requests http "$VIP4" 80 4)
out2=$(requests http "$VIP2" 80 4)
expect_eq "$(count_matching "$out1$out2" ERROR)" 0 "failed requests after the failover"
expect_eq "$(conns dir2)" "4 8" "dir2's connections (VIP1 VIP2)"
