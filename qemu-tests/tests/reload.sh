# vrrpd reloads (SIGHUP) as a diff, under continuous client traffic:
#
#   client ---- dir1 (drlb; vrrpd: http checks) ---- rs1, rs2, later rs3 (nginx)
#
# adding a real server fails no request, and the unchanged service keeps
# its connections and counters; a bad file changes nothing; removing a real
# server takes it out; a virtual server comes and goes with the file while
# a service made by hand stays; a restarted vrrpd changes nothing in drlb
# before its checks have decided.
. lib/testlib.sh
. lib/vrrp.sh
. lib/nginx-rs.sh
drlb_load
topo_up -d 1 -r 3 -c
trap 'vrrpd_stop dir1; topo_down' EXIT
for i in 1 2 3; do nginx_rs "$i"; done
conf() { # N...: the virtual server (port $PORT, default 80) with real servers rsN...
	printf '[[virtual_server]]\nprotocol = "tcp"\naddress = "%s:%s"\nscheduler = "rr"\n' "$VIP4" "${PORT:-80}"
	printf '[virtual_server.check]\ntype = "http"\nport = 80\ninterval_ms = 300\nrise = 2\nfall = 2\npath = "/healthz"\nexpect = "OK"\n'
	local r
	for r in "$@"; do printf '[[virtual_server.real]]\naddress = "%s"\n' "$(rs4 "$r")"; done
}
weights() { list_json dir1 '[(r.address[-2:], r.weight) for r in d.services[0].reals]'; }
wait_weights() { # EXPECTED SECONDS
	local end=$((SECONDS + $2)) w
	until w=$(weights) && [ "$w" = "$1" ]; do
		((SECONDS < end)) || fail "weights $w, not $1, after $2 s"
		snooze 0.3
	done
	log "ok: weights $1"
}
conf 1 2 >"$VRRP_DIR/d1.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_weights '[["21",1],["22",1]]' 15
wait_resolved dir1
out=$(requests http "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering before the reload"
conns0=$(list_json dir1 'd.services[0].stats.conns')
entries0=$(q 'len(d)' dt dir1 conns --json)

log "a steady stream of new connections; the reload adds rs3"
stream=$TMPD/stream
requests_bg http "$VIP4" 80 1 --until "$stream.stop" >"$stream" &
stream_pid=$!
wait_for "the stream's first answers" 20 slurp_print "$stream"
conf 1 2 3 >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
wait_weights '[["21",1],["22",1],["23",1]]' 10
end=$((SECONDS + 15))
until slurp out "$stream" && [ "$(answers_from "$out" rs3)" -ge 3 ]; do
	((SECONDS < end)) || fail "rs3 got no traffic after the reload"
	snooze 0.3
done
touch "$stream.stop"
wait "$stream_pid"
slurp out "$stream"
expect_eq "$(count_matching "$out" ERROR)" 0 "failed requests in the stream"
expect_ge "$(count_matching "$out")" 10 "requests in the stream"
log "ok: rs1 $(answers_from "$out" rs1), rs2 $(answers_from "$out" rs2), rs3 $(answers_from "$out" rs3) answers"
expect_ge "$(list_json dir1 'd.services[0].stats.conns')" "$((conns0 + $(count_matching "$out")))" "the service's connection counter (kept across the reload)"
expect_ge "$(q 'len(d)' dt dir1 conns --json)" "$entries0" "connection entries (none dropped by the reload)"
grep -q 'drlb-tool real add tcp 198.51.100.10:80 198.51.100.23 --weight 0  # reload' "$VRRP_DIR/dir1.log" ||
	fail "rs3 was not added drained until its check passed"
log "ok: rs3 went in at weight 0 and took traffic once its check passed"

log "a bad file changes nothing"
sed -i "s/^scheduler = \"rr\"$/scheduler = \"fastest\"/" "$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
sleep 1
grep -q "reload refused: .*d1.toml:[0-9]*: unknown scheduler .fastest." "$VRRP_DIR/dir1.log" || fail "no refusal with its line"
expect_eq "$(weights)" '[["21",1],["22",1],["23",1]]' "weights after the bad reload"
expect_eq "$(list_json dir1 'd.services[0].scheduler')" rr "the scheduler after the bad reload"

log "a reload that removes rs1"
conf 2 3 >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
wait_weights '[["22",1],["23",1]]' 10
out=$(requests http "$VIP4" 80 6)
expect_eq "$(count_matching "$out" ERROR) $(answers_from "$out" rs1) $(distinct "$out")" "0 0 2" "after removing rs1: failed requests, answers from rs1, real servers answering"

log "a reload adds a virtual server, the next removes it; a service made by hand stays"
dt dir1 service add tcp "$VIP4:8080"
{ conf 2 3; PORT=81 conf 2; } >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
ports() { list_json dir1 '[s.port for s in d.services]'; }
end=$((SECONDS + 10))
until [ "$(ports)" = "[80,8080,81]" ]; do
	((SECONDS < end)) || fail "services after adding :81: $(ports)"
	snooze 0.3
done
log "ok: :81 added"
conf 2 3 >"$VRRP_DIR/d1.toml"
vrrpd_signal dir1 HUP
end=$((SECONDS + 10))
until [ "$(ports)" = "[80,8080]" ]; do
	((SECONDS < end)) || fail "services after removing :81: $(ports)"
	snooze 0.3
done
log "ok: :81 deleted, :8080 (made by hand) left alone"

log "vrrpd restarts: drlb is left as it is until the checks decide"
vrrpd_stop dir1
mapfile -t before <"$VRRP_DIR/dir1.log"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_role dir1 2 up 10
wait_role dir1 3 up 10
sleep 1.2 # a periodic sync too
mapfile -t after <"$VRRP_DIR/dir1.log"
for line in "${after[@]:${#before[@]}}"; do
	[[ $line != *drlb-tool* ]] || fail "the restarted vrrpd changed drlb: $line"
done
log "ok: no change to drlb across the restart"
expect_eq "$(weights)" '[["22",1],["23",1]]' "weights after the restart"
out=$(requests http "$VIP4" 80 4)
expect_eq "$(count_matching "$out" ERROR)" 0 "failed requests after the restart"
