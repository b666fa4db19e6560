# The module comes and goes under a running vrrpd (lb = true, one virtual
# server), on two directors:
#
#   client --(VIP via dir1, later via dir2)--> dir1 (vrrpd 150: MASTER, drlb)
#                                              dir2 (vrrpd 100: BACKUP, drlb) --> rs1, rs2
#
# 1. vrrpd starts before drlb is loaded: its instance is in FAULT, saying
#    why, and retries; insmod, and within seconds it is MASTER, drlb is
#    active and holds the virtual server, and the VIP answers.
# 2. rmmod + insmod under both daemons: each sets the fresh module's state
#    to match its instance (dir1 active, dir2 standby), dir2 before it
#    programs any service, and programs its services again; traffic flows.
# 3. start_standby=1: a module loaded on the backup director, before its
#    vrrpd has a say, forwards nothing; it stays standby once vrrpd runs.
. lib/testlib.sh
. lib/vrrp.sh
drlb_unload
topo_up -d 2 -r 2 -p 80
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
DIR1=198.51.100.3 DIR2=198.51.100.4
vs() {
	printf '[[virtual_server]]\nprotocol = "tcp"\naddress = "%s:80"\nscheduler = "rr"\n' "$VIP4"
	printf '[[virtual_server.real]]\naddress = "%s"\n' "$(rs4 1)" "$(rs4 2)"
}
{ VRRP_INTERVAL_MS=1000 VRRP_LB=true vrrp_conf dir1 150; vs; } >"$VRRP_DIR/d1.toml"
{ VRRP_INTERVAL_MS=1000 VRRP_LB=true vrrp_conf dir2 100; vs; } >"$VRRP_DIR/d2.toml"
# What drlb holds in HOST: its state, then each service as vrrpd programs it.
held() {
	local s l
	s=$(dt "$1" state) || { echo "unloaded"; return; }
	l=$(list_json "$1" '" ".join(f"{s.scheduler}:{s.state}:" + ",".join(f"{r.address[-2:]}/{r.weight}" for r in s.reals) for s in d.services)')
	echo "$s $l"
}
wait_held() { # HOST EXPECTED SECONDS
	local end=$((SECONDS + $3)) h
	until h=$(held "$1") && [ "$h" = "$2" ]; do
		((SECONDS < end)) || fail "$1's drlb holds '$h', not '$2', after $3 s"
		snooze 0.2
	done
	log "ok: $1's drlb holds: $2"
}
alive() { kill -0 "${VRRPD_PID[$1]}" 2>/dev/null || fail "$1's vrrpd died: $(tail -n 5 "$VRRP_DIR/$1.log")"; }
# HOST's drlb, for the virtual server: "connections/packets" it forwarded.
forwarded() { list_json "$1" 'f"{d.services[0].stats.conns}/{d.services[0].stats.packets}"'; }

log "1. vrrpd before drlb: dir1's instance waits in FAULT and retries"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
wait_state dir1 FAULT 20
out=$(ip netns exec "$(ns dir1)" "$VRRPD" status)
[[ $out == *"fault: cannot switch drlb to active: the drlb module is not loaded"* ]] ||
	fail "dir1's status does not say why: $out"
log "ok: FAULT, because drlb is not loaded"
! holds_vip dir1 || fail "dir1 holds the VIP in FAULT"
snooze 2
alive dir1
[ "$(vrrp_state dir1)" = FAULT ] || fail "dir1 left FAULT without drlb: $(vrrp_state dir1)"
insmod "$DRLB_KO"
t0=$(now_ms)
wait_held dir1 "active rr:active:21/1,22/1" 20
wait_state dir1 MASTER 10
log "ok: dir1 MASTER, drlb programmed and active $(($(now_ms) - t0)) ms after insmod returned"
wait_resolved dir1
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering through dir1"

log "2. rmmod + insmod under both daemons"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 BACKUP 20
wait_held dir2 "standby rr:standby:21/1,22/1" 10
mapfile -t before <"$VRRP_DIR/dir2.log"
rmmod drlb
snooze 1.5
alive dir1
alive dir2
# A master without drlb cannot do its job: it resigns (FAULT) so that a
# peer with a drlb takes over; here both directors lost the same module,
# so both are in FAULT until it is back.
wait_state dir1 FAULT 10
wait_state dir2 FAULT 10
log "ok: both directors in FAULT while drlb is away"
insmod "$DRLB_KO"
t0=$(now_ms)
wait_held dir1 "active rr:active:21/1,22/1" 20
wait_held dir2 "standby rr:standby:21/1,22/1" 10
log "ok: both programmed again $(($(now_ms) - t0)) ms after insmod returned"
wait_state dir1 MASTER 20
wait_state dir2 BACKUP 20
alive dir1
alive dir2
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "MASTER BACKUP" "VRRP states after the reload"
# dir2's drlb was active (the default) until its vrrpd set it: standby must
# come before any service, so that nothing is forwarded meanwhile.
mapfile -t after <"$VRRP_DIR/dir2.log"
first=
for line in "${after[@]:${#before[@]}}"; do
	case $line in
	*"drlb: namespace standby"*) first=standby; break ;;
	*"drlb-tool service add"*) first=service; break ;;
	esac
done
expect_eq "$first" standby "dir2's first request to the reloaded module"
# (the unloading heard from the generic netlink controller, not found by a
# failed request; the loading is heard too, or found by the periodic sync
# if that comes first, which the log says either way)
[[ ${after[*]:${#before[@]}} == *"drlb was unloaded: waiting"*"drlb was loaded"* ]] ||
	fail "dir2's vrrpd did not hear drlb go and come: ${after[*]:${#before[@]}}"
log "ok: dir2's vrrpd heard drlb go, and found it back"
wait_resolved dir1
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering through dir1 after the reload"

log "3. start_standby=1: drlb loaded on the backup before its vrrpd has a say"
vrrpd_stop dir2
rmmod drlb
insmod "$DRLB_KO" start_standby=1
expect_eq "$(cat /sys/module/drlb/parameters/start_standby)" Y "start_standby"
expect_eq "$(dt dir2 state)" standby "dir2's state at load"
ip netns add "$(ns late)"
expect_eq "$(status_field late state)" standby "a namespace made after the load"
ip netns del "$(ns late)"
# dir1's vrrpd makes its own drlb active: it is MASTER.
wait_held dir1 "active rr:active:21/1,22/1" 20
# A service in dir2 (as a boot script restoring a saved configuration
# would make it), and the client's traffic sent to dir2: its drlb forwards
# none of it (dir2 routes it to the VIP's holder, dir1).
dt dir2 -b - <<EOF
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
EOF
wait_resolved dir2
n client ip route replace "$VIP4/32" via "$DIR2"
requests tcp "$VIP4" 80 4 --timeout 3 >/dev/null
expect_eq "$(forwarded dir2)" "0/0" "dir2's drlb: connections/packets forwarded"
log "dir2's vrrpd starts: BACKUP, and its drlb stays standby"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir2 BACKUP 20
wait_held dir2 "standby rr:standby:21/1,22/1" 10
snooze 1.5 # (a periodic resync)
alive dir2
expect_eq "$(dt dir2 state)" standby "dir2's state after vrrpd's resyncs"
requests tcp "$VIP4" 80 4 --timeout 3 >/dev/null
expect_eq "$(forwarded dir2)" "0/0" "dir2's drlb: connections/packets forwarded"
n client ip route replace "$VIP4/32" via "$DIR1"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(distinct "$out")" 2 "real servers answering through dir1"
alive dir1
