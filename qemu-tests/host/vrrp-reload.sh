# vrrpd reloads (SIGHUP) as a diff, on the host in namespaces, 100 ms adverts:
#
#   dir1 (vi1 150, later vi2 150) ---+--- br0 ---+--- dir2 (vi1 100, vi2 100)
#                              VIPs 198.51.100.10 (vi1), 198.51.100.11 (vi2)
#
# A reload that adds an instance (vrrpd used to crash on it and leave its
# VIP behind), one that changes only a priority (in place: the instance
# keeps running and the backup preempts), one that removes an instance
# (its VIP released), and a bad file (nothing changes).
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
VIP2=198.51.100.11
vi2() { # PRIO: a second instance, vrid 52, for VIP2
	printf '[[instance]]\nname = "vi2"\ninterface = "eth0"\nvrid = 52\npriority = %s\nadvert_interval_ms = 100\nvirtual_ips = ["%s/32"]\nlb = false\n' "$1" "$VIP2"
}
holds() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0) == *" $2/32"* ]]; }
vrrp_conf dir1 150 >"$VRRP_DIR/d1.toml"
{ vrrp_conf dir2 100; vi2 100; } >"$VRRP_DIR/d2.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_instance dir1 vi1 MASTER
wait_instance dir2 vi2 MASTER
wait_instance dir2 vi1 BACKUP

log "a reload that adds an instance: dir1 starts vi2 and preempts it; vi1 is untouched"
pid1=${VRRPD_PID[dir1]}
became=$(vrrp_status dir1 | jq '.instances[0].became_master')
vi2 150 >>"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
wait_instance dir1 vi2 MASTER
wait_instance dir2 vi2 BACKUP
kill -0 "$pid1" || fail "dir1's vrrpd died on the reload"
holds dir1 "$VIP2" || fail "dir1 lacks VIP2"
! holds dir2 "$VIP2" || fail "dir2 kept VIP2"
expect_eq "$(vrrp_status dir1 | jq '.instances[0].became_master')" "$became" "times dir1's vi1 became master (kept across the reload)"
log "dir1 still answers and still receives on both sockets"
sleep 0.5
expect_ge "$(vrrp_status dir1 | jq '.instances | length')" 2 "dir1's instances"

log "a reload that changes vi1's priority alone: in place, and dir2 preempts"
{ vrrp_conf dir1 50; vi2 150; } >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
wait_instance dir2 vi1 MASTER
wait_instance dir1 vi1 BACKUP
expect_eq "$(vrrp_status dir1 | jq '.instances[] | select(.name == "vi1") | .priority')" 50 "dir1's vi1 priority"
expect_eq "$(instance_state dir1 vi2)" MASTER "dir1's vi2, untouched"
holds dir2 "$VIP4" || fail "dir2 lacks VIP1 after preempting"
! holds dir1 "$VIP4" || fail "dir1 kept VIP1"

log "a bad file changes nothing"
echo 'preempt = "yes"' >>"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
sleep 0.5
expect_eq "$(instance_state dir1 vi1) $(instance_state dir1 vi2)" "BACKUP MASTER" "dir1's states after a bad reload"
grep -q 'reload refused: .*d1.toml:[0-9]*: invalid type' "$VRRP_DIR/dir1.log" || fail "no refusal with a line number in dir1's log"
log "ok: refused with its line"

log "a reload that removes vi2: dir1 releases VIP2, dir2 takes it"
vrrp_conf dir1 50 >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
wait_instance dir2 vi2 MASTER
! holds dir1 "$VIP2" || fail "dir1 kept VIP2 after removing vi2"
expect_eq "$(vrrp_status dir1 | jq -c '[.instances[].name]')" '["vi1"]' "dir1's instances"
kill -0 "$pid1" || fail "dir1's vrrpd died"
