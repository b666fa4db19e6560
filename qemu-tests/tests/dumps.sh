# Dumps that stay exact while what they list changes, or say that it
# changed (NLM_F_DUMP_INTR); and rmmod around a dump in progress.
#
#   client ----> dir1 (drlb, udp VIP:9 rr, a 256-chain connection table) ----> rs1, rs2
#
# nldump.py reads 4 KiB at a time, so a dump part holds about 40
# connections; the table has the fewest chains, 256 (conn_table_bits=8),
# so that 16,000 flows make chains of about 60. A position cursor within a chain shifts when entries are
# pushed at the chain's front between two parts (and repeats entries);
# drlb puts a chain whole into one part, or, for a chain longer than a
# part, marks the dump interrupted when the chain changed.
. lib/testlib.sh
insmod "$DRLB_KO" conn_table_bits=8
topo_up -d 1 -r 2
nd() { python3 -S lib/nldump.py "$@"; }
D=/run/netns/drlb-$TOPO_TAG-dir1 C=/run/netns/drlb-$TOPO_TAG-client
kv() { local w; for w in $1; do [[ $w == "$2="* ]] && { echo "${w#*=}"; return; }; done; } # LINE KEY
exact() { expect_eq "$(kv "$1" doubled) $(kv "$1" missing) $(kv "$1" interrupted) $(kv "$1" errno)" "0 0 0 0" \
	"$2: entries doubled, missing, marked interrupted; errno"; }
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }

log "services: ten deleted after the first part, five added after the second"
out=$(nd services "$D" 198.51.100.50 80)
log "$out"
exact "$out" "service dump"
expect_eq "$(kv "$out" entries)" 85 "services dumped (80, and the five added at the end)"

dt dir1 -b - <<EOF2
service add udp $VIP4:9 --scheduler rr
real add udp $VIP4:9 $(rs4 1)
real add udp $VIP4:9 $(rs4 2)
EOF2
wait_resolved dir1
# The flows must outlive the scenario, which takes minutes under load:
# an entry expiring during a dump marks it interrupted and shortens it.
dt dir1 timeouts --udp 3600

log "connections: 200 flows, then a dump with 32 new flows after each of its first 4 parts"
nd flows "$C" "$VIP4" 9 1000 200
nd count "$D" 200
out=$(nd check "$D" "$C" "$VIP4" 9 1000 1200 32 4)
log "$out"
exact "$out" "connection dump, chains shorter than a part"
expect_ge "$(kv "$out" parts)" 5 "dump parts"
next=$(kv "$out" next)

log "chains longer than a part (16,000 more flows): split, exact while still, interrupted when changed"
nd flows "$C" "$VIP4" 9 "$next" 16000
total=$((next + 16000 - 1000))
nd count "$D" "$total"
out=$(nd check "$D" "$C" "$VIP4" 9 1000 $((next + 16000)) 0 0)
log "$out"
exact "$out" "connection dump of a still table"
expect_eq "$(kv "$out" entries)" "$total" "connections dumped"
# (a change is seen only if it lands in the chain split over the part
# boundary: 64 new flows after each of 60 parts, one of 256 chains each,
# all miss it with a chance of ((255/256)^64)^60, 3e-7)
out=$(nd check "$D" "$C" "$VIP4" 9 1000 $((next + 16000)) 64 60)
log "$out"
expect_eq "$(kv "$out" interrupted) $(kv "$out" errno)" "1 0" "marked interrupted, errno, with flows added between parts"
next=$(kv "$out" next)

log "drlb-tool reads 32 KiB parts: chains go whole, exact under a steady stream of new flows"
stop=/tmp/drlb-dumps-$$.stop
rm -f "$stop"
nd churn "$C" "$VIP4" 9 "$next" "$stop" &
churn=$!
nd count "$D" $((total + 200)) # (the stream is on)
listed=$(dt dir1 conns 2>"$stop.err")
touch "$stop"
wait $churn
declare -A seen=()
rows=0
while read -r pro _ _ src _; do
	[ "$pro" = UDP ] || continue
	rows=$((rows + 1)) seen[${src##*:}]=1
done <<<"$listed"
expect_eq "$((rows - ${#seen[@]}))" 0 "connections listed twice by drlb-tool"
expect_ge "$rows" $((total + 200)) "connections listed by drlb-tool"
slurp err "$stop.err"
expect_eq "$err" "" "drlb-tool's complaints (a dump it had to make again)"
expect_fail 'no such service' dt dir1 conns --service udp "$VIP4:10"

log "rmmod while a dump is open: refused (the dump holds the module); the dump then completes"
conns=$(limit connections) conns=${conns%% *}
dump_hold "$D"
expect_eq "${HELD%% *}" holding "the dump's first part"
expect_fail 'in use' rmmod drlb
dump_release finish
expect_eq "$HELD" "done $conns errno 0 interrupted 0" "the rest of the dump"

log "a dump cut off (its socket closed) releases the module; rmmod with a monitor subscribed"
dump_hold "$D"
dt dir1 monitor >/dev/null 2>&1 &
monitor=$!
snooze 1 # (subscribed, as a rule, by then)
dump_release close
expect_eq "$HELD" closed "the dump's socket"
rmmod drlb
log "ok: rmmod after the cut-off dump"
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null || true
expect_fail 'not loaded' dt dir1 status
rm -f "$stop" "$stop.err"
