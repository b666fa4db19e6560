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
#   topo_up [-d DIRECTORS(1|2)] [-r REALS]
#   n client ping -c1 "$VIP4"       # run a command in a namespace
#   topo_down
#
# Namespace names carry $TOPO_TAG (default: the shell's pid) so that several
# topologies can coexist; `ns NAME` prints the full name.

VIP4=198.51.100.10
VIP6=2001:db8:1::10
CLIENT4=198.51.100.2
CLIENT6=2001:db8:1::2
TOPO_TAG=${TOPO_TAG:-$$}
TOPO_HOSTS=()

ns() { echo "drlb-$TOPO_TAG-$1"; }
n() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }
# Addresses of host "dirK" or "rsK".
dir4() { echo "198.51.100.$((2 + $1))"; }
dir6() { echo "2001:db8:1::$((2 + $1))"; }
rs4() { echo "198.51.100.$((20 + $1))"; }
rs6() { echo "2001:db8:1::$((20 + $1))"; }
mac_of() { n "$1" cat /sys/class/net/eth0/address; }

_topo_host() { # name ipv4 ipv6: a namespace with eth0 on the bridge
	local h=$1
	ip netns add "$(ns "$h")"
	n "$h" ip link set lo up
	ip -n "$(ns sw)" link add "$h" type veth peer name eth0 netns "$(ns "$h")"
	ip -n "$(ns sw)" link set "$h" master br0 up
	n "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
	n "$h" ip addr add "$2/24" dev eth0
	n "$h" ip -6 addr add "$3/64" dev eth0 nodad
	n "$h" ip link set eth0 up
	TOPO_HOSTS+=("$h")
}

topo_up() {
	local directors=1 reals=2 opt OPTIND=1
	while getopts "d:r:" opt; do
		case $opt in
		d) directors=$OPTARG ;;
		r) reals=$OPTARG ;;
		*) echo "topo_up [-d DIRECTORS] [-r REALS]" >&2; return 2 ;;
		esac
	done
	TOPO_DIRECTORS=$directors TOPO_REALS=$reals
	ip netns add "$(ns sw)"
	n sw ip link set lo up
	n sw ip link add br0 type bridge
	n sw ip link set br0 up
	_topo_host client "$CLIENT4" "$CLIENT6"
	local i
	for ((i = 1; i <= directors; i++)); do
		_topo_host "dir$i" "$(dir4 "$i")" "$(dir6 "$i")"
		# A director routes like a router but never redirects the client
		# to a real server on the same segment.
		n "dir$i" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
	done
	for ((i = 1; i <= reals; i++)); do
		_topo_host "rs$i" "$(rs4 "$i")" "$(rs6 "$i")"
		n "rs$i" ip addr add "$VIP4/32" dev lo
		n "rs$i" ip -6 addr add "$VIP6/128" dev lo nodad
		n "rs$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
	done
	n client ip route add "$VIP4/32" via "$(dir4 1)"
	n client ip -6 route add "$VIP6/128" via "$(dir6 1)"
}

# Kills exactly the processes in our namespaces, then deletes them.
topo_down() {
	local h pids
	for h in "${TOPO_HOSTS[@]}" sw; do
		pids=$(ip netns pids "$(ns "$h")" 2>/dev/null || true)
		[ -z "$pids" ] || kill $pids 2>/dev/null || true
	done
	sleep 0.2
	for h in "${TOPO_HOSTS[@]}" sw; do
		pids=$(ip netns pids "$(ns "$h")" 2>/dev/null || true)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
		ip netns del "$(ns "$h")" 2>/dev/null || true
	done
	TOPO_HOSTS=()
}
