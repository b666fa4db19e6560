# Tracking with weights, and sync groups, on the host in namespaces (1 s
# adverts: the checks are about who wins, not how fast):
#
#   dir1 (150) ---+--- br0 ---+--- dir2 (100)      VIPs 198.51.100.10, .11
#
# - track_script, weight -60: the master's script fails (a file it tests
#   for is deleted): its priority drops to 90 and dir2 (100) preempts it;
#   the file back, dir1 (150) preempts dir2.
# - track_file, weight 1: the file says -60, the same failover; 0, back.
# - sync group {vi1, vi2}, vi2 tracking trk0 without a weight: trk0 down
#   on dir1 puts vi2 in FAULT and takes vi1 to FAULT with it; dir2 is
#   master of both; trk0 up, dir1 takes both back.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
export VRRP_INTERVAL_MS=1000
VIP4B=198.51.100.11
q1() { vrrp_status "$1" | jq -r ".instances[] | select(.name == \"${3:-vi1}\") | $2"; }
holds() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0) == *" $2/32"* ]]; }

log "track_script with weight -60 on dir1 (150) against dir2 (100)"
touch "$VRRP_DIR/ok1"
vrrp_conf dir1 150 'track_scripts = ["chk"]' >"$VRRP_DIR/d1.toml"
cat >>"$VRRP_DIR/d1.toml" <<EOF
[[track_script]]
name = "chk"
command = "test -e $VRRP_DIR/ok1"
interval_ms = 300
weight = -60
EOF
vrrp_conf dir2 100 >"$VRRP_DIR/d2.toml"
"$VRRPD" check-config "$VRRP_DIR/d1.toml" || fail "check-config refused d1.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 10
expect_eq "$(q1 dir1 .effective_priority)" 150 "dir1's effective priority, its script passing"
rm "$VRRP_DIR/ok1"
t0=$(now_ms)
wait_state dir2 MASTER 10
log "dir2 took over $(($(now_ms) - t0)) ms after the file went (script every 300 ms, down interval 3.6 s)"
wait_state dir1 BACKUP 5
expect_eq "$(q1 dir1 .effective_priority)" 90 "dir1's effective priority, its script failing"
expect_eq "$(q1 dir1 .priority)" 150 "dir1's configured priority"
holds dir2 "$VIP4" || fail "dir2 lacks the VIP"
! holds dir1 "$VIP4" || fail "dir1 kept the VIP"
grep -q "priority 150 -> 90" "$VRRP_DIR/dir1.log" || fail "dir1 did not log its new priority"
touch "$VRRP_DIR/ok1"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 5
expect_eq "$(q1 dir1 .effective_priority)" 150 "dir1's effective priority once its script passes again"
holds dir1 "$VIP4" || fail "dir1 lacks the VIP after taking it back"
vrrpd_stop dir1

log "track_file with weight 1: -60 in the file, dir2 takes over; 0, dir1 takes back"
echo 0 >"$VRRP_DIR/prio"
vrrp_conf dir1 150 'track_files = ["prio"]' >"$VRRP_DIR/d1f.toml"
printf '[[track_file]]\nname = "prio"\npath = "%s"\nweight = 1\n' "$VRRP_DIR/prio" >>"$VRRP_DIR/d1f.toml"
vrrpd_start dir1 "$VRRP_DIR/d1f.toml"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 10
echo -60 >"$VRRP_DIR/prio"
wait_state dir2 MASTER 10
expect_eq "$(q1 dir1 .effective_priority)" 90 "dir1's effective priority, the file saying -60"
echo 0 >"$VRRP_DIR/prio"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 5
vrrpd_stop dir1
vrrpd_stop dir2

log "sync group: vi2 tracks trk0 (no weight) on dir1; trk0 down takes both to FAULT, dir2 masters both"
n dir1 ip link add trk0 type veth peer name trk1
n dir1 ip link set trk0 up
n dir1 ip link set trk1 up
group() { # VI1_PRIO VI2_PRIO [vi2's extra line]
	vrrp_conf x "$1"
	printf '[[instance]]\nname = "vi2"\ninterface = "eth0"\nvrid = 52\npriority = %s\nadvert_interval_ms = 1000\nvirtual_ips = ["%s/32"]\nlb = false\n%s\n' "$2" "$VIP4B" "${3:-}"
	printf '[[sync_group]]\nname = "g1"\ninstances = ["vi1", "vi2"]\n'
}
group 150 150 'track_interfaces = ["trk0"]' >"$VRRP_DIR/g1.toml"
group 100 100 >"$VRRP_DIR/g2.toml"
"$VRRPD" check-config "$VRRP_DIR/g1.toml" || fail "check-config refused g1.toml"
vrrpd_start dir1 "$VRRP_DIR/g1.toml"
vrrpd_start dir2 "$VRRP_DIR/g2.toml"
wait_instance dir1 vi1 MASTER 10
wait_instance dir1 vi2 MASTER 10
wait_instance dir2 vi1 BACKUP 5
wait_instance dir2 vi2 BACKUP 5
expect_eq "$(q1 dir1 .sync_group vi2)" g1 "vi2's sync group"
n dir1 ip link set trk0 down
wait_instance dir1 vi2 FAULT 5
wait_instance dir1 vi1 FAULT 5
expect_eq "$(q1 dir1 .fault_reason vi1)" "another member of sync group g1 is in FAULT" "vi1's fault_reason"
expect_eq "$(q1 dir1 .fault_reason vi2)" "tracked interface trk0 is down" "vi2's fault_reason"
# (both resigned with priority 0: dir2 takes over in about skew time)
wait_instance dir2 vi1 MASTER 5
wait_instance dir2 vi2 MASTER 5
! holds dir1 "$VIP4" || fail "dir1 kept vi1's VIP in FAULT"
holds dir2 "$VIP4" && holds dir2 "$VIP4B" || fail "dir2 lacks a VIP"
n dir1 ip link set trk0 up
n dir1 ip link set trk1 up
wait_instance dir1 vi1 MASTER 10
wait_instance dir1 vi2 MASTER 10
wait_instance dir2 vi1 BACKUP 5
wait_instance dir2 vi2 BACKUP 5

log "sync group: dir2's vi1 alone outranks dir1's (reload to 200): dir2 stays BACKUP, its vi2 not wanting MASTER"
group 200 100 >"$VRRP_DIR/g2.toml"
vrrpd_signal dir2 HUP
# dir2's vi1 preempts when dir1's adverts at 150 time out; its vi2 (100)
# does not want to: vrrpd as keepalived prefers backup, so dir2 waits.
snooze 6
expect_eq "$(instance_state dir2 vi1) $(instance_state dir2 vi2)" "BACKUP BACKUP" "dir2's states (its vi2 does not want MASTER)"
expect_eq "$(instance_state dir1 vi1) $(instance_state dir1 vi2)" "MASTER MASTER" "dir1's states"
log "ok: a group goes MASTER only when every member wants to"

log "sync group: both of dir2's outrank dir1's (reload to 200, 200): dir2 masters both, dir1 backs both"
group 200 200 >"$VRRP_DIR/g2.toml"
vrrpd_signal dir2 HUP
wait_instance dir2 vi1 MASTER 10
wait_instance dir2 vi2 MASTER 5
wait_instance dir1 vi1 BACKUP 5
wait_instance dir1 vi2 BACKUP 5
grep -q "sync group g1: a member went BACKUP" "$VRRP_DIR/dir1.log" ||
	grep -q "advert from .* priority 200" "$VRRP_DIR/dir1.log" || fail "dir1 did not log why it went BACKUP"
