# vrrpd follows its interface through rtnetlink, on the host in namespaces
# (100 ms adverts):
#
#   dir1 (150) ---+--- br0 ---+--- dir2 (100)             VIP 198.51.100.10
#
# eth0 set down and up (FAULT, then back), a new MAC on eth0 (the
# gratuitous ARPs carry it), and eth0 deleted and made anew with a new
# index (dir1 reopens its socket on it and is master again, heard by dir2).
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; vrrpd_stop client; topo_down' EXIT
vrrp_conf dir1 150 >"$VRRP_DIR/d1.toml"
vrrp_conf dir2 100 >"$VRRP_DIR/d2.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
received() { vrrp_status dir2 | jq '.instances[0].adverts_received'; }

log "eth0 down: dir1 goes to FAULT and dir2 takes over; up: dir1 preempts"
n dir1 ip link set eth0 down
wait_state dir1 FAULT 2
wait_state dir2 MASTER 5
reason=$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')
expect_eq "$reason" "eth0 is down" "dir1's fault_reason"
n dir1 ip link set eth0 up
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
expect_eq "$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')" null "dir1's fault_reason once up"

log "a new MAC on eth0 (while up): dir1's gratuitous ARPs carry it"
old=$(mac_of dir1)
new=02:00:5e:00:aa:01
n dir1 ip link set eth0 address "$new"
# dir1's frames, on its port of the bridge (dir2's broadcasts pass there too)
n sw tshark -l -i dir1 -f "arp and not ether src $(mac_of dir2)" -T fields -e arp.src.hw_mac -e arp.src.proto_ipv4 >"$VRRP_DIR/garp" 2>"$VRRP_DIR/tshark.err" &
tshark=$!
end=$((SECONDS + 20))
until grep -q Capturing "$VRRP_DIR/tshark.err"; do ((SECONDS < end)) || fail "tshark did not start"; snooze 0.2; done
# a failover and back makes dir1 announce the VIP again
n dir1 ip link set eth0 down
wait_state dir2 MASTER 5
n dir1 ip link set eth0 up
wait_state dir1 MASTER 5
end=$((SECONDS + 5))
until grep -q "$VIP4" "$VRRP_DIR/garp"; do ((SECONDS < end)) || fail "no gratuitous ARP from dir1"; snooze 0.2; done
snooze 0.5
kill "$tshark"; wait "$tshark" || true
senders=$(grep "$VIP4" "$VRRP_DIR/garp" | cut -f1 | sort -u)
expect_eq "$senders" "$new" "the sender MAC of dir1's gratuitous ARPs (was $old)"

log "eth0 deleted: dir1 goes to FAULT"
ix=$(n dir1 cat /sys/class/net/eth0/ifindex)
n sw ip link del dir1
wait_state dir1 FAULT 2
wait_state dir2 MASTER 5
log "eth0 made anew (a new index): dir1 reopens its socket on it, preempts, and dir2 hears it"
n sw ip link add dir1 type veth peer name eth0 netns "drlb-$TOPO_TAG-dir1"
n sw ip link set dir1 master br0 up
n dir1 ip addr add "$(dir4 1)/24" dev eth0
n dir1 ip link set eth0 up
ix2=$(n dir1 cat /sys/class/net/eth0/ifindex)
[ "$ix" != "$ix2" ] || fail "eth0 kept its index $ix"
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
holds_vip dir1 || fail "dir1 lacks the VIP on the new eth0"
! holds_vip dir2 || fail "dir2 kept the VIP"
r=$(received)
sleep 0.5
expect_ge "$(received)" $((r + 3)) "adverts dir2 received from dir1 in 0.5 s"
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "MASTER BACKUP" "states"

log "eth0 renamed away (down, eth7): dir1 goes to FAULT; renamed back and up: it preempts on the same socket"
n dir1 ip link set eth0 down
n dir1 ip link set eth0 name eth7
wait_state dir1 FAULT 2
expect_eq "$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')" "eth0 is gone" "dir1's fault_reason"
n dir1 ip link set eth7 name eth0
n dir1 ip link set eth0 up
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5

log "a tracked interface deleted: FAULT; made anew: dir1 preempts"
vrrpd_stop dir1
n dir1 ip link add trk0 type veth peer name trk1
n dir1 ip link set trk0 up
n dir1 ip link set trk1 up
vrrp_conf dir1 150 'track_interfaces = ["trk0"]' >"$VRRP_DIR/d1t.toml"
vrrpd_start dir1 "$VRRP_DIR/d1t.toml"
wait_state dir1 MASTER 5
n dir1 ip link del trk0
wait_state dir1 FAULT 2
expect_eq "$(vrrp_status dir1 | jq -r '.instances[0].fault_reason')" "tracked interface trk0 is gone" "dir1's fault_reason"
wait_state dir2 MASTER 5
n dir1 ip link add trk0 type veth peer name trk1
n dir1 ip link set trk1 up
n dir1 ip link set trk0 up
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5

log "an interface whose MAC is all zero (lo): master, and no gratuitous ARP from that MAC"
printf '[[instance]]\nname = "lo1"\ninterface = "lo"\nvrid = 60\nadvert_interval_ms = 100\nvirtual_ips = ["198.51.100.60/32"]\nlb = false\n' >"$VRRP_DIR/lo.toml"
n client tshark -l -i lo -f arp -T fields -e arp.src.hw_mac -e arp.src.proto_ipv4 >"$VRRP_DIR/lo.arp" 2>"$VRRP_DIR/lo.err" &
tshark=$!
end=$((SECONDS + 20))
until grep -q Capturing "$VRRP_DIR/lo.err"; do ((SECONDS < end)) || fail "tshark did not start"; snooze 0.2; done
vrrpd_start client "$VRRP_DIR/lo.toml"
wait_state client MASTER 5
sleep 1
kill "$tshark"; wait "$tshark" || true
expect_eq "$(grep -c . "$VRRP_DIR/lo.arp" || true)" 0 "ARP frames on lo"
grep -q "not announcing the VIPs: lo has no MAC address" "$VRRP_DIR/client.log" || fail "no line saying why nothing was announced"
log "ok: $(grep -m1 "not announcing" "$VRRP_DIR/client.log")"
vrrpd_stop client
