# Connection sync between two directors (issue 15): held connections
# survive a crash of the master and its return, on their own real servers.
#
#   client .2: hold.py, 200 TCP connections to VIP:80, a line each every
#      |       5 s, answered by "rsN ..." (which real server answered)
#      |  (ARP for the VIP, wherever VRRP puts it)
#   ---+--- br0 ---+-------------------------------+--- rs1 .21, rs2 .22
#      dir1 .3 (vrrpd 150, drlb)       dir2 .4 (vrrpd 100, drlb)
#      VRRPv3 vrid 51, 300 ms adverts, VIP 198.51.100.10:80 rr, check none
#      [sync] interface eth0, peers = the other one, key "s3cret"
#         dir1 <--- UDP 8849 (records, pulls) ---> dir2
#
# Phases (CONN_SYNC_PHASES, default "bad rr maglev"):
#   bad     hand-made sync datagrams to dir2 (lib/sync-send.py): a good one
#           from dir1's address is applied (the format is right); then a
#           wrong key, no MAC, too short, records cut, a truncated
#           datagram, version 2, a non-peer source, an unknown service:
#           dir2's table does not change, and each is counted (vrrpd's
#           non_peer, bad_auth, malformed, bad_version; the module's
#           unknown).
#   rr      200 held connections; dir2's table holds them on the same real
#           servers; kill -9 of dir1's vrrpd and its link down: dir2 MASTER,
#           every connection alive and on its first real server (0 resets,
#           0 timeouts, 0 moved). dir1 comes back as after a reboot (its
#           service, connections, VIP and neighbours gone), pulls dir2's
#           table and only then preempts: again 0 lost, 0 moved.
#   maglev  the same crash with maglev and no [sync]: the stateless path
#           (mid-flow segments placed by the Maglev table) loses none.
#   control (not in the default) the same crash with rr and no [sync]: the
#           measurement must see connections lost (about half).
. lib/testlib.sh
. lib/vrrp.sh
. lib/hold.sh
drlb_load
topo_up -d 2 -r 2 -p 80
trap 'hold_stop; vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
# The client reaches the VIP on the segment, wherever VRRP puts it.
n client ip route del "$VIP4/32"
PHASES=${CONN_SYNC_PHASES:-bad rr maglev}
N=${CONN_SYNC_CONNS:-200}
# VRRPv3 adverts every 300 ms. At 100 ms (Master_Down_Interval 360 ms)
# under TCG on a busy host, a returning director's master down timer
# fired before it heard the master (it became MASTER before its pull was
# done, placing mid-flow segments without state), and the peer missed
# adverts and flapped: 4 of 200 connections reset in the return.
ADVERT_MS=${CONN_SYNC_ADVERT_MS:-300}
# Under TCG, with the debug kernel, the guest answers at most 150-200 of
# these requests a second in all, and far fewer when other guests share
# the host: at 100 ms each, 200 connections would only queue (requests
# waiting seconds) and starve vrrpd and the scenario. They send a line
# every 5 s (CONN_SYNC_INTERVAL=0.1 where the machine allows).
export HOLD_INTERVAL=${CONN_SYNC_INTERVAL:-5}
# An answer later than this counts as a timeout. A takeover takes one to
# several seconds of the guest's time under TCG on a busy host, and TCP
# retransmits after 0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4 s: after an outage
# of 7 s the answer comes 12.6 s after its request. A connection that
# answers at all is alive (on its real server: moves are counted apart);
# the log gives each event's longest wait.
HOLD_TIMEOUT=${CONN_SYNC_HOLD_TIMEOUT:-30}
KEY=s3cret

conf() { # PRIO SCHEDULER PEER|-: a director's vrrpd.toml (PEER: [sync] with it)
	cat <<EOF
[[instance]]
name = "vi1"
interface = "eth0"
vrid = 51
priority = $1
advert_interval_ms = $ADVERT_MS
virtual_ips = ["$VIP4/32"]

[[virtual_server]]
protocol = "tcp"
address = "$VIP4:80"
scheduler = "$2"
instance = "vi1"
$([ "$2" != maglev ] || echo 'mh_port = true # (one client address: spread by port)')

[virtual_server.check]
type = "none"

[[virtual_server.real]]
address = "$(rs4 1)"

[[virtual_server.real]]
address = "$(rs4 2)"
EOF
	[ "$3" = - ] || printf '\n[sync]\ninterface = "eth0"\npeers = ["%s"]\nkey = "%s"\n' "$3" "$KEY"
}

# After an event: every held connection answered since the takeover,
# none reset, timed out or moved since just before the event (a slow
# answer while 200 connections open, under a loaded host, is no loss).
hold_settled() { # SECONDS WHAT
	hold_through "$1"
	log "$2: $(hold_sum)"
	log "  since the event: $(hold_q '"%d resets, %d timeouts, %d moved, the longest wait %d ms; %d answered since the takeover" % (d.window_resets, d.window_timeouts, d.window_moved, d.window_max_wait_ms, d.since_mark)')"
	local got
	got=$(hold_q '[d.alive, d.since_mark, d.window_resets, d.window_timeouts, d.window_moved]')
	[ "$got" = "[$N,$N,0,0,0]" ] || diagnose
	expect_eq "$got" "[$N,$N,0,0,0]" "held connections $2 [alive, answered since the takeover, resets, timeouts, moved since the event]"
}
# What a failure needs to be understood: hold.py's first events (seconds
# since its start, now at hold.py's "seconds"), each director's sync
# counters, exceptional-path counters and the end of its vrrpd's log.
diagnose() {
	local h
	log "hold.py at $(hold_q d.seconds) s, its events:"
	hold_q '"\n".join(d.events)' | sed 's/^/    | /'
	# (resets sent by each host's own TCP: a real server's for a segment
	# of a connection it does not have, a director's for one delivered to
	# its own stack, as when it holds the VIP while its drlb is standby)
	local rsts=
	for h in dir1 dir2 rs1 rs2; do
		rsts+=" $h $(n $h awk '/^Tcp:/ { if (!s) { for (i = 1; i <= NF; i++) if ($i == "OutRsts") c = i; s = 1 } else print $c }' /proc/net/snmp)"
	done
	log "TCP resets sent (OutRsts):$rsts"
	for h in dir1 dir2; do
		log "$h: drlb-tool sync, limits; its vrrpd's log (last lines)"
		{ dt $h sync; dt $h limits; } 2>&1 | sed 's/^/    | /'
		tail -n 15 "$VRRP_DIR/$h.log" | sed 's/^/    | /'
	done
}

# A director's table as "client:port>real" of its established
# connections, sorted (the expiry left out: it differs by design).
table() { # DIR
	q "sorted('%s:%s>%s' % (c.client, c.client_port, c.real) for c in d if c.port == 80 and c.state == 'ESTABLISHED')" \
		dt "$1" conns --json
}
table_count() { q "len([c for c in d if c.port == 80 and c.state == 'ESTABLISHED'])" dt "$1" conns --json; }
# Until DIR2's table matches DIR1's whole (and has N connections).
wait_tables_equal() { # FROM TO SECONDS
	local end=$((SECONDS + $3)) a b
	while a=$(table "$1") b=$(table "$2"); [ "$a" != "$b" ] || [ "$(table_count "$2")" != "$N" ]; do
		((SECONDS < end)) || fail "$2's table never matched $1's: $(table_count "$1") against $(table_count "$2") established"
		snooze 1
	done
	log "ok: $2's table = $1's ($N established, same real servers)"
}
sync_counts() { # DIR: [applied, unknown, non_peer, bad_auth, malformed, bad_version]
	q '[d.module.applied, d.module.unknown, d.vrrpd.non_peer, d.vrrpd.bad_auth, d.vrrpd.malformed, d.vrrpd.bad_version]' \
		dt "$1" sync --json
}
add() { # JSON-LIST JSON-LIST: element-wise sum, as the JSON jsonq prints
	local -a x y; local i out=
	IFS=, read -ra x <<<"${1//[\[\] ]/}"
	IFS=, read -ra y <<<"${2//[\[\] ]/}"
	for i in "${!x[@]}"; do out+=${out:+,}$((x[i] + y[i])); done
	echo "[$out]"
}

start_pair() { # SCHEDULER sync|nosync
	local p1=- p2=-
	[ "$2" = nosync ] || p1=$(dir4 2) p2=$(dir4 1)
	conf 150 "$1" "$p1" >"$VRRP_DIR/d1.toml"
	conf 100 "$1" "$p2" >"$VRRP_DIR/d2.toml"
	vrrpd_start dir1 "$VRRP_DIR/d1.toml"
	vrrpd_start dir2 "$VRRP_DIR/d2.toml"
	wait_state dir1 MASTER 30
	wait_state dir2 BACKUP 20
	wait_list dir1 'd.services[0].state' active 10
	wait_list dir2 'd.services[0].state' standby 10
	wait_resolved dir1
	wait_resolved dir2
	holds_vip dir1 || fail "dir1 lacks the VIP"
	log "ok: dir1 MASTER (active), dir2 BACKUP (standby): $1, $2"
}
stop_pair() {
	hold_stop
	vrrpd_stop dir2
	vrrpd_stop dir1
	dt dir1 flush
	dt dir2 flush
	n dir1 ip addr del "$VIP4/32" dev eth0 2>/dev/null || true
	n dir2 ip addr del "$VIP4/32" dev eth0 2>/dev/null || true
}
# The master crashes: kill -9 of its vrrpd, its link down (the director is
# gone); dir2 must become MASTER, its service active.
crash_dir1() {
	hold_window
	vrrpd_crash dir1 dir2
	wait_list dir2 'd.services[0].state' active 10
}

if [[ " $PHASES " == *" bad "* || " $PHASES " == *" rr "* ]]; then
	start_pair rr sync
fi

if [[ " $PHASES " == *" bad "* ]]; then
	log "bad sync datagrams to dir2 (peer dir1 $(dir4 1), key $KEY)"
	peer=/run/netns/drlb-$TOPO_TAG-dir1@$(dir4 1)
	send() { python3 -S lib/sync-send.py "$(dir4 2)" 8849 "$KEY" "$@"; }
	c0=$(sync_counts dir2)
	log "counts [applied, unknown, non_peer, bad_auth, malformed, bad_version]: $c0"
	send "good=$peer" >/dev/null
	want=$(add "$c0" "[1,0,0,0,0,0]")
	wait_for "the good datagram applied" 10 eval '[ "$(sync_counts dir2)" = "$want" ] && echo y'
	expect_eq "$(q "[(c.client_port, c.real, c.state) for c in d]" dt dir2 conns --client 203.0.113.7 --json)" \
		'[[40001,"198.51.100.21","ESTABLISHED"]]' "the good datagram's connection on dir2"
	before=$(q 'sorted((c.client, c.client_port, c.vip, c.port, c.real, c.state) for c in d)' dt dir2 conns --json)
	c1=$(sync_counts dir2)
	send "wrongkey=$peer" "nomac=$peer" "short=$peer" "cut=$peer" "trunc=$peer" "badver=$peer" \
		"nonpeer=/run/netns/drlb-$TOPO_TAG-client" "unknown=$peer" | while read -r l; do log "sent $l"; done
	want=$(add "$c1" "[0,1,1,2,3,1]")
	end=$((SECONDS + 10))
	until [ "$(sync_counts dir2)" = "$want" ]; do ((SECONDS < end)) || break; snooze 0.5; done
	snooze 1 # (and nothing more comes)
	expect_eq "$(sync_counts dir2)" "$want" \
		"dir2's counts [applied, unknown, non_peer, bad_auth, malformed, bad_version] after 8 bad datagrams"
	expect_eq "$(q 'sorted((c.client, c.client_port, c.vip, c.port, c.real, c.state) for c in d)' dt dir2 conns --json)" \
		"$before" "dir2's connection table after them (unchanged)"
	dt dir2 conn del --client 203.0.113.7
	expect_eq "$(q 'len(d)' dt dir2 conns --client 203.0.113.7 --json)" 0 "the good datagram's connection, deleted"
fi

if [[ " $PHASES " == *" rr "* ]]; then
	log "rr with [sync]: $N held connections through dir1"
	hold_start "$N" 80 "$HOLD_TIMEOUT"
	log "held: $(hold_sum)"
	wait_tables_equal dir1 dir2 60

	log "dir1 crashes: kill -9 of its vrrpd, its link down"
	crash_dir1
	hold_settled 30 "after the crash"

	log "dir1 returns as after a reboot: no service, connections, VIP or neighbours; link up, vrrpd started"
	dt dir1 flush
	expect_eq "$(table_count dir1)" 0 "connections on dir1 before its return"
	n dir1 ip -force -b - <<EOF
addr del $VIP4/32 dev eth0
neigh flush dev eth0
link set eth0 up
EOF
	mapfile -t since <"$VRRP_DIR/dir1.log"
	lines0=${#since[@]}
	hold_window
	t0=$(now_ms)
	vrrpd_start dir1 "$VRRP_DIR/d1.toml"
	wait_state dir1 MASTER 30
	log "dir1 MASTER again $(($(now_ms) - t0)) ms after its start"
	wait_state dir2 BACKUP 10
	wait_list dir1 'd.services[0].state' active 10
	wait_list dir2 'd.services[0].state' standby 10
	hold_settled 30 "after dir1's return"
	wait_tables_equal dir2 dir1 10
	# What vrrpd says of its pull: in its status, and in its log, where
	# the hold on preemption ends with the table's arrival before MASTER.
	log "dir1's sync status: $(q '"pull %s, %s records received" % (d.vrrpd.pull, d.vrrpd.records_received)' dt dir1 sync --json)"
	mapfile -t since <"$VRRP_DIR/dir1.log"
	since=("${since[@]:lines0}")
	arrived_at= master_at=
	for i in "${!since[@]}"; do
		l=${since[$i]}
		[[ $l != *"bound passed"* ]] || fail "dir1 preempted on the bound, not the table: $l"
		[ -n "$arrived_at" ] || [[ $l != *"table arrived"* ]] || arrived_at=$i
		[ -n "$master_at" ] || [[ $l != *MASTER* ]] || master_at=$i
	done
	printf '    | %s\n' "${since[@]:0:20}"
	[ -n "$arrived_at" ] || fail "dir1's log does not say the table arrived"
	[ -n "$master_at" ] || fail "dir1's log has no MASTER after its return"
	((arrived_at < master_at)) || fail "dir1's log: MASTER (line $master_at) before the table arrived (line $arrived_at)"
	log "ok: dir1's log: '${since[$arrived_at]}' before '${since[$master_at]}'"
	stop_pair
fi

if [[ " $PHASES " == *" maglev "* ]]; then
	log "maglev without [sync]: $N held connections through dir1"
	start_pair maglev nosync
	hold_start "$N" 80 "$HOLD_TIMEOUT"
	log "held: $(hold_sum)"
	expect_eq "$(table_count dir2)" 0 "connections on dir2 (no sync)"
	log "dir1 crashes: kill -9 of its vrrpd, its link down"
	crash_dir1
	hold_settled 30 "after the crash"
	stop_pair
	n dir1 ip link set eth0 up
fi

if [[ " $PHASES " == *" control "* ]]; then
	log "control: rr without [sync]: the crash must lose connections"
	start_pair rr nosync
	hold_start "$N" 80 "$HOLD_TIMEOUT"
	log "held: $(hold_sum)"
	crash_dir1
	hold_through 30
	log "after the crash: $(hold_sum)"
	expect_ge "$(hold_q 'd.window_resets + d.window_timeouts + d.window_moved')" 1 "connections lost or moved without sync"
	stop_pair
	n dir1 ip link set eth0 up
fi
