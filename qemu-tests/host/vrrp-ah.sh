# VRRPv2 AH authentication (auth_type AH) against Debian's keepalived 2.2.7,
# 1 s adverts, on the host in namespaces:
#
#   dir1: keepalived (prio 150) ---+--- br0 ---+--- dir2: vrrpd
#
# keepalived hears vrrpd: with vrrpd (200) master, keepalived stays backup
# (it would take over in 3.4 s if it dropped vrrpd's AH adverts) and logs
# no IPSEC-AH error. vrrpd hears keepalived: it is backup under keepalived
# with nothing discarded. Each takes over when the other stops. A vrrpd with
# another auth_pass discards keepalived's adverts as "ah_icv" (status and
# metrics count them) and so becomes master beside it.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'ka_stop; vrrpd_stop dir2; tail -20 "$VRRP_DIR/ka.log"; topo_down' EXIT
# until HOST holds (or, with !, lacks) the VIP, at most SECONDS
wait_vip() {
	local h=$1 want=$2 t=$3 end
	end=$(($(now_ms) + t * 1000))
	until { holds_vip "$h" && [ "$want" = holds ]; } || { ! holds_vip "$h" && [ "$want" = lacks ]; }; do
		[ "$(now_ms)" -lt "$end" ] || fail "$h does not $want the VIP after ${t}s"
		sleep 0.05
	done
}
auth='authentication {
		auth_type AH
		auth_pass secret
	}'
conf() { # PRIO PASS
	echo 'metrics_listen = "127.0.0.1:9650"'
	VRRP_INTERVAL_MS=1000 vrrp_conf dir2 "$1" 'version = 2' 'auth_type = "AH"' "auth_pass = \"$2\""
}
bad() { vrrp_status dir2 | jq -c '.instances[0].bad_packets'; }
ah_errors() { grep -c 'IPSEC-AH\|IPSEC AH\|auth type\|AH header' "$VRRP_DIR/ka.log" || true; }

log "vrrpd (200) is master alone; keepalived (150) starts and stays backup"
conf 200 secret >"$VRRP_DIR/v.toml"
vrrpd_start dir2 "$VRRP_DIR/v.toml"
wait_state dir2 MASTER 10
ka_start dir1 2 1 "$VIP4/32" "$auth"
sleep 7
! holds_vip dir1 || fail "keepalived took the VIP: it does not accept vrrpd's AH adverts"
expect_eq "$(vrrp_state dir2)" MASTER "vrrpd's state above keepalived"
expect_eq "$(ah_errors)" 0 "keepalived's AH errors"
grep -q 'Entering BACKUP STATE' "$VRRP_DIR/ka.log" || fail "keepalived never went backup"

log "vrrpd releases gracefully; keepalived takes over"
vrrpd_stop dir2
wait_vip dir1 holds 5
! holds_vip dir2 || fail "vrrpd kept the VIP"

log "vrrpd (100) starts under keepalived: backup, nothing discarded"
conf 100 secret >"$VRRP_DIR/v.toml"
vrrpd_start dir2 "$VRRP_DIR/v.toml"
wait_state dir2 BACKUP 5
sleep 5
expect_eq "$(vrrp_state dir2) $(vrrp_status dir2 | jq -r '.instances[0].master')" "BACKUP $(dir4 1)" \
	"vrrpd's state and master, under keepalived"
expect_eq "$(bad)" "{}" "packets vrrpd discarded"
[ "$(vrrp_status dir2 | jq '.instances[0].adverts_received')" -ge 3 ] || fail "vrrpd received no adverts"

log "keepalived stops; vrrpd takes over"
kill "$ka_pid"
wait_state dir2 MASTER 5
wait_vip dir2 holds 3
ka_stop

log "keepalived (150) restarts: it learns vrrpd's sequence number and preempts it"
ka_start dir1 2 1 "$VIP4/32" "$auth"
wait_vip dir1 holds 10
wait_state dir2 BACKUP 5
sleep 4
expect_eq "$(vrrp_state dir2)" BACKUP "vrrpd under keepalived again"
expect_eq "$(bad)" "{}" "packets vrrpd discarded"
expect_eq "$(ah_errors)" 0 "keepalived's AH errors"
vrrpd_stop dir2

log "a vrrpd with another auth_pass discards keepalived's adverts (ah_icv)"
conf 100 other >"$VRRP_DIR/v.toml"
vrrpd_start dir2 "$VRRP_DIR/v.toml"
wait_state dir2 MASTER 10
sleep 2
n=$(vrrp_status dir2 | jq '.instances[0].bad_packets.ah_icv // 0')
[ "$n" -ge 3 ] || fail "vrrpd counted $n ah_icv discards: $(bad)"
log "ok: ah_icv discards = $n ($(bad))"
expect_eq "$(vrrp_status dir2 | jq '.instances[0].adverts_received')" 0 "adverts vrrpd accepted"
holds_vip dir1 || fail "keepalived lost the VIP"
m=$(ip netns exec "drlb-$TOPO_TAG-dir2" curl -s http://127.0.0.1:9650/metrics | grep 'reason="ah_icv"' || true)
log "metrics: $m"
[ -n "$m" ] || fail "no ah_icv sample in /metrics"
grep -q 'ah_icv' "$VRRP_DIR/dir2.log" || fail "vrrpd did not log the ah_icv discards"
expect_le "$(grep -c 'ah_icv' "$VRRP_DIR/dir2.log")" 2 "lines vrrpd logged about them (rate-limited)"
log "PASS"
