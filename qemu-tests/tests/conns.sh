# The connection table from the outside: timeouts, the conns dump and its
# filters, expiring connections, the flow query, and a real server's MAC
# following its neighbour entry.
#
#   client ----> dir1 (drlb) ----> rs1, rs2        tcp VIP:80 rr, udp VIP:80 rr
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
service add udp $VIP4:80 --scheduler rr
real add udp $VIP4:80 $(rs4 1)
real add udp $VIP4:80 $(rs4 2)
EOF2
wait_resolved dir1
nl() { n "$1" python3 -S lib/nlraw.py "${@:2}"; }
conns() { dt dir1 conns --json "$@"; }

log "timeouts: IPVS's defaults, set like ipvsadm --set, checked"
out=$(dt dir1 timeouts)
expect_eq "${out%%$'\n'*}" "Timeout (tcp tcpfin udp): 900 120 300" "default timeouts"
dt dir1 timeouts --tcp 600 --udp 200
expect_eq "$(q '[d.tcp, d.tcpfin, d.udp, d.tcpsyn, d.tcpclose]' dt dir1 timeouts --json)" "[600,120,200,60,10]" "timeouts after --tcp 600 --udp 200"
expect_fail 'must be 1\.\.' dt dir1 timeouts --tcp 0
# TIMEOUTS_SET (15) with TIMEOUT_UDP (22) = 0 next to a valid TIMEOUT_TCP (20):
# refused as a whole.
expect_eq "$(nl dir1 15 20:u32:700 22:u32:0)" "errno 22: a timeout must be 1..2073600 seconds (24 days)" "a zero timeout, raw"
expect_eq "$(q '[d.tcp, d.udp]' dt dir1 timeouts --json)" "[600,200]" "timeouts after the refused request"
dt dir1 timeouts --state TIME_WAIT=45 --state last_ack=5
expect_eq "$(q '[d.tcp_states[s] for s in ("TIME_WAIT", "LAST_ACK", "ESTABLISHED", "SYN_RECV")]' dt dir1 timeouts --json)" \
	"[45,5,600,60]" "per-state timeouts (every TCP state is configurable)"
expect_fail 'unknown TCP state' dt dir1 timeouts --state BOGUS=1

log "conns: one long TCP connection and a UDP flow, as ipvsadm -Lnc shows them"
stop=$TMPD/stop # the held connection ends once this exists
requests_bg tcp "$VIP4" 80 2 --hold 1 --until "$stop" --sport 40001 >/dev/null &
held=$!
requests udp "$VIP4" 80 1 --sport 40002 >/dev/null
wait_for "the held connection" 20 established dir1
dt dir1 conns
# (one dump, several questions)
conns >"$TMPD/conns.json"
conn() { q_file "$TMPD/conns.json" "one($2 for c in d if c.client_port == $1)"; } # PORT EXPR-over-c
expect_eq "$(conn 40001 'f"{c.protocol} {c.state} {c.client} {c.vip}:{c.port}"')" \
	"tcp ESTABLISHED $CLIENT4 $VIP4:80" "the long connection's entry"
tcp_real=$(conn 40001 c.real)
# (a dump part reads the clock once, before its entries: a packet between
# that read and the entry's may put the expiry a few ms past the timeout)
expect_le "$(conn 40001 c.expires_ms)" 601000 "its expiry under the 600 s tcp timeout, give or take the dump's 1 s (ms)"
expect_ge "$(conn 40001 c.expires_ms)" 570000 "and within 30 s of it (it talks every 0.5 s)"
expect_eq "$(conn 40002 c.state)" UDP "the UDP flow's state"
expect_le "$(conn 40002 c.expires_ms)" 200000 "its expiry under the 200 s udp timeout (ms)"
expect_ge "$(conn 40002 c.expires_ms)" 170000 "and within 30 s of it"
# (the estimator runs every 2 s, as IPVS's does: the first estimate may
# still be to come)
end=$((SECONDS + 10))
until bps=$(list_json dir1 'd.services[0].stats.bps'); ((bps >= 1 || SECONDS >= end)); do snooze 0.5; done
expect_ge "$bps" 1 "estimated bytes/s of the TCP service while it runs"
expect_eq "$(q '[c.client_port for c in d]' conns --service udp "$VIP4:80")" "[40002]" "filtered by service"
expect_eq "$(q 'len(d)' conns --client 198.51.100.99)" 0 "filtered by another client"
expect_fail 'same address family' dt dir1 conns --service tcp "$VIP4:80" --client 2001:db8:1::2
# (the module's refusal comes in the dump's NLMSG_DONE)
expect_fail 'no such service' dt dir1 conns --service tcp "$VIP4:81"

log "flow: which real server, and why, without creating state"
expect_eq "$(dt dir1 flow tcp "$CLIENT4:40001" "$VIP4:80")" "$tcp_real (existing connection) via $(mac_of "rs$((${tcp_real##*.} - 20))")" "the long connection"
before=$(q 'len(d)' conns)
predicted=$(q d.real dt dir1 flow tcp "$CLIENT4:40003" "$VIP4:80" --json)
expect_eq "$(q 'f"{d.real} {d.reason}"' dt dir1 flow tcp "$CLIENT4:40003" "$VIP4:80" --json)" "$predicted scheduler" "a new flow, asked twice"
expect_eq "$(q 'len(d)' conns)" "$before" "entries after the queries (none made)"
answer=$(requests tcp "$VIP4" 80 1 --sport 40003) # "rsN client=... local=..."
name=${answer%% *}
expect_eq "$(rs4 "${name#rs}")" "$predicted" "the real server that then answered that flow"
expect_eq "$(q d.reason dt dir1 flow tcp "$CLIENT4:40004" "$VIP4:80" --midflow --json)" \
	"mid-flow TCP segment (stateless Maglev)" "a segment of a flow this director never saw"
expect_fail 'no such service' dt dir1 flow tcp "$CLIENT4:1" "$VIP4:81"

log "a client port reused after its connection closed: a new connection, scheduled afresh"
tcp_conns() { list_json dir1 'one(s.stats.conns for s in d.services if s.protocol == "tcp")'; }
before=$(tcp_conns)
first=$(requests tcp "$VIP4" 80 1 --sport 40010 --reset 1)
expect_eq "$(q 'one(c.state for c in d if c.client_port == 40010)' conns)" CLOSE "the entry after the client's RST"
expect_eq "$(q d.reason dt dir1 flow tcp "$CLIENT4:40010" "$VIP4:80" --json)" scheduler "a SYN from that port now (a new connection)"
expect_eq "$(q d.reason dt dir1 flow tcp "$CLIENT4:40010" "$VIP4:80" --midflow --json)" "existing connection" \
	"a later segment of the closed one"
second=$(requests tcp "$VIP4" 80 1 --sport 40010 --reset 1)
expect_eq "$(distinct "$first"$'\n'"$second")" 2 "real servers answering the two connections from port 40010 (rr)"
expect_eq "$(tcp_conns)" "$((before + 2))" "the TCP service's connection counter after them"
expect_eq "$(q 'len([c for c in d if c.client_port == 40010])' conns)" 1 "entries of port 40010 (the first gave way)"

log "conn del: expire the matching connections"
expect_ge "$(q 'len(d)' conns --client "$CLIENT4")" 3 "the client's entries"
dt dir1 conn del --service udp "$VIP4:80"
expect_eq "$(q 'len(d)' conns --service udp "$VIP4:80")" 0 "UDP entries after 'conn del --service udp'"
expect_ge "$(q 'len(d)' conns --service tcp "$VIP4:80")" 2 "TCP entries untouched"
expect_fail 'say which connections' dt dir1 conn del
touch "$stop"
wait $held
dt dir1 conn del --client "$CLIENT4"
expect_eq "$(q 'len(d)' conns)" 0 "entries after 'conn del --client'"

log "neighbour changes: a real server's MAC follows its ARP entry"
mac1=$(mac_of rs1)
n dir1 ip neigh replace "$(rs4 1)" lladdr 02:00:5e:00:00:01 dev eth0
mac_in_dir1() { list_json dir1 "one(r.mac for r in d.services[0].reals if r.address == '$(rs4 1)')"; }
expect_eq "$(mac_in_dir1)" \
	02:00:5e:00:00:01 "rs1's MAC right after 'ip neigh replace'"
n dir1 ip neigh replace "$(rs4 1)" lladdr "$mac1" dev eth0 nud reachable
expect_eq "$(mac_in_dir1)" \
	"$mac1" "rs1's MAC once restored"
expect_eq "$(distinct "$(requests tcp "$VIP4" 80 4)")" 2 "real servers answering afterwards"
