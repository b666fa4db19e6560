# Path MTU: ICMP errors about a flow reach its real server, and packets
# over the director's egress MTU are never sent oversize.
#
#   client2 (10.9.0.2, MTU 1500) ==[1300]== gw (.9) ---+--- br0 ---+ dir1 (drlb) ---+--- rs1, rs2
#                                    client (.2) -------+          |                  (VIP on lo)
#                                                                  +==[1400]== rs9 (198.51.101.9, VIP on lo)
#
# A: rs1 answers client2 with full-size segments; gw cannot pass them on
#    (its link to client2 is 1300) and sends "fragmentation needed" to
#    the VIP, which reaches dir1: drlb must hand it to rs1, or the
#    transfer hangs (the PMTU black hole of every DR client).
# B: a 1450-byte UDP datagram from client to VIP:5353 (on rs9, behind
#    dir1's 1400-byte link): with DF set dir1 answers "fragmentation
#    needed" (1400); without DF it sends fragments; over IPv6, "packet too
#    big".
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
TAG=drlb-$TOPO_TAG
ip -b - <<EOF2
netns add $TAG-gw
netns add $TAG-client2
netns add $TAG-rs9
EOF2
TOPO_HOSTS+=(gw client2 rs9)
# gw: on the segment, and a narrow link to client2
ip -n "$TAG-sw" link add gw type veth peer name eth0 netns "$TAG-gw"
ip -n "$TAG-sw" link set gw master br0 up
ip -n "$TAG-gw" link add eth1 mtu 1300 type veth peer name eth0 netns "$TAG-client2"
ip -n "$TAG-gw" -b - <<EOF2
link set lo up
addr add 198.51.100.9/24 dev eth0
link set eth0 up
addr add 10.9.0.1/24 dev eth1
link set eth1 up
route add $VIP4/32 via $(dir4 1)
EOF2
n gw sysctl -qw net.ipv4.ip_forward=1
ip -n "$TAG-client2" -b - <<EOF2
link set lo up
addr add 10.9.0.2/24 dev eth0
link set eth0 up
route add default via 10.9.0.1
EOF2
for h in dir1 rs1 rs2; do n "$h" ip route add 10.9.0.0/24 via 198.51.100.9; done
# rs9: behind dir1 on a 1400-byte link
ip -n "$TAG-dir1" link add eth9 mtu 1400 type veth peer name eth0 netns "$TAG-rs9"
ip -n "$TAG-dir1" -b - <<EOF2
addr add 198.51.101.1/24 dev eth9
addr add 2001:db8:9::1/64 dev eth9 nodad
link set eth9 up
EOF2
n rs9 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
ip -n "$TAG-rs9" -b - <<EOF2
link set lo up
addr add $VIP4/32 dev lo
addr add $VIP6/128 dev lo nodad
addr add 198.51.101.9/24 dev eth0
addr add 2001:db8:9::9/64 dev eth0 nodad
link set eth0 up
route add default via 198.51.101.1
route add default via 2001:db8:9::1
EOF2
python3 -S lib/rs-server.py 5353 "rs9=/run/netns/$TAG-rs9" >"$TMPD/rs9.out" 2>&1 &
dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
service add udp $VIP4:5353
real add udp $VIP4:5353 198.51.101.9
service add udp [$VIP6]:5353
real add udp [$VIP6]:5353 2001:db8:9::9
EOF2
wait_resolved dir1
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }

log "A: a 10000-byte answer to client2, past gw's 1300-byte link"
cat >"$TMPD/big.py" <<'EOF2'
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=8)
s.sendall(b"BIG 10000\n")
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError as e:
    print("ERROR", e)
print(got.split(b" ")[0].decode() or "-", len(got))
EOF2
forwarded0=$(limit 'ICMP errors forwarded')
read -r rs bytes < <(n client2 python3 -S "$TMPD/big.py" "$VIP4" | tail -n1)
expect_ge "$bytes" 10000 "bytes client2 received (its line, then 10000 more)"
expect_ge "$(($(limit 'ICMP errors forwarded') - forwarded0))" 1 "ICMP errors dir1 forwarded"
mtu=$(n "$rs" ip route get 10.9.0.2)
[[ $mtu == *"mtu 1300"* ]] || fail "$rs did not learn the path MTU: $mtu"
log "ok: $rs learned the path MTU to client2: ${mtu##*mtu }"

log "B: 1450-byte UDP datagrams to VIP:5353 (rs9, behind dir1's 1400-byte link)"
until [ -s "$TMPD/rs9.out" ]; do snooze 0.1; done
cat >"$TMPD/udp.py" <<'EOF2'
import socket, sys
addr, df = sys.argv[1], sys.argv[2] == "df"
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def sock():
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)  # IP_MTU_DISCOVER: DO / DONT
    return s
s = sock()  # (unconnected: rs-server answers from its own address)
for _ in range(2):  # the first may only teach the path MTU
    try:
        s.sendto(b"x" * 1450, (addr, 5353))
        print(s.recvfrom(4096)[0].decode().split()[0])
        break
    except OSError as e:
        print("ERROR", e.errno)
c = sock()
c.connect((addr, 5353))
print("mtu", c.getsockopt(socket.IPPROTO_IPV6 if fam == socket.AF_INET6 else socket.IPPROTO_IP, 24 if fam == socket.AF_INET6 else 14))
EOF2
expect_eq "$(requests udp "$VIP4" 5353 1)" "rs9 client=$CLIENT4 local=$VIP4" "a small datagram's answer"
too_big0=$(limit 'packets over the MTU (answered too big)')
out=$(n client python3 -S "$TMPD/udp.py" "$VIP4" dont)
log "DF clear: $(echo $out)"
[[ $out == rs9*"mtu 1500" ]] || {
	dt dir1 limits >&2
	n rs9 cat /proc/net/snmp >&2
	fail "a datagram without DF did not reach rs9 in fragments: $out"
}
out=$(n client python3 -S "$TMPD/udp.py" "$VIP4" df)
log "DF set: $(echo $out)"
[[ $out == *"mtu 1400" ]] || fail "the client did not learn the 1400-byte MTU from dir1: $out"
[[ $out != rs9* ]] || fail "an oversize DF datagram reached rs9"
out=$(n client python3 -S "$TMPD/udp.py" "$VIP6" df)
log "IPv6: $(echo $out)"
[[ $out == *"mtu 1400" ]] || fail "the client did not learn the 1400-byte MTU over IPv6: $out"
expect_ge "$(($(limit 'packets over the MTU (answered too big)') - too_big0))" 2 "packets dir1 answered too big"
