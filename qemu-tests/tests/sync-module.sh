# The module's side of connection sync, without vrrpd: what one director
# queues for its peers, and what a peer's records make of another's table.
#
#   client ----> dir1 (drlb, active, sync sending on)  ----> rs1, rs2
#          \---> dir2 (drlb, standby; later active) ---/     tcp VIP:80 rr on both
#
# dir1's held connections come out of its queue as records (SYNC_READ);
# written into dir2 (SYNC_WRITE) they become dir2's entries, same real
# servers, states and timeouts, while dir2 forwards nothing. The client's
# route then moves to dir2, made active: the connections go on, each on its
# real server (rr alone would move every other one). A live entry is sent
# again about every half timeout. Bad batches are refused whole with a
# clear message and counted, records for a service or real server dir2
# does not have are counted and skipped, and only CAP_NET_ADMIN may read
# the queue or write a table.
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 2 -p 80
for d in dir1 dir2; do
	dt $d -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
EOF2
done
dt dir2 state standby
wait_resolved dir1
wait_resolved dir2
sr() { n "$1" python3 -S lib/syncrec.py "${@:2}"; }
nobody() { n "$1" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "${@:2}"; }
conns() { dt "$1" conns --json; }
table() { q '[f"{c.client_port} {c.real} {c.state}" for c in sorted(d, key=lambda c: c.client_port)]' conns "$1"; }

log "sending is off by default: nothing queued, and turning it on is CAP_NET_ADMIN's"
expect_eq "$(q '[d.send, d.queued]' sr dir1 get)" "[0,0]" "send and queued"
expect_eq "$(nobody dir1 python3 -S lib/syncrec.py set 1)" "errno 1: " "an unprivileged SYNC_SET"
expect_eq "$(sr dir1 set 1)" ok "SYNC_SET on"
expect_eq "$(sr dir1 set 7)" "errno 22: sync send must be 0 (off) or 1 (on)" "SYNC_SET 7"

log "three held connections through dir1 are queued as records"
stop=$TMPD/stop
held=()
for p in 41001 41002 41003; do
	requests_bg tcp "$VIP4" 80 2 --hold 1 --until "$stop" --sport $p >"$TMPD/held.$p" &
	held+=($!)
done
wait_for "three held connections" 30 sh -c "[ \$($DRLB_TOOL -n drlb-$TOPO_TAG-dir1 conns | grep -c ESTABLISHED) = 3 ] && echo yes"
expect_eq "$(nobody dir1 python3 -S lib/syncrec.py read)" "errno 1: " "an unprivileged SYNC_READ (clients' addresses)"
sr dir1 read >"$TMPD/records"
cat "$TMPD/records"
expect_eq "$(q_lines "$TMPD/records" 'sorted({(r.cport, r.real) for r in d if r.state == 1 and r.vip == "'$VIP4'" and r.client == "'$CLIENT4'"})' | tr -d ' ')" \
	"$(q '[[c.client_port, c.real] for c in sorted(d, key=lambda c: c.client_port)]' conns dir1 | tr -d ' ')" \
	"the ESTABLISHED records: each connection with its real server"
expect_eq "$(q '[d.queued, d.sent >= 6]' sr dir1 get)" "[0,true]" "queue drained; a SYN_RECV and an ESTABLISHED record a connection at least"
expect_eq "$(sr dir1 read)" "" "nothing waits once read"

log "dir2, standby, takes them: the same entries, forwarding nothing"
dir1_table=$(table dir1)
hex=$(n dir1 python3 -S -c '
import json, subprocess, sys
sys.path.insert(0, "lib")
from syncrec import record
out = ""
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["state"] == 1:
        out += record([f"{k}={v}" for k, v in r.items()])
print(out)' "$TMPD/records")
expect_eq "$(sr dir2 write "$hex")" "applied 3 unknown 0 no_room 0" "SYNC_WRITE of the three"
expect_eq "$(table dir2)" "$dir1_table" "dir2's entries (client port, real server, state) are dir1's"
expect_ge "$(q 'min(c.expires_ms for c in d)' conns dir2)" 800000 "their timeouts carried over (ms, of 900 s)"
expect_eq "$(q '[sum(r.stats.active for r in d.services[0].reals)]' dt dir2 list --json)" "[3]" "dir2 counts them as active connections"
expect_eq "$(sr dir2 write "$hex")" "applied 3 unknown 0 no_room 0" "the same batch again (an update)"
expect_eq "$(q 'len(d)' conns dir2)" 3 "still three entries, not six"
expect_eq "$(q '[sum(r.stats.active for r in d.services[0].reals)]' dt dir2 list --json)" "[3]" "still three active"

log "bad batches change nothing and are counted; unknown services are skipped"
before=$(table dir2)
rec() { sr dir2 record client=$CLIENT4 vip=$VIP4 "$@"; }
good=$(rec cport=42000 real=$(rs4 1))
expect_eq "$(sr dir2 write "$good${good:0:30}")" "errno 22: truncated sync record" "a good record and a truncated one"
expect_eq "$(sr dir2 write "$good$(rec cport=42001 real=$(rs4 1) state=99)")" "errno 22: sync record has an invalid state" "a good record and one with state 99"
expect_eq "$(sr dir2 write "$good$(rec cport=42002 real=$(rs4 1) proto=1)")" "errno 22: sync record protocol is not tcp or udp" "a good record and one for ICMP"
expect_eq "$(sr dir2 write "09$good")" "errno 22: sync record kind is not 4 or 6" "a batch starting with kind 9"
expect_eq "$(table dir2)" "$before" "dir2's table after the refused batches (the good record in each not applied)"
expect_eq "$(sr dir2 write "$(rec cport=42003 vip=198.51.100.99 real=$(rs4 1))$(rec cport=42004 real=198.51.100.99)")" \
	"applied 0 unknown 2 no_room 0" "records for an unknown VIP and an unknown real server"
expect_eq "$(table dir2)" "$before" "dir2's table after them"
expect_eq "$(nobody dir2 python3 -S lib/syncrec.py write "$good")" "errno 1: " "an unprivileged SYNC_WRITE"
expect_eq "$(table dir2)" "$before" "dir2's table after it"
expect_eq "$(q '[d.malformed, d.unknown, d.applied]' nobody dir2 python3 -S lib/syncrec.py get)" "[4,2,6]" \
	"dir2's counters, read unprivileged (malformed batches, unknown, applied)"

log "dir2 becomes the director: the connections go on, each on its real server"
# (in this order: no packet meets a director that forwards nothing)
dt dir2 state active
n client ip route replace "$VIP4/32" via 198.51.100.4
dt dir1 state standby
snooze 3
expect_eq "$(table dir2)" "$before" "dir2's entries after 3 s of the connections' traffic through it"
expect_ge "$(list_json dir2 'd.services[0].stats.packets')" 6 "packets dir2 forwarded"
touch "$stop"
wait "${held[@]}"
for p in 41001 41002 41003; do
	expect_eq "$(sort -u "$TMPD/held.$p" | wc -l)" 1 "connection $p: answers from one real server only, and no error"
done

log "a live entry is queued again about every half of its timeout"
dt dir2 timeouts --tcp 4
sr dir2 set 1 >/dev/null
rm -f "$stop"
requests_bg tcp "$VIP4" 80 2 --hold 1 --until "$stop" --sport 41010 >/dev/null &
held=$!
wait_for "the held connection" 30 established dir2
sr dir2 read >/dev/null
snooze 5
sr dir2 read >"$TMPD/refresh"
expect_ge "$(q_lines "$TMPD/refresh" 'len([r for r in d if r.cport == 41010 and r.state == 1 and r.ms <= 4000])')" 1 \
	"refresh records of the held connection in 5 s, its timeout 4 s"
touch "$stop"
wait "$held"

log "sending off: the queue goes, nothing is queued"
expect_eq "$(sr dir2 set 0)" ok "SYNC_SET off"
requests tcp "$VIP4" 80 2 >/dev/null
expect_eq "$(q '[d.send, d.queued]' sr dir2 get)" "[0,0]" "send and queued after new connections"
expect_eq "$(sr dir2 read)" "" "SYNC_READ with sending off"

log "a mid-flow segment whose real server is still being resolved waits (dropped), not moved"
# dir2 gets a third real server nobody answers ARP for, kept INCOMPLETE
# (100 solicitations): the segments the Maglev table gives it have no
# usable real server, where moving them would reset their connections;
# new connections go to the others.
n dir2 sh -c "echo 100 >/proc/sys/net/ipv4/neigh/eth0/mcast_solicit"
dt dir2 real add tcp "$VIP4:80" 198.51.100.99
for p in $(seq 50000 50011); do
	{ dt dir2 flow tcp "$CLIENT4:$p" "$VIP4:80" --midflow --json 2>&1 || true; } | tr '\n' ' '
	echo
done >"$TMPD/midflow"
cat "$TMPD/midflow"
expect_ge "$(grep -c 'no usable real server' "$TMPD/midflow")" 1 "mid-flow segments that wait for 198.51.100.99"
expect_eq "$(grep -c '198.51.100.99' "$TMPD/midflow")" 0 "segments sent to it"
expect_eq "$(grep -c '"mid-flow' "$TMPD/midflow")" "$((12 - $(grep -c 'no usable real server' "$TMPD/midflow")))" \
	"the others placed mid-flow, as before"
