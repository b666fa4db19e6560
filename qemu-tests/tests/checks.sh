# vrrpd checks the real servers and drives dir1's drlb; a single director
# (virtual servers only, no VRRP instance):
#
#   client ---- dir1 (drlb; vrrpd: http checks every 500 ms) ---- rs1, rs2 (nginx)
#                                                         \------ rs3 (nginx: sorry server)
#
# A server whose nginx stops leaves rotation within fall x interval + one
# interval, and is back within rise x interval + one interval; a wrong
# status, or a body without the expected text, fails it; with every server
# down the sorry server answers; drains need privilege; changes made by
# hand are put back, services vrrpd does not manage are left alone; a
# reloaded module is programmed again; /metrics moves with the traffic.
. lib/testlib.sh
. lib/vrrp.sh
. lib/nginx-rs.sh
drlb_load
topo_up -d 1 -r 3 -c
trap 'vrrpd_stop dir1; topo_down' EXIT
for i in 1 2 3; do nginx_rs "$i"; done
cat >"$VRRP_DIR/d1.toml" <<EOF2
metrics_listen = "127.0.0.1:9650"

[[virtual_server]]
protocol = "tcp"
address = "$VIP4:80"
scheduler = "rr"
sorry_server = "$(rs4 3)"

[virtual_server.check]
type = "http"
interval_ms = 500
timeout_ms = 400
rise = 2
fall = 2
path = "/healthz"
expect = "OK"

[[virtual_server.real]]
address = "$(rs4 1)"

[[virtual_server.real]]
address = "$(rs4 2)"
EOF2
n dir1 "$VRRPD" check-config "$VRRP_DIR/d1.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"

# Milliseconds from $1 (ms since the epoch) to rsN's last check transition.
since() {
	local at
	at=$(real_q dir1 "$2" 'check.last_transition * 1000')
	expect_le "$((${at%.*} - $1))" "$3" "$4"
}
weights() { list_json dir1 '[(r.address[-2:], r.weight) for r in d.services[0].reals]'; }

log "both servers rise (their checks pass twice) and take traffic"
wait_role dir1 1 up 15
wait_role dir1 2 up 15
wait_resolved dir1
out=$(requests http "$VIP4" 80 4)
expect_eq "$(count_matching "$out" ERROR) $(distinct "$out")" "0 2" "failed requests, and real servers answering"

log "nginx stops on rs1: it leaves rotation within 2 x 500 + 500 ms"
nginx_rs_stop 1
t0=$(now_ms) # (nginx is gone: starting and stopping it take seconds in a busy guest)
wait_role dir1 1 down 10
since "$t0" 1 1500 "ms from nginx's stop to rs1's removal"
expect_eq "$(real_q dir1 1 check.reason)" "Connection refused" "rs1's check failure"
expect_eq "$(weights)" '[["21",0],["22",1]]' "drlb's weights"
out=$(requests http "$VIP4" 80 6)
expect_eq "$(answers_from "$out" rs2)" 6 "new connections to rs2"

log "nginx starts again on rs1: it is back within 2 x 500 + 500 ms"
nginx_rs 1
t0=$(now_ms) # (nginx listens once nginx_rs returns)
wait_role dir1 1 up 10
since "$t0" 1 1500 "ms from nginx's start to rs1's return"
out=$(requests http "$VIP4" 80 4)
expect_eq "$(count_matching "$out" ERROR) $(distinct "$out")" "0 2" "failed requests, and real servers answering"

log "rs2 answers /healthz with 503, then with a body without 'OK': it stays out"
rs_health 2 down
wait_role dir1 2 down 10
expect_eq "$(real_q dir1 2 check.reason)" "HTTP 503, expected 200" "rs2's check failure"
out=$(requests http "$VIP4" 80 4)
expect_eq "$(answers_from "$out" rs1)" 4 "new connections to rs1 (rs2 still serves /, but fails its check)"
rs_health 2 degraded
end=$((SECONDS + 10))
until [ "$(real_q dir1 2 check.reason)" = 'body lacks "OK"' ]; do
	((SECONDS < end)) || fail "rs2's check reason: $(real_q dir1 2 check.reason)"
	snooze 0.2
done
expect_eq "$(real_q dir1 2 role)" down "rs2 with a 200 that lacks 'OK'"
rs_health 2 ok
wait_role dir1 2 up 10

log "every real server down: the sorry server (rs3) answers; back when one recovers"
nginx_rs_stop 1
rs_health 2 down
wait_role dir1 1 down 10
wait_role dir1 2 down 10
wait_role dir1 3 "sorry server" 5
out=$(requests http "$VIP4" 80 3)
expect_eq "$(answers_from "$out" rs3)" 3 "answers from the sorry server"
nginx_rs 1
rs_health 2 ok
wait_role dir1 1 up 10
wait_role dir1 2 up 10
expect_eq "$(weights)" '[["21",1],["22",1]]' "drlb's real servers once they recovered (no sorry server)"

log "drain and undrain over the control socket: root only"
nobody() { n "$1" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "${@:2}"; }
expect_fail 'need root' nobody dir1 "$VRRPD" drain tcp "$VIP4:80" "$(rs4 1)"
expect_fail 'no real server 198.51.100.29' n dir1 "$VRRPD" drain tcp "$VIP4:80" "$(rs4 9)"
n dir1 "$VRRPD" drain tcp "$VIP4:80" "$(rs4 1)"
expect_eq "$(real_q dir1 1 role)" drained "rs1 once drained"
expect_eq "$(weights)" '[["21",0],["22",1]]' "drlb's weights with rs1 drained"
out=$(requests http "$VIP4" 80 3)
expect_eq "$(answers_from "$out" rs2)" 3 "new connections while rs1 is drained"
n dir1 "$VRRPD" undrain tcp "$VIP4:80" "$(rs4 1)"
expect_eq "$(weights)" '[["21",1],["22",1]]' "drlb's weights after undrain"

log "hand changes to the managed service are put back; other services are left alone"
dt dir1 real edit tcp "$VIP4:80" "$(rs4 1)" --weight 7
dt dir1 real del tcp "$VIP4:80" "$(rs4 2)"
dt dir1 service add tcp "$VIP4:81"
end=$((SECONDS + 5))
until [ "$(weights)" = '[["21",1],["22",1]]' ]; do
	((SECONDS < end)) || fail "not put back: $(weights)"
	snooze 0.3
done
log "ok: weights put back"
grep -q 'put back: changed outside vrrpd' "$VRRP_DIR/dir1.log" || fail "no 'put back' line in vrrpd's log"
expect_eq "$(list_json dir1 '[s.port for s in d.services]')" "[80,81]" "services (vrrpd left tcp :81 alone)"
dt dir1 service del tcp "$VIP4:81"

log "drlb is reloaded under vrrpd: it programs the new module"
rmmod drlb
insmod "$DRLB_KO"
end=$((SECONDS + 10))
until [ "$(weights 2>/dev/null)" = '[["21",1],["22",1]]' ]; do
	((SECONDS < end)) || fail "the reloaded module was not programmed: $(weights)"
	snooze 0.3
done
wait_resolved dir1
out=$(requests http "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering through the reloaded module"

log "/metrics: the module's counters move with the traffic; checks and weights are there"
metric() { # TEXT NAME{LABELS}: its value
	local line
	while IFS= read -r line; do [[ $line == "$2 "* ]] && { echo "${line##* }"; return; }; done <<<"$1"
	fail "no $2 in the metrics"
}
svc="protocol=\"tcp\",vip=\"$VIP4\",port=\"80\""
m1=$(n dir1 curl -sf http://127.0.0.1:9650/metrics)
out=$(requests http "$VIP4" 80 5)
m2=$(n dir1 curl -sf http://127.0.0.1:9650/metrics)
c1=$(metric "$m1" "drlb_service_connections_total{$svc}")
c2=$(metric "$m2" "drlb_service_connections_total{$svc}")
expect_eq "$((c2 - c1))" 5 "drlb_service_connections_total after 5 requests"
expect_eq "$(metric "$m2" "vrrpd_check_up{$svc,real=\"$(rs4 1)\"}")" 1 "vrrpd_check_up of rs1"
expect_eq "$(metric "$m2" "vrrpd_real_weight{$svc,real=\"$(rs4 2)\"}")" 1 "vrrpd_real_weight of rs2"
expect_ge "$(metric "$m2" "vrrpd_check_transitions_total{$svc,real=\"$(rs4 1)\"}")" 5 "rs1's check transitions"
expect_eq "$(metric "$m2" drlb_up)" 1 "drlb_up"
[[ $m2 == *"# TYPE drlb_service_connections_total counter"* ]] || fail "no TYPE line"
expect_fail 'returned error: 404|404' n dir1 curl -sSf http://127.0.0.1:9650/
