# vrrpd's fail-safe edges, on the host in namespaces (100 ms adverts):
#
#   dir1 (150) ---+--- br0 ---+--- dir2 (100)             VIP 198.51.100.10
#
# An instance that cannot do a master's job is not MASTER: dir1 without
# CAP_NET_ADMIN (it cannot add its VIP), then dir1 with lb = true and no
# drlb on this host (it cannot switch drlb), each goes to FAULT with its
# reason and leaves the VIP to dir2, retries without taking over again, and
# is reported in status, metrics and the log. Startup that achieves
# nothing exits non-zero saying why; check-config and reloads refuse what
# the daemon cannot run.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
# vrrpd in HOST without CAP_NET_ADMIN (CAP_NET_RAW kept: its VRRP socket works)
vrrpd_start_noadmin() { # HOST CONF
	ip netns exec "drlb-$TOPO_TAG-$1" setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- \
		"$VRRPD" --config "$2" 2>>"$VRRP_DIR/$1.log" &
	VRRPD_PID[$1]=$!
}
became() { vrrp_status "$1" | jq '.instances[0].became_master'; }
metric() { # HOST NAME: the value of the first sample whose line starts so
	local line
	while IFS= read -r line; do
		[[ $line == "$2"* ]] && { echo "${line##* }"; return; }
	done < <(n "$1" curl -s http://127.0.0.1:9650/metrics)
}
{ echo 'metrics_listen = "127.0.0.1:9650"'; vrrp_conf dir1 150; } >"$VRRP_DIR/d1.toml"
vrrp_conf dir2 100 >"$VRRP_DIR/d2.toml"

log "startup that achieves nothing exits 1, saying why (and <3> before it for the journal)"
printf '[[instance]]\nname = "vi9"\ninterface = "eth9"\nvrid = 9\nvirtual_ips = ["198.51.100.99"]\n' >"$VRRP_DIR/none.toml"
rc=0
n dir1 timeout 10 "$VRRPD" --config "$VRRP_DIR/none.toml" --socket "$VRRP_DIR/none.sock" 2>"$VRRP_DIR/none.err" || rc=$?
expect_eq "$rc" 1 "exit status"
last=$(tail -n1 "$VRRP_DIR/none.err")
[[ $last == *"nothing to run"*"vi9: no interface eth9"* ]] || fail "the last line does not say why: $last"
log "ok: $last"
touch "$VRRP_DIR/journal.err"
rc=0
n dir1 env JOURNAL_STREAM="$(stat -c %d:%i "$VRRP_DIR/journal.err")" timeout 10 "$VRRPD" --config "$VRRP_DIR/none.toml" \
	--socket "$VRRP_DIR/none.sock" 2>>"$VRRP_DIR/journal.err" || rc=$?
expect_eq "$rc" 1 "exit status under the journal"
last=$(tail -n1 "$VRRP_DIR/journal.err")
[[ $last == "<3>nothing to run"* ]] || fail "the journal's last line lacks its level prefix: $last"
log "ok: $last"

log "check-config refuses what the daemon would refuse, with the line"
{ vrrp_conf dir1 150; echo 'use_vmac = "eth0"'; } >"$VRRP_DIR/vmac.toml"
expect_fail "vmac.toml:9: use_vmac" "$VRRPD" check-config "$VRRP_DIR/vmac.toml"
vrrp_conf dir1 150 | sed 's|virtual_ips = .*|virtual_ips = ["224.0.0.5/32"]|' >"$VRRP_DIR/mcast.toml"
expect_fail "mcast.toml:7: .*224.0.0.5.*not a unicast address" "$VRRPD" check-config "$VRRP_DIR/mcast.toml"
expect_fail "vmac.toml:9: use_vmac" "$VRRPD" --config "$VRRP_DIR/vmac.toml" --socket "$VRRP_DIR/vmac.sock"

log "a master that cannot add its VIP (no CAP_NET_ADMIN) goes to FAULT, and the backup takes over"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 MASTER 5
vrrpd_start_noadmin dir1 "$VRRP_DIR/d1.toml"
# dir1 (150) preempts dir2, cannot add the VIP, resigns: dir2 takes it back
wait_state dir1 FAULT 5
wait_state dir2 MASTER 5
holds_vip dir2 || fail "dir2 lacks the VIP"
! holds_vip dir1 || fail "dir1 holds the VIP"
reason=$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')
[[ $reason == *"198.51.100.10"*"Operation not permitted"*"CAP_NET_ADMIN"* ]] || fail "dir1's fault_reason: $reason"
log "ok: dir1's fault_reason: $reason"
expect_eq "$(vrrp_status dir1 | jq -r '.instances[0].last_transition_reason')" "MASTER -> FAULT: $reason" "dir1's last transition"
expect_eq "$(became dir1)" 1 "times dir1 became master"
b2=$(became dir2)

log "it retries (1 s, 2 s, ...) without taking over again"
sleep 4
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "FAULT MASTER" "states 4 s later"
expect_eq "$(became dir1) $(became dir2)" "1 $b2" "times each became master"
expect_eq "$(metric dir1 'vrrpd_vrrp_state{')" 3 "metric vrrpd_vrrp_state"
expect_eq "$(metric dir1 'vrrpd_vrrp_fault{instance="vi1",interface="eth0",vrid="51",cause="vip"}')" 1 "metric vrrpd_vrrp_fault, cause vip"
expect_eq "$(metric dir1 'vrrpd_vrrp_faults_total{instance="vi1",interface="eth0",vrid="51",cause="vip"}')" 1 "metric vrrpd_vrrp_faults_total, cause vip"
expect_eq "$(grep -c 'cannot' "$VRRP_DIR/dir1.log")" 1 "log lines saying why (once, not once a retry)"

log "a reload of the same file keeps it in FAULT; SIGTERM in FAULT sends no advert dir2 would act on"
vrrpd_signal dir1 HUP
sleep 0.5
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "FAULT MASTER" "states after the reload"
vrrpd_stop dir1
sleep 0.5
expect_eq "$(vrrp_state dir2) $(became dir2)" "MASTER $b2" "dir2 after dir1 stopped"

log "given CAP_NET_ADMIN (a restart), dir1 preempts and holds the VIP"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
holds_vip dir1 || fail "dir1 lacks the VIP"
vrrpd_stop dir1
wait_state dir2 MASTER 5

log "a master that cannot switch drlb (lb = true, no drlb on this host) goes to FAULT too"
VRRP_LB=true vrrp_conf dir1 150 >"$VRRP_DIR/d1lb.toml"
vrrpd_start dir1 "$VRRP_DIR/d1lb.toml"
wait_state dir1 FAULT 5
wait_state dir2 MASTER 5
holds_vip dir2 || fail "dir2 lacks the VIP"
! holds_vip dir1 || fail "dir1 kept the VIP after it could not switch drlb"
reason=$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')
[[ $reason == *drlb* ]] || fail "dir1's fault_reason: $reason"
log "ok: dir1's fault_reason: $reason"

log "a reload that asks for a VMAC named as the interface is refused with its line and changes nothing"
cp "$VRRP_DIR/d1lb.toml" "$VRRP_DIR/d1lb.good"
echo 'use_vmac = "eth0"' >>"$VRRP_DIR/d1lb.toml"
vrrpd_signal dir1 HUP
sleep 0.5
grep -q 'reload refused: .*d1lb.toml:9: use_vmac' "$VRRP_DIR/dir1.log" || fail "no refusal with its line in dir1's log"
expect_eq "$(vrrp_status dir1 | jq '.instances | length') $(vrrp_state dir1)" "1 FAULT" "dir1's instances after the refused reload"

log "a reload that turns lb off: dir1 can do its job, preempts and holds the VIP"
sed 's/^lb = true/lb = false/' "$VRRP_DIR/d1lb.good" >"$VRRP_DIR/d1lb.toml"
vrrpd_signal dir1 HUP
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
holds_vip dir1 || fail "dir1 lacks the VIP"
! holds_vip dir2 || fail "dir2 kept the VIP"

log "a reload that moves dir1's instance to an interface it lacks is refused, with the line, and changes nothing"
cp "$VRRP_DIR/d1lb.toml" "$VRRP_DIR/d1lb.good"
sed -i 's/^interface = "eth0"/interface = "eth9"/' "$VRRP_DIR/d1lb.toml"
vrrpd_signal dir1 HUP
sleep 0.5
grep -q 'reload refused: .*d1lb.toml:1: instance vi1: no interface eth9' "$VRRP_DIR/dir1.log" || fail "no refusal with its line in dir1's log"
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "MASTER BACKUP" "states after the refused reload"
holds_vip dir1 || fail "dir1 lost the VIP"
