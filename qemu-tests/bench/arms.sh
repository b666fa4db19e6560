# shellcheck shell=bash
# The benchmark's topology, arms and measurement window, sourced by the
# guest driver (bench.sh, on the bench kernel) and by the bench-smoke
# scenario (tests/bench-smoke.sh, on the test kernel).
#
#   client  eth0 10.1.0.2 ---- eth0 10.1.0.1  director  eth1 10.2.0.1 ---- eth0 10.2.0.2  real
#           eth1 10.4.0.2 --.         (VIP on lo)                           .-- eth1 10.4.0.1 (VIP on lo)
#                            `-------------------------------------------'
#
# The real server's replies to the client take the direct link (eth1), as
# direct routing's do; only the TCP connection rate (crr.sh) has replies.
#
# The client is pktgen (one kernel thread, CPU 0) sending 60-byte UDP
# packets to VIP:PORT. The real server holds the VIP on lo (arp_ignore=1,
# arp_announce=2) and is a cheap sink: a tc ingress rule drops every IP
# packet, so the cost behind the director is the same for every arm. Fixed
# MACs, permanent neighbour entries and IPv6 off: nothing but the measured
# packets crosses the links.
#
# Arms (arm_up ARM / arm_down ARM, all in the director's namespace):
#   floor  ideal.ko mode=drop: the packet dropped at a PRE_ROUTING hook
#   b0     plain IP forwarding: the packets go to the real's own address
#   ideal  ideal.ko mode=fwd: rewrite the MAC to the real's, dev_queue_xmit, steal
#   ipvs   IPVS direct routing (ipvsadm -g), rr, conntrack=0
#   drlb   drlb.ko, rr
# Traffic (window TRAFFIC COUNT):
#   est    1024 flows (one client address, source ports 10000-11023 in turn)
#   new    every packet a new flow (random source address in 10.64.0.0/10
#          and random source port in 1024-65535)
#
# Needs DRLB_KO, DRLB_TOOL and IDEAL_KO. BENCH_TAG names the namespaces.

BENCH_TAG=${BENCH_TAG:-$$}
B_VIP=198.51.100.10
B_PORT=5000
B_CLIENT=10.1.0.2 B_DIR_IN=10.1.0.1 B_DIR_OUT=10.2.0.1 B_REAL=10.2.0.2
B_MAC_CLIENT=02:00:00:00:01:02 B_MAC_DIR_IN=02:00:00:00:01:01
B_MAC_DIR_OUT=02:00:00:00:02:01 B_MAC_REAL=02:00:00:00:02:02
# IPVS's connection table: 2^20 buckets, as drlb's table is sized to its
# bound (IPVS's default, 12, makes chains of dozens at 100k entries)
BENCH_IPVS_TAB_BITS=${BENCH_IPVS_TAB_BITS:-20}
BENCH_ARMS=(floor b0 ideal ipvs drlb)
_bench_lib=${BASH_SOURCE[0]%/*}; [[ $_bench_lib == /* ]] || _bench_lib=$PWD/$_bench_lib

bns() { echo "bench-$BENCH_TAG-$1"; }
# drlb-tool's batch (on stdin) in the director's namespace
dtb() { "$DRLB_TOOL" -n "bench-$BENCH_TAG-d" -b -; }
bn() { local h=$1; shift; ip netns exec "bench-$BENCH_TAG-$h" "$@"; }
# (a sleep without a process)
exec {_bench_snooze_fd}<> <(:)
bench_snooze() { read -r -t "$1" -u "$_bench_snooze_fd" || true; }

# One process that stays in each namespace: /proc/PID/net/dev gives that
# namespace's device counters to a read, without a process per read.
declare -gA _bench_pid=()

bench_topo_up() {
	local h
	ip -b - <<EOF
netns add bench-$BENCH_TAG-c
netns add bench-$BENCH_TAG-d
netns add bench-$BENCH_TAG-r
EOF
	# sysctls first, so that the links come up with them (IPv6 off: no
	# neighbour discovery or MLD packets on the links)
	local common="net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
	bn c sysctl -q -w $common net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	bn d sysctl -q -w $common net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.default.send_redirects=0
	bn r sysctl -q -w $common net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.default.arp_ignore=1 net.ipv4.conf.default.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -b - <<EOF
link add eth0 netns bench-$BENCH_TAG-c address $B_MAC_CLIENT type veth peer name eth0 netns bench-$BENCH_TAG-d address $B_MAC_DIR_IN
link add eth1 netns bench-$BENCH_TAG-d address $B_MAC_DIR_OUT type veth peer name eth0 netns bench-$BENCH_TAG-r address $B_MAC_REAL
link add eth1 netns bench-$BENCH_TAG-c address 02:00:00:00:04:02 type veth peer name eth1 netns bench-$BENCH_TAG-r address 02:00:00:00:04:01
EOF
	ip -n "$(bns c)" -b - <<EOF
link set lo up
addr add $B_CLIENT/24 dev eth0
link set eth0 up
route add $B_VIP/32 via $B_DIR_IN
route add 10.2.0.0/24 via $B_DIR_IN
neigh replace $B_DIR_IN lladdr $B_MAC_DIR_IN dev eth0 nud permanent
addr add 10.4.0.2/24 dev eth1
link set eth1 up
neigh replace 10.4.0.1 lladdr 02:00:00:00:04:01 dev eth1 nud permanent
EOF
	ip -n "$(bns d)" -b - <<EOF
link set lo up
addr add $B_VIP/32 dev lo
addr add $B_DIR_IN/24 dev eth0
addr add $B_DIR_OUT/24 dev eth1
link set eth0 up
link set eth1 up
neigh replace $B_CLIENT lladdr $B_MAC_CLIENT dev eth0 nud permanent
neigh replace $B_REAL lladdr $B_MAC_REAL dev eth1 nud permanent
EOF
	ip -n "$(bns r)" -b - <<EOF
link set lo up
addr add $B_VIP/32 dev lo
addr add $B_REAL/24 dev eth0
link set eth0 up
route add default via $B_DIR_OUT
neigh replace $B_DIR_OUT lladdr $B_MAC_DIR_OUT dev eth0 nud permanent
addr add 10.4.0.1/24 dev eth1
link set eth1 up
route add $B_CLIENT/32 via 10.4.0.2
neigh replace 10.4.0.2 lladdr 02:00:00:00:04:02 dev eth1 nud permanent
EOF
	tc -n "$(bns r)" -b - <<EOF
qdisc add dev eth0 ingress
filter add dev eth0 ingress protocol ip matchall action drop
EOF
	modprobe pktgen
	for h in c d r; do
		# (ip itself, not a function: $! must be the process that enters
		# the namespace)
		ip netns exec "bench-$BENCH_TAG-$h" sleep infinity &
		_bench_pid[$h]=$!
	done
}

bench_topo_down() {
	local h dels=""
	for h in "${!_bench_pid[@]}"; do kill "${_bench_pid[$h]}" 2>/dev/null || true; done
	_bench_pid=()
	for h in c d r; do [ -e "/run/netns/$(bns "$h")" ] && dels+="netns del $(bns "$h")"$'\n'; done
	[ -z "$dels" ] || ip -b - <<<"$dels" || true
}

# rx_packets DEV HOST: the device's received-packet count, in REPLY
rx_packets() {
	local line f
	REPLY=
	while IFS= read -r line; do
		[[ $line == *"$1:"* ]] || continue
		read -ra f <<<"${line#*:}"
		REPLY=${f[1]}
		return 0
	done <"/proc/${_bench_pid[$2]}/net/dev"
	return 1
}

# arm_up ARM: the director forwards (or drops) with ARM; IPVS's and
# drlb's service is ARM_PROTO (udp) VIP:ARM_PORT (B_PORT).
arm_up() {
	local proto=${ARM_PROTO:-udp} port=${ARM_PORT:-$B_PORT}
	case $1 in
	floor) bn d insmod "$IDEAL_KO" mode=drop vip=$B_VIP ;;
	b0) ;;
	ideal) bn d insmod "$IDEAL_KO" mode=fwd vip=$B_VIP dev=eth1 mac=$B_MAC_REAL ;;
	ipvs)
		modprobe ip_vs conn_tab_bits="$BENCH_IPVS_TAB_BITS"
		modprobe ip_vs_rr
		# (the sysctl exists only with CONFIG_IP_VS_NFCT; without it IPVS
		# never touches conntrack)
		[ ! -e /proc/sys/net/ipv4/vs/conntrack ] || bn d sysctl -q -w net.ipv4.vs.conntrack=0
		bn d ipvsadm -R <<EOF
-A -${proto:0:1} $B_VIP:$port -s rr
-a -${proto:0:1} $B_VIP:$port -r $B_REAL:$port -g -w 1
EOF
		;;
	drlb)
		insmod "$DRLB_KO"
		# flood mode never: every new flow gets an entry, as in IPVS
		"$DRLB_TOOL" -n "$(bns d)" -b - <<EOF
limits --flood-rate 0
service add $proto $B_VIP:$port --scheduler rr
real add $proto $B_VIP:$port $B_REAL
EOF
		local end=$((SECONDS + 20))
		while [[ $("$DRLB_TOOL" -n "$(bns d)" list) == *unresolved* ]]; do
			((SECONDS < end)) || { echo "drlb: the real server stays unresolved" >&2; return 1; }
			bench_snooze 0.2
		done
		;;
	*) echo "arm_up: no arm $1" >&2; return 2 ;;
	esac
}

arm_down() {
	case $1 in
	floor | ideal) rmmod ideal ;;
	b0) ;;
	ipvs) bn d ipvsadm -C; rmmod ip_vs_rr ip_vs ;;
	drlb) rmmod drlb ;;
	esac
	# (what the arm leaves to free, RCU callbacks and the like, runs now
	# rather than in the next window)
	bench_snooze "${BENCH_SETTLE:-1}"
}

# arm_info ARM: a JSON object of what the arm was configured with
arm_info() {
	case $1 in
	ipvs)
		local l v reuse est ct
		read -r l </proc/net/ip_vs 2>/dev/null || l=
		v=$(bn d cat /proc/sys/net/ipv4/vs/conn_reuse_mode /proc/sys/net/ipv4/vs/run_estimation 2>/dev/null | tr '\n' ' ')
		read -r reuse est <<<"$v"
		ct='"not built (CONFIG_IP_VS_NFCT is off)"'
		[ ! -e /proc/sys/net/ipv4/vs/conntrack ] || ct=$(bn d cat /proc/sys/net/ipv4/vs/conntrack)
		printf '{"version_line":"%s","conn_tab_bits":%s,"conn_reuse_mode":%s,"conntrack":%s,"run_estimation":%s}' \
			"$l" "$(cat /sys/module/ip_vs/parameters/conn_tab_bits)" "${reuse:-null}" "$ct" "${est:-null}"
		;;
	drlb) printf '{"scheduler":"rr","flood_rate":0}' ;;
	*) printf '{}' ;;
	esac
}

# window TRAFFIC COUNT [WARMUP]: COUNT packets of TRAFFIC after a warm-up
# (BENCH_WARMUP, 4096) of the same; sets W_USEC (pktgen's elapsed guest
# time), W_SENT, W_DELIVERED (at the real server; for the floor, at the
# director), W_ERRORS and W_WARM (the warm-up's packets). TRAFFIC:
#   est       1024 flows: the client's address, source ports 10000-11023 in turn
#   new       a new flow every packet: random source address in 10.64.0.0/10
#             and random source port in 1024-65534
#   seq:N     N flows, in turn: N consecutive source addresses from 10.64.0.0,
#             source port 10000
# Packets go to VIP:B_PORT (the real server's own address for the b0 arm);
# W_DST and W_DPORT override those.
window() {
	local traffic=$1 count=$2 warmup=${3:-${BENCH_WARMUP:-4096}}
	local dst=$B_VIP src_min=$B_CLIENT src_max=$B_CLIENT flags="" sport_min=10000 sport_max=11024 n
	[ "$ARM" = b0 ] && dst=$B_REAL
	dst=${W_DST:-$dst}
	case $traffic in
	est) ;;
	new) src_min=10.64.0.0 src_max=10.127.255.255 sport_min=1024 sport_max=65535 flags="IPSRC_RND UDPSRC_RND" ;;
	seq:*)
		n=$((${traffic#seq:} - 1))
		src_min=10.64.0.0 src_max=10.$((64 + (n >> 16))).$(((n >> 8) & 255)).$((n & 255))
		sport_min=10000 sport_max=10000
		;;
	*) echo "window: no traffic $traffic" >&2; return 2 ;;
	esac
	local where=r dev=eth0
	[ "$ARM" = floor ] && where=d
	local before out
	rx_packets $dev $where; before=$REPLY
	out=$(bn c bash "$_bench_lib/pktgen.sh" "$count" "$warmup" "$dst" "$B_MAC_DIR_IN" "${W_DPORT:-$B_PORT}" \
		"$src_min" "$src_max" "$sport_min" "$sport_max" "$flags") || { echo "pktgen failed: $out" >&2; return 1; }
	# "USEC SENT ERRORS WARMUP_SENT"
	read -r W_USEC W_SENT W_ERRORS W_WARM <<<"$out"
	rx_packets $dev $where
	W_DELIVERED=$((REPLY - before - W_WARM))
}
