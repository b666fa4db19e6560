# Two directors, each running drlb and vrrpd: the master owns the VIP and
# its drlb is active, the backup's is standby. Stopping the master's vrrpd
# moves the VIP and both modules' states, and new client connections are
# served through the new master.
#
#   client --(ARP for the VIP)--> dir1 (vrrpd 150, drlb) / dir2 (vrrpd 100, drlb) --> rs1, rs2
. lib/testlib.sh
. lib/vrrp.sh
drlb_load
topo_up -d 2 -r 2 -p 80
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
# The client reaches the VIP on the segment, wherever VRRP puts it.
n client ip route del "$VIP4/32"
for d in dir1 dir2; do
	dt $d -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
state standby
EOF2
done
wait_resolved dir1
wait_resolved dir2
VRRP_INTERVAL_MS=300 VRRP_LB=true vrrp_conf dir1 150 >"$VRRP_DIR/d1.toml"
VRRP_INTERVAL_MS=300 VRRP_LB=true vrrp_conf dir2 100 >"$VRRP_DIR/d2.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"

log "dir1 is master: it holds the VIP and its drlb is active; dir2's is standby"
wait_state dir1 MASTER 20
wait_state dir2 BACKUP 20
expect_eq "$(dt dir1 state) $(dt dir2 state)" "active standby" "drlb states"
holds_vip dir1 || fail "dir1 lacks the VIP"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering through dir1"
expect_eq "$(list_json dir1 'd.services[0].stats.conns') $(list_json dir2 'd.services[0].stats.conns')" "4 0" "connections each director scheduled"

log "stop dir1's vrrpd: dir2 takes the VIP and goes active, dir1 goes standby"
vrrpd_stop dir1
wait_state dir2 MASTER 10
expect_eq "$(dt dir1 state) $(dt dir2 state)" "standby active" "drlb states after the failover"
holds_vip dir2 || fail "dir2 lacks the VIP"
! holds_vip dir1 || fail "dir1 kept the VIP"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(count_matching "$out" ERROR)" 0 "failed connections after the failover"
expect_eq "$(distinct "$out")" 2 "real servers answering through dir2"
expect_eq "$(list_json dir1 'd.services[0].stats.conns') $(list_json dir2 'd.services[0].stats.conns')" "4 4" "connections each director scheduled"
