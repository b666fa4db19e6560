# The network changes under drlb while it forwards:
# - a real server's MAC changes mid-flow: its gratuitous ARP / unsolicited
#   NA reaches the director's neighbour table, and the flow follows the new
#   MAC without a break;
# - a real server's interface is deleted under traffic: the device drlb
#   sends its packets out of goes with it, the real server becomes
#   unresolved and the others take the traffic; a new link brings it back
#   on its new device.
#
#   client --- br0 --- dir1 (drlb) --- rs1, rs2 on br0
#                       | eth1
#                       +------------- rs3, on a link of its own (192.0.2.0/24)
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 3 -p "80 81"
T=$TOPO_TAG

# rs3 on its own link: dir1's eth1 <-> rs3's eth0. rs3 answers the client
# through dir1 (a router), as rs1 and rs2 answer it directly.
link_rs3() {
	ip -n "drlb-$T-dir1" link add eth1 type veth peer name eth0 netns "drlb-$T-rs3"
	python3 -S lib/netns-setup.py \
		"drlb-$T-dir1" "sysctl net.ipv4.conf.all.rp_filter=0" "sysctl net.ipv4.conf.eth1.rp_filter=0" \
		"sysctl net.ipv6.conf.eth1.accept_dad=0" "addr add 192.0.2.1/24 dev eth1" \
		"addr add 2001:db8:3::1/64 dev eth1 nodad" "link set eth1 up" -- \
		"drlb-$T-rs3" "sysctl net.ipv4.conf.eth0.rp_filter=0" "addr add 192.0.2.3/24 dev eth0" \
		"addr add 2001:db8:3::3/64 dev eth0 nodad" "link set eth0 up" "route add 0.0.0.0/0 via 192.0.2.1" \
		"route add ::/0 via 2001:db8:3::1"
}
ip -n "drlb-$T-sw" link del rs3
link_rs3
# rs2 announces a new MAC (NETDEV_CHANGEADDR): ARP and ND both.
python3 -S lib/netns-setup.py "drlb-$T-rs2" "sysctl net.ipv4.conf.eth0.arp_notify=1" \
	"sysctl net.ipv6.conf.eth0.ndisc_notify=1"

dt dir1 -b - <<EOF
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 192.0.2.3
service add tcp $VIP4:81
real add tcp $VIP4:81 $(rs4 2)
service add tcp [$VIP6]:81
real add tcp [$VIP6]:81 $(rs6 2)
EOF
wait_resolved dir1
dt dir1 list

log "rs2's MAC changes under two long flows (IPv4 and IPv6)"
old=$(mac_of rs2)
new=02:00:5e:00:53:22
[ "$old" != "$new" ] || new=02:00:5e:00:53:23
flow4=$TMPD/flow4 flow6=$TMPD/flow6
requests_bg tcp "$VIP4" 81 4 --hold 2 --until "$TMPD/stop-flows" >"$flow4" &
pid4=$!
requests_bg tcp "$VIP6" 81 4 --hold 2 --until "$TMPD/stop-flows" >"$flow6" &
pid6=$!
wait_for "the IPv4 flow's first answer" 30 slurp_print "$flow4"
wait_for "the IPv6 flow's first answer" 30 slurp_print "$flow6"
ip -n "drlb-$T-rs2" link set eth0 address "$new"
log "rs2's eth0 is now $new (was $old)"
wait_list dir1 '[s.reals[0].mac for s in d.services[1:]]' "[\"$new\",\"$new\"]" 10
slurp out "$flow4"; before4=$(count_matching "$out")
slurp out "$flow6"; before6=$(count_matching "$out")
# Four more answers on each flow after drlb took the new MAC (one every
# half second, each within the client's 3 s).
end=$((SECONDS + 30))
until slurp out "$flow4" && (($(count_matching "$out") >= before4 + 4)) &&
	slurp out "$flow6" && (($(count_matching "$out") >= before6 + 4)); do
	((SECONDS < end)) || fail "the flows stopped after the MAC change"
	snooze 0.5
done
touch "$TMPD/stop-flows"
wait "$pid4" || fail "the IPv4 flow failed: $(slurp_print "$flow4")"
wait "$pid6" || fail "the IPv6 flow failed: $(slurp_print "$flow6")"
for f in "$flow4" "$flow6"; do
	slurp out "$f"
	expect_eq "$(answers_from "$out" rs2)" "$(count_matching "$out")" "answers on one flow, all from rs2"
done
expect_eq "$(list_json dir1 '[s.reals[0].stats.conns for s in d.services[1:]]')" "[1,1]" "connections to rs2 (one per flow)"

log "rs3's interface goes under traffic"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(answers_from "$out" rs1) $(answers_from "$out" rs3)" "2 2" "connections to rs1 and rs3 before"
ifindex0=$(list_json dir1 'd.services[0].reals[1].ifindex')
stream=$TMPD/stream
requests_bg tcp "$VIP4" 80 1 --timeout 1 --pace 0.2 --until "$TMPD/stop-stream" >"$stream" &
spid=$!
wait_for "the stream's first answer" 30 slurp_print "$stream"
# (deleting rs3's end of the veth pair deletes dir1's eth1 with it)
ip -n "drlb-$T-rs3" link del eth0
wait_list dir1 '[d.services[0].reals[1].resolved, d.services[0].reals[1].reason]' '[false,"no route"]' 10
out=$(requests tcp "$VIP4" 80 6)
expect_eq "$(answers_from "$out" rs1)" 6 "connections to rs1 with rs3's link gone"
touch "$TMPD/stop-stream"
wait "$spid" || true
slurp out "$stream"
expect_ge "$(count_matching "$out" '^rs1 ')" 1 "answers from rs1 to the background stream"

log "a new link brings rs3 back, on its new device"
link_rs3
wait_list dir1 'd.services[0].reals[1].resolved' true 20
ifindex1=$(list_json dir1 'd.services[0].reals[1].ifindex')
[ "$ifindex1" != "$ifindex0" ] || fail "rs3's egress device is still ifindex $ifindex0"
log "ok: rs3 now out of ifindex $ifindex1 (was $ifindex0)"
out=$(requests tcp "$VIP4" 80 4)
expect_eq "$(distinct "$out") $(count_matching "$out" '^rs[13] ')" "2 4" "real servers answering, answers after"
dt dir1 limits
dt dir1 list
