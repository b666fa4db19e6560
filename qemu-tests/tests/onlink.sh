# Direct routing needs the real server on the director's segment: the frame
# carries the real server's MAC and the VIP as destination. A real server
# the director reaches through a gateway is unresolved, with the reason
# (as IPVS's KNOWN_NH routes imply), and gets no traffic: resolved to the
# gateway's MAC, its share would go to a router that does not hold the VIP.
#
#   client --- br0 --- dir1 (drlb)               rs1 on br0: on-link
#               |
#               +----- rt ---- rs2               203.0.113.2, 2001:db8:2::2:
#                (198.51.100.30)                  dir1 routes them via rt
#
# The other reasons: no route, no answer to ARP, not a host's address.
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80

log "rs2 moves behind a router"
T=$TOPO_TAG
ip netns add "drlb-$T-rt"; TOPO_HOSTS+=(rt)
ip -n "drlb-$T-sw" -b - <<EOF
link del rs2
link add rt type veth peer name eth0 netns drlb-$T-rt
link set rt master br0 up
EOF
ip -n "drlb-$T-rt" link add eth1 type veth peer name eth0 netns "drlb-$T-rs2"
python3 -S lib/netns-setup.py \
	"drlb-$T-rt" "sysctl net.ipv4.ip_forward=1" "sysctl net.ipv6.conf.all.forwarding=1" \
	"sysctl net.ipv6.conf.eth0.accept_dad=0" "sysctl net.ipv6.conf.eth1.accept_dad=0" "link set lo up" \
	"addr add 198.51.100.30/24 dev eth0" "addr add 2001:db8:1::30/64 dev eth0 nodad" "link set eth0 up" \
	"addr add 203.0.113.1/24 dev eth1" "addr add 2001:db8:2::1/64 dev eth1 nodad" "link set eth1 up" -- \
	"drlb-$T-rs2" "addr add 203.0.113.2/24 dev eth0" "addr add 2001:db8:2::2/64 dev eth0 nodad" \
	"link set eth0 up" "route add 0.0.0.0/0 via 203.0.113.1" "route add ::/0 via 2001:db8:2::1" -- \
	"drlb-$T-dir1" "route add 203.0.113.0/24 via 198.51.100.30" "route add 2001:db8:2::/64 via 2001:db8:1::30"
# (rs2 is reachable: the router forwards to it)
n dir1 ping -q -c 1 -W 5 203.0.113.2 >/dev/null || fail "rs2 not reachable through rt"

dt dir1 -b - <<EOF
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 203.0.113.2
real add tcp $VIP4:80 198.51.100.99
real add tcp $VIP4:80 192.0.2.50
real add tcp $VIP4:80 198.51.100.255
service add tcp [$VIP6]:80 --scheduler rr
real add tcp [$VIP6]:80 $(rs6 1)
real add tcp [$VIP6]:80 2001:db8:2::2
EOF
# (drlb-tool refuses a multicast real server; the module's own lookup
# must say no too: ff02::1 has a route and a NOARP neighbour entry)
expect_eq "$(n dir1 python3 -S lib/nlraw.py 7 4:u8:6 5:hex:20010db8000100000000000000000010 6:u16:80 \
	10:hex:ff020000000000000000000000000001)" ok "ff02::1 added over raw netlink"

log "each unresolved real server says why; rs1 is resolved"
# (198.51.100.99 is on-link and answers nobody: "incomplete" while ARP
# asks, "neighbour failed" once it gave up; dir1 has no route to 192.0.2.0/24;
# a broadcast or multicast address is no real server)
wait_list dir1 '[r.reason for r in d.services[0].reals]' \
	'[null,"not on-link (via 198.51.100.30)","neighbour failed","no route","not a unicast address"]'
wait_list dir1 '[r.reason for r in d.services[1].reals]' \
	'[null,"not on-link (via 2001:db8:1::30)","not a unicast address"]'
expect_eq "$(list_json dir1 '[[r.resolved, r.gateway, r.mac is None] for s in d.services for r in s.reals[1:2]]')" \
	'[[false,"198.51.100.30",true],[false,"2001:db8:1::30",true]]' "rs2: resolved, gateway, no MAC"
out=$(dt dir1 list)
printf '%s\n' "$out"
expect_eq "$(count_matching "$out" "-> 203\.0\.113\.2:80 .* unresolved: not on-link \(via 198\.51\.100\.30\)$")" 1 "text line of rs2 (IPv4)"
expect_eq "$(count_matching "$out" "-> \[2001:db8:2::2\]:80 .* unresolved: not on-link \(via 2001:db8:1::30\)$")" 1 "text line of rs2 (IPv6)"

log "every connection goes to the on-link rs1, none to rs2 or the router"
out=$(requests tcp "$VIP4" 80 8)
expect_eq "$(answers_from "$out" rs1)" 8 "IPv4 connections answered by rs1"
out=$(requests tcp "$VIP6" 80 8)
expect_eq "$(answers_from "$out" rs1)" 8 "IPv6 connections answered by rs1"
expect_eq "$(list_json dir1 '[r.stats.packets for s in d.services for r in s.reals[1:]]')" "[0,0,0,0,0,0]" \
	"packets sent to the unresolved real servers"
expect_eq "$(q 'd.real' dt dir1 flow tcp "$CLIENT4:40999" "$VIP4:80" --json)" "$(rs4 1)" "flow query's real server"

log "a neighbour entry for rs2 on dir1's segment does not make it on-link"
# (the neighbour notifier follows entries only on a real server's on-link
# route's device; upkeep re-checks the route every second)
ip -n "drlb-$T-dir1" neigh add 203.0.113.2 lladdr 02:00:5e:00:53:02 dev eth0 nud permanent
snooze 2.5
expect_eq "$(list_json dir1 '[d.services[0].reals[1].resolved, d.services[0].reals[1].reason]')" \
	'[false,"not on-link (via 198.51.100.30)"]' "rs2 with a permanent neighbour entry"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(answers_from "$out" rs1)" 4 "IPv4 connections answered by rs1"
