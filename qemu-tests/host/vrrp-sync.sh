# vrrpd's connection sync relay on the host, without the module (the host
# has no drlb.ko; the guest scenario conn-sync.sh runs it with drlb):
#
#   dir1 (prio 150) ---+--- br0 ---+--- dir2 (prio 100)      [sync] over eth0, key "secret"
#
# check-config refuses a bad [sync]; a returning director holds its
# preemption while it pulls the table (here no table comes: until the
# bound), and still becomes master at once when the master goes away;
# bad datagrams are dropped and counted by reason; reloads add and remove
# [sync] (with an instance added at the same time) without a crash.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
sync_conf() { # PEER [extra lines...]
	printf '[sync]\ninterface = "eth0"\npeers = ["%s"]\nkey = "secret"\npull_timeout_ms = 2000\n' "$1"
	shift
	local l; for l in "$@"; do echo "$l"; done
}
{ echo 'metrics_listen = "127.0.0.1:9650"'; vrrp_conf dir1 150 "$(sync_conf "$(dir4 2)")"; } >"$VRRP_DIR/d1.toml"
vrrp_conf dir2 100 "$(sync_conf "$(dir4 1)")" >"$VRRP_DIR/d2.toml"
vrrp_conf dir1 150 >"$VRRP_DIR/d1-nosync.toml"

log "check-config: the [sync] form is accepted, bad values refused at their line"
"$VRRPD" check-config "$VRRP_DIR/d1.toml" >/dev/null || fail "check-config refused the [sync] form"
vrrp_conf dir1 150 "$(sync_conf "$(dir4 2)" "port = 0")" >"$VRRP_DIR/bad1.toml"
expect_fail 'bad1.toml:14: sync port 0 out of range' "$VRRPD" check-config "$VRRP_DIR/bad1.toml"
vrrp_conf dir1 150 '[sync]' 'interface = "eth0"' 'peers = ["not-an-ip"]' >"$VRRP_DIR/bad2.toml"
expect_fail 'bad2.toml:11: sync peers: `not-an-ip` is not an IP address' "$VRRPD" check-config "$VRRP_DIR/bad2.toml"

log "dir2 alone becomes master"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 MASTER 5

log "dir1 returns with a higher priority: no table comes (no module), so it preempts at the bound (2 s)"
t0=$(now_ms)
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 BACKUP 5
sleep 1
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "BACKUP MASTER" "states a second into the pull"
wait_state dir1 MASTER 5
took=$(($(now_ms) - t0))
expect_ge "$took" 2000 "ms until dir1 preempted (pull_timeout_ms 2000)"
expect_le "$took" 4000 "ms until dir1 preempted"
wait_state dir2 BACKUP 5
grep -q 'sync: preemption held: pulling the connection table' "$VRRP_DIR/dir1.log" || fail "no log of the hold"
grep -q 'sync: preemption no longer held: the bound passed (2000 ms)' "$VRRP_DIR/dir1.log" || fail "no log of the bound"
expect_eq "$(vrrp_status dir1 | jq -r '.sync.pull')" "timed out" "dir1's pull"
expect_ge "$(vrrp_status dir1 | jq '.sync.datagrams_sent')" 2 "dir1's datagrams sent (a PULL a second)"
expect_ge "$(vrrp_status dir2 | jq '.sync.pulls_answered')" 1 "pulls dir2 took up"
expect_ge "$(vrrp_status dir2 | jq '.sync.datagrams_received')" 2 "datagrams dir2 received"
expect_eq "$(vrrp_status dir2 | jq -c '[.sync.non_peer, .sync.bad_auth, .sync.malformed, .sync.bad_version]')" "[0,0,0,0]" "dir2's drops"

log "the hold stops only preemption: kill -9 dir1, restart it, kill dir2 during dir1's pull: dir1 takes over at once"
kill -9 "${VRRPD_PID[dir1]}"
wait_state dir2 MASTER 5
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 BACKUP 5
t0=$(now_ms)
kill -9 "${VRRPD_PID[dir2]}"
wait_state dir1 MASTER 5
took=$(($(now_ms) - t0))
expect_le "$took" 1000 "ms until dir1 took over from a vanished master while held"
expect_eq "$(vrrp_status dir1 | jq '.sync.preemption_held')" true "dir1 is still in its pull"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 BACKUP 5

log "bad datagrams are dropped and counted (dir2 -> dir1)"
ip -n "drlb-$TOPO_TAG-dir2" addr add 198.51.100.99/24 dev eth0
sleep 2.5 # (dir2's own pull is over)
before=$(vrrp_status dir1 | jq -c '[.sync.non_peer, .sync.bad_auth, .sync.malformed, .sync.bad_version, .sync.records_received]')
expect_eq "$before" "[0,0,0,0,0]" "dir1's drops before"
ip netns exec "drlb-$TOPO_TAG-dir2" python3 - "$(dir4 1)" "$(dir4 2)" <<'PY'
import hmac, hashlib, socket, struct, sys
dst, me = sys.argv[1], sys.argv[2]
def dgram(kind, payload, key, magic=b"DRSY", version=1):
    h = magic + struct.pack("!BBBBIIHH", version, kind, 1 if key else 0, 0, 0xabcdef, 1, len(payload), 0) + payload
    return h + (hmac.new(key, h, hashlib.sha256).digest() if key else b"")
rec = struct.pack("!BBBBIHH", 4, 6, 1, 0, 60000, 80, 40000) + bytes([198, 51, 100, 10, 198, 51, 100, 1, 198, 51, 100, 21])
def send(b, src=me):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(b, (dst, 8849))
send(dgram(1, rec, b"secret"), src="198.51.100.99")   # non_peer
send(dgram(1, rec, b"wrong"))                        # bad_auth
send(dgram(1, rec, None))                            # bad_auth (no MAC)
send(dgram(1, rec, b"secret")[:30])                  # malformed (truncated)
send(dgram(1, rec[:20], b"secret"))                  # malformed (a cut record)
send(dgram(1, rec, b"secret", magic=b"DRSX"))        # bad_version
send(dgram(1, rec, b"secret", version=2))            # bad_version
send(dgram(1, rec, b"secret"))                       # good: one record
PY
sleep 0.3
expect_eq "$(vrrp_status dir1 | jq -c '[.sync.non_peer, .sync.bad_auth, .sync.malformed, .sync.bad_version, .sync.records_received]')" "[1,2,2,2,1]" "dir1's drops and records after"
expect_eq "$(vrrp_state dir1)" MASTER "dir1 after the bad datagrams"
expect_eq "$(dt dir1 sync --json | jq '.vrrpd.bad_auth')" 2 "bad_auth as drlb-tool sync shows it (no module here)"
dt dir1 sync | grep -q 'dropped: non_peer 1, bad_auth 2, malformed 2, bad_version 2' || fail "drlb-tool sync's text: $(dt dir1 sync)"
metrics=$(ip netns exec "drlb-$TOPO_TAG-dir1" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9650/metrics").read().decode())')
grep -qx 'vrrpd_sync_dropped_total{reason="bad_auth"} 2' <<<"$metrics" || fail "metrics: $(grep sync <<<"$metrics")"
grep -qx 'vrrpd_sync_records_total{direction="received"} 1' <<<"$metrics" || fail "metrics: $(grep sync <<<"$metrics")"
log "ok: the drops and records in /metrics"

log "reload: [sync] removed, then added back with a new instance: no crash"
vrrpd_signal dir1 HUP # (the same file)
sleep 0.3
expect_eq "$(vrrp_status dir1 | jq -r '.sync.interface')" eth0 "sync after an unchanged reload"
cp "$VRRP_DIR/d1-nosync.toml" "$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
sleep 0.5
expect_eq "$(vrrp_status dir1 | jq 'has("sync")')" false "a sync section without [sync]"
grep -q 'sync: connection sync removed by reload' "$VRRP_DIR/dir1.log" || fail "no log of the removal"
{
	vrrp_conf dir1 150
	printf '[[instance]]\nname = "vi2"\ninterface = "eth0"\nvrid = 52\npriority = 150\nadvert_interval_ms = 100\nvirtual_ips = ["198.51.100.11/32"]\nlb = false\n'
	sync_conf "$(dir4 2)" "port = 8850"
} >"$VRRP_DIR/d1.toml"
"$VRRPD" check-config "$VRRP_DIR/d1.toml" >/dev/null || fail "the reloaded file"
vrrpd_signal dir1 HUP
sleep 0.5
kill -0 "${VRRPD_PID[dir1]}" || fail "dir1's vrrpd died in the reload"
expect_eq "$(vrrp_status dir1 | jq -c '[.sync.port, (.instances | length)]')" "[8850,2]" "sync port and instances after the reload"
expect_eq "$(instance_state dir1 vi1)" MASTER "vi1 after the reload"

log "multicast: without peers, a pull goes to 224.0.0.81 on eth0 and the other daemon takes it up"
mc='[sync]\ninterface = "eth0"\nkey = "secret"\npull_timeout_ms = 2000\n'
{ vrrp_conf dir2 100; printf "$mc"; } >"$VRRP_DIR/d2.toml"
vrrpd_signal dir2 HUP
sleep 0.5
expect_eq "$(vrrp_status dir2 | jq -r '.sync.group')" 224.0.0.81 "dir2's group"
before=$(vrrp_status dir2 | jq '.sync.pulls_answered')
{ vrrp_conf dir1 150; printf "$mc"; } >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
sleep 1.5
expect_ge "$(vrrp_status dir2 | jq '.sync.pulls_answered')" $((before + 1)) "pulls dir2 took up over multicast"
expect_eq "$(vrrp_status dir2 | jq '.sync.bad_auth + .sync.non_peer + .sync.malformed')" 0 "dir2's drops over multicast"
log "ok"
