# `vrrpd import-keepalived` on the two-director LVS-DR fixture
# (vrrpd/tests/keepalived/lvs-dr), and the converted files run with drlb:
#
#   client .2 (+ .5 .6 .7 .8: clients of their own for persistence)
#      |  (ARP for the VIP, wherever VRRP puts it)
#   ---+--- br0 ---+------------------------------+--- rs1 .21, rs2 .22
#      dir1 (director1.conf, 150, drlb)   dir2 (director2.conf, 100, drlb)
#      VIP 198.51.100.10/24 :80, wlc, persistence 50, HTTP_GET /healthz,
#      inhibit_on_failure (on_fail = "drain"), 1 s adverts
#
# The fixture's 192.168.100.0/24 is moved to the topology's subnet (its
# interface is already eth0). dir1 becomes MASTER and its drlb active;
# client addresses spread over both real servers, each kept on one
# (persistence); rs1 cut off is drained to weight 0 by the converted check
# while requests still succeed on rs2, and comes back; kill -9 of dir1's
# vrrpd (its link down: the director is gone) makes dir2 MASTER, its drlb
# active, and requests go through it. Last, the IPv6 fixture (VRRPv3,
# unicast between the directors, nopreempt, a Maglev service on :443),
# its fd00:1::/64 and eth1 moved to the topology's, runs on both
# directors: one is elected MASTER with the VIP, its drlb active.
. lib/testlib.sh
. lib/vrrp.sh
drlb_load
topo_up -d 2 -r 2 -p 80
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
n client ip -b - <<EOF
route del $VIP4/32
addr add 198.51.100.5/24 dev eth0
addr add 198.51.100.6/24 dev eth0
addr add 198.51.100.7/24 dev eth0
addr add 198.51.100.8/24 dev eth0
EOF
srcs=(198.51.100.2 198.51.100.5 198.51.100.6 198.51.100.7)

ka=$VRRP_DIR/ka
lvs_dr_fixture
weights() { list_json "$1" '[r.weight for r in d.services[0].reals]'; }

log "convert both directors' keepalived.conf"
for d in 1 2; do
	"$VRRPD" import-keepalived "$ka/director$d.conf" >"$VRRP_DIR/d$d.toml" 2>"$VRRP_DIR/import$d.err" ||
		{ slurp_print "$VRRP_DIR/import$d.err" >&2; fail "director$d.conf did not convert"; }
done
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"

log "dir1 (150) is MASTER with the VIP and its drlb active; dir2 (100) BACKUP, standby"
wait_state dir1 MASTER 30
wait_state dir2 BACKUP 20
has_vip dir1 || fail "dir1 lacks the VIP"
! has_vip dir2 || fail "dir2 holds the VIP"
wait_list dir1 'd.services[0].state' active 10
wait_list dir2 'd.services[0].state' standby 10
expect_eq "$(list_json dir1 '[d.services[0].scheduler, d.services[0].persistence]')" '["wlc",50]' "dir1's service"
expect_eq "$(weights dir1)" "[1,1]" "dir1's weights"

log "balancing: four client addresses, two requests each, through the VIP"
wait_role dir1 1 up 20
wait_role dir1 2 up 20
out=
for s in "${srcs[@]}"; do
	o=$(requests tcp "$VIP4" 80 2 --src "$s")
	expect_eq "$(count_matching "$o" ERROR) $(distinct "$o")" "0 1" "$s: failed requests, real servers (persistence)"
	out+=$o$'\n'
done
expect_eq "$(distinct "$out")" 2 "real servers answering the four addresses"
on_rs2=()
for s in "${srcs[@]}"; do [[ $out == *"rs2 client=$s "* ]] && on_rs2+=("$s"); done
log "kept on rs2: ${on_rs2[*]}"

log "rs1 cut off: the converted HTTP_GET drains it (weight 0); requests still succeed"
n rs1 ip link set eth0 down
# retry 2 (3 failures), delay_before_retry 1, connect_timeout 1: about 8 s
wait_role dir1 1 down 30
wait_list dir1 '[r.weight for r in d.services[0].reals]' "[0,1]" 10
# (addresses kept on rs1 stay there at weight 0, as in IPVS: a new
# address and those on rs2 make the requests)
for s in 198.51.100.8 "${on_rs2[@]}"; do
	o=$(requests tcp "$VIP4" 80 2 --src "$s")
	expect_eq "$(count_matching "$o" ERROR) $(answers_from "$o" rs2)" "0 2" "$s with rs1 down: failed requests, answers from rs2"
done
n rs1 ip link set eth0 up
wait_role dir1 1 up 20
wait_list dir1 '[r.weight for r in d.services[0].reals]' "[1,1]" 10

log "failover: kill -9 dir1's vrrpd, its link down; dir2 takes the VIP and goes active"
conns2=$(list_json dir2 'd.services[0].stats.conns')
expect_eq "$conns2" 0 "connections dir2 scheduled as backup"
vrrpd_crash dir1 dir2
has_vip dir2 || fail "dir2 lacks the VIP after the failover"
wait_list dir2 'd.services[0].state' active 10
out=
for s in "${srcs[@]}"; do
	o=$(requests tcp "$VIP4" 80 2 --src "$s")
	expect_eq "$(count_matching "$o" ERROR)" 0 "$s after the failover: failed requests"
	out+=$o$'\n'
done
expect_eq "$(distinct "$out")" 2 "real servers answering through dir2"
expect_ge "$(list_json dir2 'd.services[0].stats.conns')" 8 "connections dir2 scheduled"

log "the IPv6 fixture: VRRPv3 over unicast between dir1 and dir2"
vrrpd_stop dir2
# (kill -9 left the VIP; the link's down took the IPv6 address)
n dir1 ip -b - <<<"link set eth0 up
addr del $VIP4/24 dev eth0
addr replace $(dir6 1)/64 dev eth0 nodad"
for d in 1 2; do
	sed -e 's/eth1/eth0/g' -e "s/unicast_src_ip fd00:1::2/unicast_src_ip $(dir6 $d)/" \
		-e "s/^\( *\)fd00:1::3\$/\1$(dir6 $((3 - d)))/" -e 's/fd00:1::/2001:db8:1::/g' \
		../vrrpd/tests/keepalived/ipv6.conf >"$ka/ipv6-$d.conf"
	"$VRRPD" import-keepalived "$ka/ipv6-$d.conf" >"$VRRP_DIR/v6-$d.toml" 2>"$VRRP_DIR/import-v6-$d.err" ||
		{ slurp_print "$VRRP_DIR/import-v6-$d.err" >&2; fail "ipv6.conf for dir$d did not convert"; }
done
vrrpd_start dir1 "$VRRP_DIR/v6-1.toml"
vrrpd_start dir2 "$VRRP_DIR/v6-2.toml"
# (equal priorities, nopreempt: either may win; one must, and one only)
end=$((SECONDS + 30))
until s1=$(vrrp_state dir1) s2=$(vrrp_state dir2) && [[ "$s1 $s2" == "MASTER BACKUP" || "$s1 $s2" == "BACKUP MASTER" ]]; do
	((SECONDS < end)) || fail "IPv6 election: dir1 '$s1', dir2 '$s2' after 30 s"
	snooze 0.2
done
if [ "$s1" = MASTER ]; then m=dir1 b=dir2; else m=dir2 b=dir1; fi
log "ok: $m MASTER, $b BACKUP"
has6() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0) == *" $VIP6/64"* ]]; }
has6 "$m" || fail "$m lacks $VIP6"
! has6 "$b" || fail "$b holds $VIP6"
wait_list "$m" '[s.state for s in d.services if s.port == 443]' '["active"]' 15
wait_list "$b" '[s.state for s in d.services if s.port == 443]' '["standby"]' 15
