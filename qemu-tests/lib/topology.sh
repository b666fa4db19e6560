# shellcheck shell=bash
# drlb's test topology: one L2 segment (a bridge in a "switch" namespace)
# joining a client, one or two directors and N real servers.
#
#                        198.51.100.0/24, 2001:db8:1::/64
#   client (.2) ---+
#   dir1   (.3) ---+--- br0 (in ns "sw")
#   dir2   (.4) ---+        VIP 198.51.100.10 / 2001:db8:1::10
#   rs1   (.21) ---+        held on each real server's lo
#   rsN (.20+N) ---+
#
# The client routes the VIP through dir1. Real servers hold the VIP on lo with
# arp_ignore=1 / arp_announce=2 and reply to the client directly. Every
# address exists only inside these namespaces.
#
#   . qemu-tests/lib/topology.sh
#   topo_up [-d DIRECTORS(1|2)] [-r REALS] [-p PORTS | -c]
#   n client ping -c1 "$VIP4"       # run a command in a namespace
#   topo_down
#
# -p "PORT..." also calls start_servers PORT... (testlib.sh: real servers
# answering on those ports, and the client's endpoint) as soon as the
# namespaces exist, so that their slow start overlaps the links' creation;
# -c starts only the client's endpoint (nginx serves the real servers: see
# nginx-rs.sh).
#
# Namespace names carry $TOPO_TAG (default: the shell's pid) so that several
# topologies can coexist; `ns NAME` prints the full name.

VIP4=198.51.100.10
VIP6=2001:db8:1::10
CLIENT4=198.51.100.2
CLIENT6=2001:db8:1::2
TOPO_TAG=${TOPO_TAG:-$$}
TOPO_HOSTS=()
_topo_lib=${BASH_SOURCE[0]%/*}; [[ $_topo_lib == /* ]] || _topo_lib=$PWD/$_topo_lib

# (The libraries spell names out as drlb-$TOPO_TAG-NAME: a $(ns ...) forks a
# subshell, a few hundred milliseconds under TCG.)
ns() { echo "drlb-$TOPO_TAG-$1"; }
n() { local h=$1; shift; ip netns exec "drlb-$TOPO_TAG-$h" "$@"; }
# Addresses of host "dirK" or "rsK" (topo_up spells them out, sparing a
# subshell each).
dir4() { echo "198.51.100.$((2 + $1))"; }
dir6() { echo "2001:db8:1::$((2 + $1))"; }
rs4() { echo "198.51.100.$((20 + $1))"; }
rs6() { echo "2001:db8:1::$((20 + $1))"; }
# snooze SECONDS: sleep without a process (a read that times out on a pipe
# nobody writes to; every exec counts under TCG).
exec {_snooze_fd}<> <(:)
snooze() { read -r -t "$1" -u "$_snooze_fd" || true; }
mac_of() { local l; l=$(ip -n "drlb-$TOPO_TAG-$1" -br link show eth0) && read -r _ _ l _ <<<"$l" && echo "$l"; }

# Under TCG every exec costs a few hundred milliseconds, so the topology is
# built by three processes: `ip -b` adds the namespaces, `ip -b` in the
# switch adds the bridge and a veth pair per host, and netns-setup.py does
# each host's lines (ip-style, in _host_batch) in its namespace.
_topo_host() { # name ipv4 ipv6 [sysctl...]: a namespace with eth0 on the bridge
	local h=$1 v4=$2 v6=$3; shift 3
	TOPO_HOSTS+=("$h")
	_sw_batch+="link add $h type veth peer name eth0 netns drlb-$TOPO_TAG-$h
link set $h master br0 up
"
	# Sysctls first. eth0 exists, still down, when they are set: "all"
	# covers it for the settings the kernel takes the max or the OR of; the
	# others are set on eth0 itself, before the link comes up.
	local kv
	_host_batch[$h]=""
	for kv in net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.eth0.accept_dad=0 "$@"; do
		_host_batch[$h]+="sysctl $kv"$'\n'
	done
	_host_batch[$h]+="link set lo up
addr add $v4/24 dev eth0
addr add $v6/64 dev eth0 nodad
link set eth0 up
"
}

topo_up() {
	local directors=1 reals=2 ports="" client=false opt OPTIND=1 i h
	while getopts "d:r:p:c" opt; do
		case $opt in
		d) directors=$OPTARG ;;
		r) reals=$OPTARG ;;
		p) ports=$OPTARG client=true ;;
		c) client=true ;;
		*) echo "topo_up [-d DIRECTORS] [-r REALS] [-p PORTS | -c]" >&2; return 2 ;;
		esac
	done
	TOPO_DIRECTORS=$directors TOPO_REALS=$reals
	_sw_batch="link add br0 type bridge
link set br0 up
link set lo up
"
	declare -gA _host_batch=()
	_topo_host client "$CLIENT4" "$CLIENT6"
	_host_batch[client]+="route add $VIP4/32 via 198.51.100.3
route add $VIP6/128 via 2001:db8:1::3
"
	for ((i = 1; i <= directors; i++)); do
		# A director routes like a router but never redirects the client
		# to a real server on the same segment.
		_topo_host "dir$i" "198.51.100.$((2 + i))" "2001:db8:1::$((2 + i))" net.ipv4.ip_forward=1 \
			net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.send_redirects=0 \
			net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
	done
	for ((i = 1; i <= reals; i++)); do
		_topo_host "rs$i" "198.51.100.$((20 + i))" "2001:db8:1::$((20 + i))" net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.default.arp_ignore=1 \
			net.ipv4.conf.default.arp_announce=2
		_host_batch[rs$i]+="addr add $VIP4/32 dev lo
addr add $VIP6/128 dev lo nodad
"
	done
	local adds="netns add drlb-$TOPO_TAG-sw"$'\n'
	for h in "${TOPO_HOSTS[@]}"; do adds+="netns add drlb-$TOPO_TAG-$h"$'\n'; done
	ip -b - <<<"$adds"
	# shellcheck disable=SC2086
	! $client || start_servers $ports
	ip -n "drlb-$TOPO_TAG-sw" -b - <<<"$_sw_batch"
	local args=() lines
	for h in "${TOPO_HOSTS[@]}"; do
		mapfile -t lines <<<"${_host_batch[$h]}"
		args+=("drlb-$TOPO_TAG-$h" "${lines[@]}" --)
	done
	python3 -S "$_topo_lib/netns-setup.py" "${args[@]}"
}

# Kills exactly the processes in our namespaces (found with bash's -ef, no
# exec per namespace), then deletes the namespaces in one `ip -b`.
topo_down() {
	local h p f dels="" pids=() files=()
	# (the names first: a $(ns) per test would fork per process and host)
	for h in "${TOPO_HOSTS[@]}" sw; do files+=("/run/netns/drlb-$TOPO_TAG-$h"); done
	for p in /proc/[0-9]*; do
		for f in "${files[@]}"; do
			if [[ $p/ns/net -ef $f ]]; then pids+=("${p#/proc/}"); break; fi
		done
	done
	if ((${#pids[@]})); then
		kill "${pids[@]}" 2>/dev/null || true
		snooze 0.2
		kill -9 "${pids[@]}" 2>/dev/null || true
	fi
	for h in "${TOPO_HOSTS[@]}" sw; do
		[ -e "/run/netns/drlb-$TOPO_TAG-$h" ] && dels+="netns del drlb-$TOPO_TAG-$h"$'\n'
	done
	[ -z "$dels" ] || ip -b - <<<"$dels" || true
	TOPO_HOSTS=()
}
