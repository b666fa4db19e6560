# `vrrpd import-keepalived` on the two-director LVS-DR fixture
# (vrrpd/tests/keepalived/lvs-dr), and the result run, 1 s adverts:
#
#   dir1 (director1.conf, 150) ---+--- br0 ---+--- dir2 (director2.conf, 100)
#   rs1, rs2 answer HTTP on :80                VIP 198.51.100.10/24
#
# Both directors' files convert (the service through their `include`),
# with the fixture's 192.168.100.0/24 moved to the topology's subnet, and
# each converted file passes check-config. Without the module on the host
# an instance that owns a service cannot go MASTER (it cannot switch drlb),
# so each file runs in two parts: its instance (lb = false) on its
# director, and its virtual server, alone, in a vrrpd in the client's
# namespace (on the same segment), whose checks reach rs1 and rs2. dir1
# becomes MASTER with the VIP; the converted HTTP_GET finds both real
# servers up, and rs1 cut off goes down and comes back; kill -9 moves the
# VIP to dir2, and dir1 preempts on its return. Last, keepalived
# runs director1.conf itself against vrrpd's conversion of director2.conf:
# the same election (VRRPv2, PASS authentication, VRID 51), and failover.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 2 -p 80
trap 'vrrpd_stop dir1; vrrpd_stop dir2; vrrpd_stop client; ka_stop; topo_down' EXIT
ka=$VRRP_DIR/ka
lvs_dr_fixture

log "convert both directors' keepalived.conf"
for d in 1 2; do
	"$VRRPD" import-keepalived "$ka/director$d.conf" >"$VRRP_DIR/d$d.toml" 2>"$VRRP_DIR/import$d.err" ||
		{ cat "$VRRP_DIR/import$d.err" >&2; fail "director$d.conf did not convert"; }
	grep -v ': note: ' "$VRRP_DIR/import$d.err" >&2 && fail "director$d.conf: more than notes on stderr"
	"$VRRPD" check-config "$VRRP_DIR/d$d.toml" || fail "the converted director$d.conf fails check-config"
	# The two parts (no module on the host): VRRP alone, the service alone.
	sed '/^\[\[virtual_server\]\]$/,$d; s/^vrid = 51$/&\nlb = false/' "$VRRP_DIR/d$d.toml" >"$VRRP_DIR/d$d-vrrp.toml"
	sed -n '/^\[\[virtual_server\]\]$/,$p' "$VRRP_DIR/d$d.toml" >"$VRRP_DIR/d$d-vs.toml"
	"$VRRPD" check-config "$VRRP_DIR/d$d-vrrp.toml" >/dev/null || fail "d$d-vrrp.toml"
	"$VRRPD" check-config "$VRRP_DIR/d$d-vs.toml" >/dev/null || fail "d$d-vs.toml"
done
cmp -s "$VRRP_DIR/d1-vs.toml" "$VRRP_DIR/d2-vs.toml" || fail "the two directors' services differ"
expect_eq "$(grep -c '^address = ' "$VRRP_DIR/d1.toml")" 3 "addresses in the conversion (the service and its two real servers)"

log "election: dir1 (150) is MASTER with the VIP, dir2 (100) BACKUP"
vrrpd_start dir1 "$VRRP_DIR/d1-vrrp.toml"
vrrpd_start dir2 "$VRRP_DIR/d2-vrrp.toml"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 10
has_vip dir1 || fail "dir1 lacks the VIP"
! has_vip dir2 || fail "dir2 holds the VIP"
expect_eq "$(vrrp_status dir2 | jq -r '.instances[0].master')" "$(dir4 1)" "dir2's view of the master"

log "the converted HTTP_GET: both real servers up; rs1 cut off goes down, then comes back"
servers_ready
vrrpd_start client "$VRRP_DIR/d1-vs.toml"
wait_role client 1 up 15
wait_role client 2 up 15
expect_eq "$(vrrp_status client | jq -r '.virtual_servers[0].reals[0].check | "\(.type) \(.target)"')" "http $(rs4 1):80" "rs1's check"
n rs1 ip link set eth0 down
# retry 2 (3 failures) at delay_before_retry 1, connect_timeout 1: about 2 + 3 x 2 s
wait_role client 1 down 15
expect_eq "$(real_q client 2 role)" up "rs2 while rs1 is down"
n rs1 ip link set eth0 up
wait_role client 1 up 10
vrrpd_stop client

log "failover: kill -9 dir1's vrrpd; dir2 takes the VIP"
t0=$(now_ms)
kill -9 "${VRRPD_PID[dir1]}"
wait_state dir2 MASTER 6
took=$(($(now_ms) - t0))
expect_le "$took" 5000 "ms to the takeover (master down interval 3.6 s at 1 s adverts)"
has_vip dir2 || fail "dir2 lacks the VIP after the failover"
n dir1 ip addr del "$VIP4/24" dev eth0 2>/dev/null || true # (kill -9 left it)

log "dir1 comes back and preempts"
vrrpd_start dir1 "$VRRP_DIR/d1-vrrp.toml"
wait_state dir1 MASTER 10
wait_state dir2 BACKUP 10
! has_vip dir2 || fail "dir2 kept the VIP"
vrrpd_stop dir1
vrrpd_stop dir2

log "keepalived with director1.conf against vrrpd with its conversion of director2.conf"
ip netns exec "drlb-$TOPO_TAG-dir1" keepalived -n -l -D --vrrp -f "$ka/director1.conf" \
	-p "$VRRP_DIR/ka.pid" -r "$VRRP_DIR/ka-vrrp.pid" >>"$VRRP_DIR/ka.log" 2>&1 &
ka_pid=$!
vrrpd_start dir2 "$VRRP_DIR/d2-vrrp.toml"
t0=$SECONDS
until has_vip dir1; do ((SECONDS - t0 < 15)) || { cat "$VRRP_DIR/ka.log" >&2; fail "keepalived did not take the VIP"; }; snooze 0.2; done
wait_state dir2 BACKUP 10
sleep 3
expect_eq "$(vrrp_state dir2)" BACKUP "vrrpd (dir2) under keepalived (dir1) 3 s later"
! has_vip dir2 || fail "dir2 holds the VIP under keepalived"
expect_eq "$(vrrp_status dir2 | jq -r '.instances[0].master')" "$(dir4 1)" "vrrpd's view of the master"
expect_eq "$(vrrp_status dir2 | jq '[.instances[0].bad_packets // {} | .[]] | add // 0')" 0 "adverts from keepalived that vrrpd refused"
ka_stop
wait_state dir2 MASTER 6
has_vip dir2 || fail "dir2 lacks the VIP after keepalived stopped"
log "ok: vrrpd took over from keepalived"
