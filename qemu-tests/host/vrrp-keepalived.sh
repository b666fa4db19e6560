# vrrpd against Debian's keepalived, VRRPv3 (100 ms adverts) and VRRPv2
# (1 s adverts, PASS authentication), on the host in namespaces:
#
#   dir1: keepalived (prio 150) ---+--- br0 ---+--- dir2: vrrpd (100, later 200)
#
# Each version: keepalived preempts vrrpd, vrrpd backs it up, vrrpd preempts
# keepalived, tshark decodes vrrpd's adverts cleanly, vrrpd releases
# gracefully to keepalived, and keepalived releases gracefully to vrrpd.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'ka_stop; vrrpd_stop dir2; cat "$VRRP_DIR/ka.log" | tail -20; topo_down' EXIT
# until HOST holds (or, with !, lacks) the VIP, at most SECONDS
wait_vip() {
	local h=$1 want=$2 t=$3 end
	end=$(($(now_ms) + t * 1000))
	until { holds_vip "$h" && [ "$want" = holds ]; } || { ! holds_vip "$h" && [ "$want" = lacks ]; }; do
		[ "$(now_ms)" -lt "$end" ] || fail "$h does not $want the VIP after ${t}s"
		sleep 0.02
	done
}

for version in 3 2; do
	if [ $version = 3 ]; then
		interval=0.1 ms=100 auth= vauth= release_ms=300
	else
		# v2: whole seconds; skew for priority 100 is (256 - 100) / 256 s
		interval=1 ms=1000 auth='authentication {
		auth_type PASS
		auth_pass s3cret
	}' vauth='auth_pass = "s3cret"' release_ms=1200
	fi
	conf() { VRRP_INTERVAL_MS=$ms vrrp_conf dir2 "$1" "version = $version" ${vauth:+"$vauth"}; }
	conf 100 >"$VRRP_DIR/v.toml"

	log "v$version: vrrpd alone is master; keepalived (150) starts and preempts it"
	vrrpd_start dir2 "$VRRP_DIR/v.toml"
	wait_state dir2 MASTER 10
	ka_start dir1 $version $interval "$VIP4/32" "$auth"
	wait_vip dir1 holds 15
	wait_state dir2 BACKUP 5
	wait_vip dir2 lacks 5
	sleep $((ms * 3 / 1000 + 1))
	expect_eq "$(vrrp_state dir2) $(vrrp_status dir2 | jq -r '.instances[0].master')" "BACKUP $(dir4 1)" \
		"v$version: vrrpd's state and master, under keepalived"
	expect_eq "$(vrrp_status dir2 | jq -c '.instances[0].bad_packets')" "{}" "v$version: packets vrrpd discarded"

	log "v$version: vrrpd at priority 200 (SIGHUP) preempts keepalived"
	conf 200 >"$VRRP_DIR/v.toml"
	vrrpd_signal dir2 HUP
	wait_state dir2 MASTER 10
	wait_vip dir1 lacks 10
	holds_vip dir2 || fail "vrrpd is master without the VIP"

	log "v$version: tshark decodes vrrpd's adverts"
	ip netns exec "drlb-$TOPO_TAG-dir2" timeout $((ms * 4 / 1000 + 2)) tshark -q -i eth0 -f "ip proto 112 and src host $(dir4 2)" \
		-c 3 -w "$VRRP_DIR/v$version.pcap" >/dev/null 2>&1 || true
	decoded=$(tshark -r "$VRRP_DIR/v$version.pcap" -V -o vrrp.v3_checksum_as_in_v2:FALSE 2>&1 || true)
	grep -E 'Virtual Router Redundancy|Version|Checksum|Priority|IP Address' <<<"$decoded" | sort | uniq -c | sed 's/^/    /'
	expect_eq "$(grep -c 'Virtual Router Redundancy Protocol' <<<"$decoded")" 3 "v$version: adverts tshark decoded"
	expect_eq "$(grep -c "Version $version, Packet type 1 (Advertisement)" <<<"$decoded")" 3 "v$version: with version $version"
	expect_eq "$(grep -c 'Checksum Status: Good' <<<"$decoded")" 3 "v$version: with a good checksum"
	expect_eq "$(grep -ciE 'malformed|bad|incorrect' <<<"$decoded")" 0 "v$version: errors in tshark's decode"

	log "v$version: vrrpd releases gracefully (SIGTERM); keepalived takes over in skew time"
	t0=$(now_ms)
	vrrpd_stop dir2
	wait_vip dir1 holds 5
	expect_le $(($(now_ms) - t0)) $release_ms "v$version: ms until keepalived held the VIP"
	! holds_vip dir2 || fail "vrrpd kept the VIP"

	log "v$version: keepalived releases gracefully; vrrpd takes over in skew time"
	conf 100 >"$VRRP_DIR/v.toml"
	vrrpd_start dir2 "$VRRP_DIR/v.toml"
	wait_state dir2 BACKUP 5
	sleep $((ms * 3 / 1000 + 1))
	expect_eq "$(vrrp_state dir2)" BACKUP "v$version: vrrpd (100) under keepalived (150)"
	t0=$(now_ms)
	kill "$ka_pid" # (ka_stop also waits for keepalived's own exit, a second later)
	wait_state dir2 MASTER 5
	expect_le $(($(now_ms) - t0)) $release_ms "v$version: ms until vrrpd was master"
	wait_vip dir2 holds 2
	ka_stop
	vrrpd_stop dir2
done
