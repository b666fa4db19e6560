# Floods against a service with a bounded table, from an attacker beside
# the client:
#
#   client (.2) ---+                          +--- rs1, rs2
#   att    (.8) ---+--- br0 --- dir1 (drlb: tcp VIP:80 wlc, conn-max 20000, flood-rate 10)
#   (att floods with trafgen)
#
# A forged-ACK flood (ever new source ports, no connection behind them)
# makes no entries, leaves the real servers' connection counts alone and
# engages flood mode; a SYN flood at the guest's top rate engages flood
# mode (new flows placed without state), the table stays within its
# bound, and flood mode ends with the flood. (The TCG guest's top rate is
# a few hundred packets a second, and varies with the machine's load;
# with a threshold of 10 new flows a second, any flood engages it.) All the while the client's new connections succeed
# (>= 99%) and its long connection keeps its entry.
# FLOOD_SECONDS (default 10) sets each flood's length (`make floods`: 60).
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
secs=${FLOOD_SECONDS:-10}
TAG=drlb-$TOPO_TAG
ip netns add "$TAG-att"
TOPO_HOSTS+=(att)
ip -n "$TAG-sw" link add att type veth peer name eth0 netns "$TAG-att"
ip -n "$TAG-sw" link set att master br0 up
ip -n "$TAG-att" -b - <<EOF2
link set lo up
addr add 198.51.100.8/24 dev eth0
link set eth0 up
route add $VIP4/32 via $(dir4 1)
EOF2
dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler wlc
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
limits --conn-max 20000 --flood-rate 10
EOF2
wait_resolved dir1
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }
entries() { local c; c=$(limit connections) && echo "${c%% *}"; }
active() { list_json dir1 'sum(r.stats.active for r in d.services[0].reals)'; }

# The client's long connection, and a steady stream of its new ones.
held=$TMPD/held
requests_bg tcp "$VIP4" 80 100 --hold 30 --until "$held.stop" >"$held" &
held_pid=$!
wait_for "the long connection's first answer" 20 slurp_print "$held"
has_entry() { local o; o=$(dt dir1 conns --client "$CLIENT4") && [[ $o == *ESTABLISHED* ]]; }
has_entry || fail "the long connection has no entry"
stream() { # FILE: new connections until FILE.stop
	requests_bg tcp "$VIP4" 80 1 --timeout 2 --until "$1.stop" >"$1" &
}
# flood syn|ack: trafgen (a TX ring, few system calls a packet) sends
# TCP segments from att to the VIP, each from a random source port, for
# $secs s; prints how many it sent.
flood() {
	local out conf=$TMPD/$1.trafgen
	cat >"$conf" <<EOF2
{
  eth(da=$(mac_of dir1), sa=$(mac_of att)),
  ipv4(saddr=198.51.100.8, daddr=$VIP4, ttl=64),
  tcp(sp=drnd(), dp=80, seq=drnd(), ackseq=drnd(), $1),
}
EOF2
	# (from a writable directory: trafgen makes a temporary file beside it)
	out=$(cd "$TMPD" && n att timeout -s INT "$secs" trafgen --dev eth0 --conf "$conf" --cpus 1 2>&1) || true
	[[ $out =~ ([0-9]+)\ packets\ outgoing ]] || fail "trafgen said: $out"
	echo "${BASH_REMATCH[1]}"
}
success() { # FILE: "ok total" of a stream
	local out
	slurp out "$1"
	echo "$(($(count_matching "$out") - $(count_matching "$out" ERROR))) $(count_matching "$out")"
}
# Until flood mode is on while flood $1 (a pid) runs.
wait_flood_mode() {
	until [ "$(limit 'flood mode')" = on ]; do
		kill -0 "$1" 2>/dev/null || fail "flood mode never engaged during the flood"
		snooze 0.2
	done
	log "ok: flood mode engaged"
}
mem_kb() { local k v; while read -r k v _; do [ "$k" = MemAvailable: ] && echo "$v" && return; done </proc/meminfo; }

log "forged-ACK flood for $secs s"
read -r entries0 active0 mid0 hooks0 <<<"$(entries) $(active) $(limit 'mid-flow segments placed without state') $(status_field dir1 'hook packets')"
stream "$TMPD/s1"
flood ack >"$TMPD/ack.sent" &
flood_pid=$!
wait_flood_mode "$flood_pid"
wait "$flood_pid"
sent=$(<"$TMPD/ack.sent")
touch "$TMPD/s1.stop"
read -r ok total <<<"$(success "$TMPD/s1")"
log "ACK flood: $sent packets sent ($((sent / secs))/s); dir1 saw $(($(status_field dir1 'hook packets') - hooks0)); client: $ok of $total new connections"
expect_ge "$((ok * 100))" "$((total * 99))" "100 x the client's successful connections (>= 99 x all)"
expect_ge "$total" 5 "the client's connections during the flood"
expect_ge "$(($(limit 'mid-flow segments placed without state') - mid0))" "$((sent / 2))" "forged segments placed without state"
expect_le "$(entries)" "$((entries0 + total + 10))" "entries (the forged segments made none)"
expect_le "$(active)" "$((active0 + 2))" "active connections counted on the real servers"
has_entry || fail "the long connection lost its entry"

log "SYN flood at the guest's top rate for $secs s"
mem0=$(mem_kb)
stateless0=$(limit 'stateless flows')
stream "$TMPD/s2"
flood syn >"$TMPD/syn.sent" &
flood_pid=$!
wait_flood_mode "$flood_pid"
max=0
while kill -0 "$flood_pid" 2>/dev/null; do
	e=$(entries)
	((e > max)) && max=$e
	snooze 0.5
done
wait "$flood_pid"
sent=$(<"$TMPD/syn.sent")
touch "$TMPD/s2.stop"
read -r ok total <<<"$(success "$TMPD/s2")"
log "SYN flood: $sent packets sent ($((sent / secs))/s); entries peaked at $max (bound 20000); MemAvailable $(((mem0 - $(mem_kb)) / 1024)) MiB lower; client: $ok of $total new connections"
expect_le "$max" 20000 "entries during the SYN flood"
expect_ge "$((ok * 100))" "$((total * 99))" "100 x the client's successful connections (>= 99 x all)"
expect_ge "$(($(limit 'stateless flows') - stateless0))" "$((sent / 2))" "new flows placed without state in flood mode (at least half the SYNs)"
end=$((SECONDS + 5))
until [ "$(limit 'flood mode')" = off ]; do
	((SECONDS < end)) || fail "flood mode still on 5 s after the SYN flood"
	snooze 0.3
done
log "ok: flood mode ended with the flood"
has_entry || fail "the long connection lost its entry"
touch "$held.stop"
wait "$held_pid"
slurp out "$held"
expect_eq "$(count_matching "$out" ERROR)" 0 "failed answers on the long connection"
