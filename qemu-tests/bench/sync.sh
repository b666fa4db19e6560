# shellcheck shell=bash
# Connection sync's throughput (issue 15): sourced by bench.sh after its
# blocks (BENCH_EXTRAS), with arms.sh's topology up. A second director, the
# standby, joins the master (the topology's director):
#
#   director (master, active)  sy0 10.5.0.1 ---- sy0 10.5.0.2  standby (drlb standby)
#                                                eth1 10.2.0.1 (the real server's net, a veth
#                                                to nowhere: the real resolves, nothing is sent)
#
# Both have drlb's service udp VIP:5000 (rr, flood mode off: one entry a new
# flow) with the real server 10.2.0.2. vrrpd runs on both with a VRRP
# instance on sy0 (lb = false: the master's drlb stays active, the
# standby's standby) and [sync] over sy0, unicast, with a key (HMAC-SHA256):
# the path measured is the master's queue -> its vrrpd (SYNC_READ every
# 20 ms, datagrams) -> the standby's vrrpd -> SYNC_WRITE -> its table.
#
# 1. The master's cost of queuing, without vrrpd: pktgen windows of
#    SYNC_COST_PKTS (8000, after 512 of warm-up: all fit the queue's 10922
#    records without a reader) all-new flows at full speed, with sending
#    off and on in turn (SYNC_COST_REPS pairs, 8, ABBA), the queue emptied
#    between windows. One {"kind":"cost"} line each in $OUT/sync.jsonl.
# 2. The relay's throughput: vrrpd on both sides, then new flows through
#    the master at each rate of SYNC_RATES ("2000 5000 10000 20000 50000
#    100000 max", per second of guest time; pktgen's delay; "max": no
#    delay, SYNC_MAX_PKTS packets) for SYNC_SECONDS (4) each, then until
#    the standby holds as many entries as the master (SYNC_CATCHUP, 10 s,
#    at most); then both tables are emptied (conn del). A first "idle"
#    step of SYNC_SECONDS without traffic gives the daemons' idle cost.
#    syncbench.py samples both tables, both modules' sync counters and
#    both daemons' CPU time every SYNC_SAMPLE_MS (50) into
#    $OUT/sync-samples.jsonl; one {"kind":"step"} line per rate and the
#    daemons' "sync" status before and after in $OUT/sync.jsonl.
# syncanalyze.py (run by analyze.py) makes the lag, losses and CPU cost per
# rate, and the largest rate the standby follows within 1 s, of these.
#
# Needs VRRPD (the vrrpd binary) besides arms.sh's DRLB_KO and DRLB_TOOL.

sync_lib=$here/../lib
sync_dir=$(mktemp -d /tmp/bench-sync.XXXX)
sync_py=/usr/bin/python3
SYNC_RATES=${SYNC_RATES:-2000 5000 10000 20000 50000 100000 max}
SYNC_SECONDS=${SYNC_SECONDS:-4}
declare -A sync_pid=()
: >>"$OUT/sync.jsonl"

sdt() { "$DRLB_TOOL" -n "$(bns "$1")" -b -; }
sync_rec() { bn "$1" "$sync_py" "$sync_lib/syncrec.py" "${@:2}"; }
sync_counts() { # the two tables' entries: "M S"
	local m s
	m=$("$DRLB_TOOL" -n "$(bns d)" limits) s=$("$DRLB_TOOL" -n "$(bns s)" limits)
	m=${m#connections: } s=${s#connections: }
	echo "${m%% *} ${s%% *}"
}
sync_cleanup() {
	local h
	for h in "${!sync_pid[@]}"; do kill "${sync_pid[$h]}" 2>/dev/null; wait "${sync_pid[$h]}" 2>/dev/null; done
	sync_pid=()
	ip link del sy0 netns "$(bns d)" 2>/dev/null
	[ ! -e "/run/netns/$(bns s)" ] || ip netns del "$(bns s)"
	lsmod | grep -q '^drlb ' && rmmod drlb
	rm -rf "$sync_dir"
}

sync_run() {
	# the standby's namespace and the sync link
	ip netns add "$(bns s)"
	bn s sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -b - <<EOF || return 1
link add sy0 netns $(bns d) address 02:00:00:00:05:01 type veth peer name sy0 netns $(bns s) address 02:00:00:00:05:02
link add eth1 netns $(bns s) address 02:00:00:00:06:01 type veth peer name eth9 netns $(bns s) address 02:00:00:00:06:02
EOF
	ip -n "$(bns d)" -b - <<EOF || return 1
addr add 10.5.0.1/24 dev sy0
link set sy0 up
neigh replace 10.5.0.2 lladdr 02:00:00:00:05:02 dev sy0 nud permanent
EOF
	ip -n "$(bns s)" -b - <<EOF || return 1
link set lo up
addr add $B_VIP/32 dev lo
addr add 10.5.0.2/24 dev sy0
link set sy0 up
addr add $B_DIR_OUT/24 dev eth1
link set eth1 up
link set eth9 up
neigh replace 10.5.0.1 lladdr 02:00:00:00:05:01 dev sy0 nud permanent
neigh replace $B_REAL lladdr $B_MAC_REAL dev eth1 nud permanent
EOF
	insmod "$DRLB_KO" || return 1
	local h
	for h in d s; do
		sdt "$h" <<EOF || return 1
limits --flood-rate 0 --conn-max 1048576
service add udp $B_VIP:$B_PORT --scheduler rr
real add udp $B_VIP:$B_PORT $B_REAL
EOF
	done
	"$DRLB_TOOL" -n "$(bns s)" state standby || return 1
	local end=$((SECONDS + 20))
	while [[ $("$DRLB_TOOL" -n "$(bns d)" list; "$DRLB_TOOL" -n "$(bns s)" list) == *unresolved* ]]; do
		((SECONDS < end)) || { log "sync: a real server stays unresolved"; return 1; }
		bench_snooze 0.2
	done
	ARM=drlb

	# 1. the cost of queuing, vrrpd not running
	local reps=${SYNC_COST_REPS:-8} pkts=${SYNC_COST_PKTS:-8000} r on order g
	for ((r = 1; r <= reps; r++)); do
		order="0 1"
		((r % 2 == 0)) && order="1 0"
		for on in $order; do
			[ "$on" = 0 ] || sync_rec d set 1 >/dev/null || return 1
			# (what the last window and command left, freed buffers and the
			# like, runs before this window, not in it)
			bench_snooze "${BENCH_SETTLE:-1}"
			window new "$pkts" 512 || return 1
			g='{}'
			if [ "$on" = 1 ]; then
				g=$(sync_rec d get) || return 1
				sync_rec d set 0 >/dev/null
			fi
			echo "{\"kind\":\"cost\",\"rep\":$r,\"sync\":$on,\"usec\":$W_USEC,\"sent\":$W_SENT,\"warmup\":$W_WARM,\"errors\":$W_ERRORS,\"delivered\":$W_DELIVERED,\"module\":$g}" >>"$OUT/sync.jsonl"
			log "sync cost rep $r, sending $on: $((W_USEC * 1000 / W_SENT)) ns a new flow ($W_SENT sent, $W_DELIVERED delivered); $g"
		done
	done
	sdt d <<<"conn del --service udp $B_VIP:$B_PORT" >/dev/null

	# 2. the relay
	local key=bench-sync-key
	for h in d s; do
		local prio=150 me=10.5.0.1 peer=10.5.0.2
		[ "$h" = s ] && prio=100 me=10.5.0.2 peer=10.5.0.1
		cat >"$sync_dir/$h.toml" <<EOF
[[instance]]
name = "vi1"
interface = "sy0"
vrid = 51
priority = $prio
advert_interval_ms = 1000
virtual_ips = ["10.5.0.100/32"]
lb = false

[sync]
interface = "sy0"
peers = ["$peer"]
key = "$key"
EOF
		"$VRRPD" check-config "$sync_dir/$h.toml" >/dev/null || { log "sync: check-config refused $h.toml"; return 1; }
		# (ip itself, not bn: $! must be vrrpd, whose CPU time is read)
		ip netns exec "$(bns "$h")" "$VRRPD" --config "$sync_dir/$h.toml" 2>>"$OUT/sync-vrrpd-$h.log" &
		sync_pid[$h]=$!
		# (the master first: the standby's pull at start finds it)
		if [ "$h" = d ]; then
			end=$((SECONDS + 30))
			until [[ $(bn d "$VRRPD" status 2>/dev/null) == *MASTER* ]]; do
				((SECONDS < end)) || { log "sync: the master's vrrpd is not MASTER"; return 1; }
				bench_snooze 0.2
			done
		fi
	done
	end=$((SECONDS + 30))
	until [[ $(bn s "$VRRPD" status 2>/dev/null) == *BACKUP* ]]; do
		((SECONDS < end)) || { log "sync: the standby's vrrpd is not BACKUP"; return 1; }
		bench_snooze 0.2
	done
	bench_snooze 2
	for h in d s; do
		echo "{\"kind\":\"vrrpd\",\"side\":\"$h\",\"when\":\"before\",\"pid\":${sync_pid[$h]},\"sync\":$(bn "$h" "$VRRPD" status --json | jq -c .sync)}" >>"$OUT/sync.jsonl"
	done
	log "sync: vrrpd master (pid ${sync_pid[d]}) and standby (pid ${sync_pid[s]}) up; sync $(bn d "$VRRPD" status --json | jq -c '.sync | {pull, peers}')"
	: >"$OUT/sync-samples.jsonl"
	bn d "$sync_py" "$here/syncbench.py" sample "$OUT/sync-samples.jsonl" "$sync_dir/stop" "$(bns d)" "$(bns s)" \
		"${sync_pid[d]}" "${sync_pid[s]}" "${SYNC_SAMPLE_MS:-50}" 2>>"$OUT/bench.log" &
	sync_pid[probe]=$!
	bench_snooze 1

	local rate delay count t0 t1 t2 caught c
	for rate in idle $SYNC_RATES; do
		t0=$EPOCHREALTIME
		W_USEC=0 W_SENT=0 W_ERRORS=0 W_DELIVERED=0 delay=0 count=0
		case $rate in
		idle) bench_snooze "$SYNC_SECONDS" ;;
		max)
			count=${SYNC_MAX_PKTS:-600000}
			PKTGEN_DELAY=0 window new "$count" 0 || log "sync: pktgen failed at $rate"
			;;
		*)
			delay=$((1000000000 / rate)) count=$((rate * SYNC_SECONDS))
			export PKTGEN_DELAY=$delay
			window new "$count" 0 || log "sync: pktgen failed at $rate"
			unset PKTGEN_DELAY
			;;
		esac
		t1=$EPOCHREALTIME
		caught=$(bn d "$sync_py" "$here/syncbench.py" wait "$(bns d)" "$(bns s)" "${SYNC_CATCHUP:-10}")
		t2=$EPOCHREALTIME
		c=$(sync_counts)
		echo "{\"kind\":\"step\",\"rate\":\"$rate\",\"delay_ns\":$delay,\"count\":$count,\"t0\":${t0},\"t1\":${t1},\"t2\":${t2},\"usec\":$W_USEC,\"sent\":$W_SENT,\"errors\":$W_ERRORS,\"delivered\":$W_DELIVERED,\"wait\":\"$caught\",\"counts\":\"$c\"}" >>"$OUT/sync.jsonl"
		log "sync $rate/s: $W_SENT sent in $W_USEC us; standby: $caught; entries (master standby) $c"
		# (both tables emptied; the next step starts from 0)
		sdt d <<<"conn del --service udp $B_VIP:$B_PORT" >/dev/null
		bench_snooze 1
		sdt s <<<"conn del --service udp $B_VIP:$B_PORT" >/dev/null
		bench_snooze 1
	done
	touch "$sync_dir/stop"
	wait "${sync_pid[probe]}" 2>/dev/null
	unset 'sync_pid[probe]'
	for h in d s; do
		echo "{\"kind\":\"vrrpd\",\"side\":\"$h\",\"when\":\"after\",\"pid\":${sync_pid[$h]},\"sync\":$(bn "$h" "$VRRPD" status --json | jq -c .sync)}" >>"$OUT/sync.jsonl"
	done
	ARM=
}

if sync_run; then
	sync_cleanup
else
	log "sync: failed"
	sync_cleanup
	false
fi
