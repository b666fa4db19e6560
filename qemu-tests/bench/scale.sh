# shellcheck shell=bash
# The scale curves, sourced by bench.sh after its blocks (BENCH_EXTRAS),
# with arms.sh's topology up. One JSON line per point in $OUT/scale.jsonl:
#   {"curve","traffic","impl","x","usec","sent","delivered","floor_ns"}
# floor_ns is the median of SCALE_FLOOR_REPS (3) floor windows of the same
# traffic, measured first; a point's cost above the floor is
# usec*1000/sent - floor_ns.
#
#   conns     live connections 1 .. 1M (drlb and IPVS rr): the table is
#             filled with N flows (one packet each), then SCALE_PKTS
#             packets cycle through them
#   reals     real servers 1 .. 1024 (drlb rr and maglev, IPVS rr and mh),
#             all-new flows (a scheduling decision every packet) and
#             established ones
#   services  services 1 .. 10k (drlb and IPVS, rr, one real each),
#             traffic to the first service added, established and all-new
#   nonservice  traffic that is for no service (forwarded to the real's
#             own address): nothing loaded, drlb with a service in this
#             namespace, drlb with a service only in another namespace,
#             IPVS with a service in this namespace
# SCALE_CURVES ("conns reals services nonservice") picks them; SCALE_PKTS
# (50000) is the packets a point; SCALE_CONNS, SCALE_REALS, SCALE_SERVICES
# the points.

SCALE_PKTS=${SCALE_PKTS:-50000}
read -ra _conns_x <<<"${SCALE_CONNS:-1 100 10000 100000 1000000}"
read -ra _reals_x <<<"${SCALE_REALS:-1 4 16 64 256 1024}"
read -ra _svcs_x <<<"${SCALE_SERVICES:-1 10 100 1000 10000}"
declare -A _floor_ns=()

# scale_floor KEY [TRAFFIC]: the floor for TRAFFIC (default: KEY), measured
# once, kept under KEY (in thousandths of a ns)
scale_floor() {
	local key=$1 t=${2:-$1} i v=() s
	[ -z "${_floor_ns[$key]:-}" ] || return 0
	ARM=floor
	arm_up floor
	for ((i = 0; i < ${SCALE_FLOOR_REPS:-3}; i++)); do
		window "$t" "$SCALE_PKTS" 1024 || return 1
		v+=($((W_USEC * 1000000 / W_SENT)))
		[ "$W_DELIVERED" -eq "$W_SENT" ] || log "scale: floor $t lost $((W_SENT - W_DELIVERED)) packets"
	done
	arm_down floor
	# (the median, in thousandths of a ns)
	mapfile -t s < <(printf '%s\n' "${v[@]}" | sort -n)
	_floor_ns[$key]=${s[${#s[@]} / 2]}
}

# timed CMD...: CMD, its guest time (instructions, in ns) in SETUP_USEC (us):
# how long configuring N services or real servers takes
timed() {
	local t0=${EPOCHREALTIME/./}
	"$@"
	SETUP_USEC=$((${EPOCHREALTIME/./} - t0))
}

# point CURVE TRAFFIC IMPL X [WARMUP]: one measured window, recorded
point() {
	local curve=$1 t=$2 impl=$3 x=$4 warm=${5:-1024} fl=null
	local ft=$t
	[[ $t == seq:* ]] && ft=seq
	[ -z "${_floor_ns[$ft]:-}" ] || printf -v fl '%d.%03d' $((_floor_ns[$ft] / 1000)) $((_floor_ns[$ft] % 1000))
	if ! window "$t" "$SCALE_PKTS" "$warm"; then
		echo "{\"curve\":\"$curve\",\"traffic\":\"$t\",\"impl\":\"$impl\",\"x\":$x,\"error\":\"window failed\"}" >>"$OUT/scale.jsonl"
		return 1
	fi
	echo "{\"curve\":\"$curve\",\"traffic\":\"${t%%:*}\",\"impl\":\"$impl\",\"x\":$x,\"usec\":$W_USEC,\"sent\":$W_SENT,\"delivered\":$W_DELIVERED,\"floor_ns\":$fl,\"setup_usec\":${SETUP_USEC:-null}}" >>"$OUT/scale.jsonl"
	log "scale $curve $t $impl x=$x: $((W_USEC * 1000 / W_SENT)) ns/packet, $W_DELIVERED of $W_SENT delivered"
}

# (the real servers of the reals curve: 10.3.0.1 onwards, on the
# director's second link, every one the real namespace's MAC)
real_ip() { echo "10.3.$((($1 + 1) >> 8)).$((($1 + 1) & 255))"; }
scale_reals_net() {
	local i b="addr add 10.3.255.254/16 dev eth1"$'\n'
	for ((i = 0; i < 1024; i++)); do
		b+="neigh replace $(real_ip "$i") lladdr $B_MAC_REAL dev eth1 nud permanent"$'\n'
	done
	ip -n "$(bns d)" -b - <<<"$b"
}

# drlb_up SCHED NREALS NSERVICES [CONN_MAX]
drlb_up() {
	local sched=$1 nr=$2 ns=$3 cmax=${4:-} i j b=""
	insmod "$DRLB_KO"
	b+="limits --flood-rate 0${cmax:+ --conn-max $cmax}"$'\n'
	for ((j = 0; j < ns; j++)); do
		b+="service add udp $B_VIP:$((B_PORT + j)) --scheduler $sched"$'\n'
		if ((nr == 1)); then
			b+="real add udp $B_VIP:$((B_PORT + j)) $B_REAL"$'\n'
		else
			for ((i = 0; i < nr; i++)); do b+="real add udp $B_VIP:$((B_PORT + j)) $(real_ip "$i")"$'\n'; done
		fi
	done
	dtb <<<"$b" >/dev/null
	local end=$((SECONDS + 60))
	while [[ $("$DRLB_TOOL" -n "$(bns d)" list) == *unresolved* ]]; do
		((SECONDS < end)) || { echo "drlb: real servers stay unresolved" >&2; return 1; }
		bench_snooze 0.5
	done
}
ipvs_up() { # SCHED NREALS NSERVICES
	local sched=$1 nr=$2 ns=$3 i j b=""
	modprobe ip_vs conn_tab_bits="$BENCH_IPVS_TAB_BITS"
	modprobe "ip_vs_$sched"
	for ((j = 0; j < ns; j++)); do
		b+="-A -u $B_VIP:$((B_PORT + j)) -s $sched"$'\n'
		if ((nr == 1)); then
			b+="-a -u $B_VIP:$((B_PORT + j)) -r $B_REAL:$B_PORT -g -w 1"$'\n'
		else
			for ((i = 0; i < nr; i++)); do b+="-a -u $B_VIP:$((B_PORT + j)) -r $(real_ip "$i"):$B_PORT -g -w 1"$'\n'; done
		fi
	done
	bn d ipvsadm -R <<<"$b"
}
drlb_down() { rmmod drlb; bench_snooze "${BENCH_SETTLE:-1}"; }
ipvs_down() { bn d ipvsadm -C; rmmod "ip_vs_$1" ip_vs; bench_snooze "${BENCH_SETTLE:-1}"; }

: >>"$OUT/scale.jsonl"
for _curve in ${SCALE_CURVES:-conns reals services nonservice}; do
	case $_curve in
	conns)
		scale_floor seq seq:1000
		for x in "${_conns_x[@]}"; do
			ARM=drlb
			drlb_up rr 1 1 4194304
			# the fill: one packet a flow (no warm-up), then the measure
			window "seq:$x" "$x" 0 >/dev/null
			point conns "seq:$x" drlb "$x" 0
			log "scale conns drlb: $("$DRLB_TOOL" -n "$(bns d)" limits | head -n1)"
			drlb_down
			ARM=ipvs
			ipvs_up rr 1 1
			window "seq:$x" "$x" 0 >/dev/null
			point conns "seq:$x" ipvs "$x" 0
			ipvs_down rr
		done
		;;
	reals)
		scale_reals_net
		scale_floor est
		scale_floor new
		for x in "${_reals_x[@]}"; do
			for impl in "drlb rr" "drlb maglev" "ipvs rr" "ipvs mh"; do
				ARM=${impl%% *}
				timed "${ARM}_up" "${impl#* }" "$x" 1
				point reals new "$impl" "$x"
				point reals est "$impl" "$x"
				"${ARM}_down" "${impl#* }"
				SETUP_USEC=
			done
		done
		;;
	services)
		scale_floor est
		scale_floor new
		for x in "${_svcs_x[@]}"; do
			for impl in drlb ipvs; do
				ARM=$impl
				timed "${impl}_up" rr 1 "$x"
				point services est "$impl" "$x"
				point services new "$impl" "$x"
				"${impl}_down" rr
				SETUP_USEC=
			done
		done
		;;
	nonservice)
		# packets to the real's own address, forwarded by the director
		ARM=b0
		point nonservice est "nothing loaded" 0
		# (the ideal forwarder's hook: one address compare, then accept)
		bn d insmod "$IDEAL_KO" mode=fwd vip=$B_VIP dev=eth1 mac=$B_MAC_REAL
		point nonservice est "ideal.ko (a hook comparing one address)" 0
		rmmod ideal
		insmod "$DRLB_KO"
		ip netns add "$(bns other)"
		"$DRLB_TOOL" -n "$(bns other)" -b - <<EOF >/dev/null
service add udp $B_VIP:$B_PORT --scheduler rr
EOF
		point nonservice est "drlb, a service in another namespace only" 0
		dtb <<EOF >/dev/null
service add udp $B_VIP:$B_PORT --scheduler rr
real add udp $B_VIP:$B_PORT $B_REAL
EOF
		point nonservice est "drlb, a service in this namespace" 0
		rmmod drlb
		ip netns del "$(bns other)"
		ipvs_up rr 1 1
		point nonservice est "IPVS, a service in this namespace" 0
		ipvs_down rr
		;;
	esac
done
ARM=
