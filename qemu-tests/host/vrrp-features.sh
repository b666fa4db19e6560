# vrrpd's options, on the host in namespaces (100 ms adverts):
#
#   dir1 (150, tracks trk0) ---+--- br0 ---+--- dir2 (100)
#
# unicast peers, notify scripts, tracked interfaces (FAULT), and bad
# packets counted by reason without touching the state.
. lib/testlib.sh
. lib/vrrp.sh
topo_up -d 2 -r 0
trap 'vrrpd_stop dir1; vrrpd_stop dir2; topo_down' EXIT
n dir1 ip link add trk0 type veth peer name trk1 # (a dummy would do; not every kernel has it)
n dir1 ip link set trk0 up
n dir1 ip link set trk1 up
cat >"$VRRP_DIR/notify.sh" <<EOF2
#!/bin/sh
echo "\$*" >>"$VRRP_DIR/notified"
EOF2
chmod +x "$VRRP_DIR/notify.sh"
vrrp_conf dir1 150 "unicast_peers = [\"$(dir4 2)\"]" 'track_interfaces = ["trk0"]' "notify = \"$VRRP_DIR/notify.sh\"" >"$VRRP_DIR/d1.toml"
vrrp_conf dir2 100 "unicast_peers = [\"$(dir4 1)\"]" >"$VRRP_DIR/d2.toml"
vrrpd_start dir1 "$VRRP_DIR/d1.toml"
vrrpd_start dir2 "$VRRP_DIR/d2.toml"

log "unicast peers: adverts go to the peer's address, and the election works"
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5
dsts=$(ip netns exec "drlb-$TOPO_TAG-dir2" timeout 3 tshark -q -i eth0 -f "ip proto 112" -c 3 -T fields -e ip.dst 2>/dev/null | sort -u)
expect_eq "$dsts" "$(dir4 2)" "destinations of the adverts dir2 sees"
expect_eq "$(tr "\n" ";" <"$VRRP_DIR/notified")" "INSTANCE vi1 BACKUP 150;INSTANCE vi1 MASTER 150;" "dir1's notify script calls: backup at start, then master"

log "tracked interface: trk0 down puts dir1 in FAULT (VIP released); up again, it preempts"
n dir1 ip link set trk0 down
wait_state dir1 FAULT 5
wait_state dir2 MASTER 5
! holds_vip dir1 || fail "dir1 kept the VIP in FAULT"
expect_eq "$(tail -n1 "$VRRP_DIR/notified")" "INSTANCE vi1 FAULT 150" "the notify script, on FAULT"
n dir1 ip link set trk0 up
n dir1 ip link set trk1 up
wait_state dir1 MASTER 5
wait_state dir2 BACKUP 5

log "bad packets: counted by reason, the state untouched"
cat >"$VRRP_DIR/send.py" <<'EOF2'
import socket, struct, sys
# A VRRPv3 advert for VRID 51 at priority 254, sent with TTL 64 (must be 255).
ttl, dst = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
msg = bytes([0x31, 51, 254, 1, 0, 10, 0, 0]) + socket.inet_aton(sys.argv[3])
for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
    s.sendto(msg, (dst, 0))
EOF2
before=$(vrrp_status dir1 | jq '.instances[0].bad_packets.ttl // 0')
n dir2 python3 "$VRRP_DIR/send.py" 64 "$(dir4 1)" "$VIP4"
sleep 0.3
expect_eq "$(vrrp_status dir1 | jq '.instances[0].bad_packets.ttl // 0')" $((before + 1)) "dir1's packets discarded for their TTL"
n dir2 python3 "$VRRP_DIR/send.py" 255 "$(dir4 1)" "$VIP4" # TTL right, checksum wrong (zero)
sleep 0.3
expect_ge "$(vrrp_status dir1 | jq '.instances[0].bad_packets.malformed // 0')" 1 "dir1's packets discarded as malformed (checksum)"
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "MASTER BACKUP" "states after the bad packets"

log "a flood of bad packets: all counted, logged once per reason per 10 s (then a line with how many more)"
lines() { grep -c "discarded.*TTL" "$VRRP_DIR/dir1.log" || true; }
sleep 10 # (past the interval of the packets above)
before=$(vrrp_status dir1 | jq '.instances[0].bad_packets.ttl // 0')
l0=$(lines)
n dir2 python3 "$VRRP_DIR/send.py" 64 "$(dir4 1)" "$VIP4" 200
sleep 0.5
expect_eq "$(vrrp_status dir1 | jq '.instances[0].bad_packets.ttl // 0')" $((before + 200)) "dir1's packets discarded for their TTL"
expect_eq "$(($(lines) - l0))" 1 "log lines about them so far"
end=$((SECONDS + 12))
until grep -q "discarded 199 more packets (ttl)" "$VRRP_DIR/dir1.log"; do
	((SECONDS < end)) || fail "no line with how many more were discarded"
	snooze 0.2
done
log "ok: $(grep "discarded 199 more" "$VRRP_DIR/dir1.log")"
expect_eq "$(vrrp_state dir1) $(vrrp_state dir2)" "MASTER BACKUP" "states after the flood"
