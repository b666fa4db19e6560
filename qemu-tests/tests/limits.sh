# The connection table's size and bound (limits --conn-max):
# - a namespace without a service has no hooks and the fewest chains (256);
# - with one, the chains follow the bound, so that a full table averages at
#   most two entries a chain, and they are resized in place: live entries
#   move, connections go on;
# - the bound is at most 4194304 entries; a larger one is refused with the
#   module's reason and changes nothing.
#
#   client ----> dir1 (drlb, tcp VIP:80 rr, udp VIP:80 rr) ----> rs1, rs2
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }

log "no service: no hooks, the fewest chains"
expect_eq "$(limit buckets)" 256 "chains without a service"
n client ping -q -c 3 -i 0.1 "$(dir4 1)" >/dev/null
expect_eq "$(status_field dir1 'hook packets')" 0 "hook packets without a service (3 pings to dir1)"

dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
service add udp $VIP4:80 --scheduler rr
real add udp $VIP4:80 $(rs4 1)
real add udp $VIP4:80 $(rs4 2)
EOF2
wait_resolved dir1

log "a service: the chains follow the bound, at most 2 entries a chain when full"
expect_eq "$(limit buckets)" 131072 "chains for the default bound, 262144"
for m in 1000:512 1:256 4194304:2097152 262145:262144 262144:131072; do
	dt dir1 limits --conn-max "${m%:*}"
	expect_eq "$(limit buckets)" "${m#*:}" "chains for --conn-max ${m%:*}"
done

log "resizing moves live entries: a held TCP connection and 20 UDP flows keep their real servers"
stop=$TMPD/stop # the held connection ends once this exists
requests_bg tcp "$VIP4" 80 2 --hold 0.2 --until "$stop" --sport 40001 >"$stop.out" &
held=$!
requests udp "$VIP4" 80 20 >/dev/null
wait_for "the held connection" 20 established dir1
entries() { q 'sorted(f"{c.protocol} {c.client_port} {c.real} {c.state}" for c in d if c.protocol == "udp" or c.client_port == 40001)' dt dir1 conns --json; }
before=$(entries)
expect_eq "$(q 'len(d)' dt dir1 conns --json --service udp "$VIP4:80")" 20 "UDP entries before"
for m in 1000 4194304 262144; do dt dir1 limits --conn-max "$m"; done
expect_eq "$(entries)" "$before" "those entries after resizes to 512, 2097152 and 131072 chains"
touch "$stop"
wait $held
slurp out "$stop.out"
expect_eq "$(count_matching "$out" ERROR) $(distinct "$out")" "0 1" "failed answers and real servers on the held connection"
expect_eq "$(limit 'mid-flow segments placed without state')" 0 "segments that found no entry (none: lookups never missed)"

log "a resize while a connection dump is open: the dump is marked interrupted"
nd() { python3 -S lib/nldump.py "$@"; }
nd flows "/run/netns/drlb-$TOPO_TAG-client" "$VIP4" 80 1000 200
nd count "/run/netns/drlb-$TOPO_TAG-dir1" 200
dump_hold "/run/netns/drlb-$TOPO_TAG-dir1"
expect_eq "${HELD%% *}" holding "the dump's first part"
dt dir1 limits --conn-max 4096
dump_release finish
expect_eq "${HELD##* }" 1 "the dump's interrupted flag (a resize between its parts)"
dump_hold "/run/netns/drlb-$TOPO_TAG-dir1"
dump_release finish
expect_eq "${HELD##* }" 0 "the flag of the next dump, with no resize"
dt dir1 limits --conn-max 262144

log "16 resizes under traffic: new connections keep coming, a held one talks every 20 ms"
stop=$TMPD/stop2
requests_bg tcp "$VIP4" 80 1 --until "$stop" >"$stop.new" &
newconns=$!
requests_bg tcp "$VIP4" 80 2 --hold 0.02 --until "$stop" --sport 40002 >"$stop.held" &
held=$!
wait_for "the held connection's first answers" 20 slurp_print "$stop.held"
printf 'limits --conn-max %s\n' 4096 4194304 65536 262144 4096 4194304 65536 262144 \
	4096 4194304 65536 262144 4096 4194304 65536 262144 | dt dir1 -b -
touch "$stop"
wait $newconns $held
slurp new "$stop.new"
slurp out "$stop.held"
expect_ge "$(count_matching "$new")" 5 "new connections during the resizes"
expect_eq "$(count_matching "$new" ERROR)" 0 "of which failed"
expect_ge "$(count_matching "$out")" 20 "answers on the held connection during the resizes"
expect_eq "$(count_matching "$out" ERROR) $(distinct "$out")" "0 1" "of which failed, and real servers answering"
expect_eq "$(limit 'mid-flow segments placed without state') $(limit 'stateless flows')" "0 0" \
	"segments that found no entry, flows placed without state"

log "the bound: up to 4194304 entries; above that refused, and nothing changes"
bound() { local c; c=$(limit connections) && echo "${c#* of }"; }
dt dir1 limits --conn-max 4194304
expect_eq "$(bound)" 4194304 "the largest bound"
dt dir1 limits --conn-max 1000 --flood-rate 500
expect_fail 'at most 4194304 entries' dt dir1 limits --conn-max 4194305 --flood-rate 7 --expire-nodest false
expect_fail 'at most 4194304 entries' dt dir1 limits --conn-max 4294967295
expect_eq "$(bound), $(limit buckets), $(limit 'flood rate'), $(limit 'expire nodest')" \
	"1000, 512, 500 new connections/s, true" "limits after the refused requests"
expect_eq "$(count_matching "$(requests tcp "$VIP4" 80 4)" ERROR)" 0 "failed requests afterwards"

log "the last service gone: no hooks, the fewest chains again"
dt dir1 service del tcp "$VIP4:80"
expect_eq "$(limit buckets)" 512 "chains while a service is left"
dt dir1 service del udp "$VIP4:80"
expect_eq "$(limit buckets)" 256 "chains without a service"
before=$(status_field dir1 'hook packets')
n client ping -q -c 3 -i 0.1 "$(dir4 1)" >/dev/null
expect_eq "$(status_field dir1 'hook packets')" "$before" "hook packets without a service (3 more pings)"
