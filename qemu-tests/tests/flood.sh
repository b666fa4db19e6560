# Flood mode: with a tiny connection table, or a new-connection rate over
# the threshold, new flows go out without state through the Maglev table,
# still each to one consistent real server, and the table stays bounded;
# flood mode ends once the rate drops, also in the first five minutes
# after boot (where jiffies run up to their wrap).
#
#   client ---- dir1 (drlb, tcp VIP:80 rr, conn-max 8) ---- rs1, rs2, rs3
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 3 -p 80
dt dir1 service add tcp "$VIP4:80" --scheduler rr
for i in 1 2 3; do dt dir1 real add tcp "$VIP4:80" "$(rs4 $i)"; done
wait_resolved dir1
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }

log "a full table: 30 connections through a table of 8"
dt dir1 limits --conn-max 8
out=$(requests tcp "$VIP4" 80 30)
expect_eq "$(count_matching "$out" ERROR)" 0 "failed connections (each flow stayed on one real server)"
conns=$(limit connections) # "N of MAX"
expect_le "${conns%% *}" 8 "connections in the table"
expect_ge "$(limit 'stateless flows')" 20 "flows forwarded without state"
expect_le "$(limit 'stateless flows')" 30 "flows forwarded without state (one per flow)"
expect_ge "$(distinct "$out")" 2 "real servers used"

log "a new-connection rate over the threshold"
dt dir1 limits --conn-max 100000 --flood-rate 1
before=$(limit 'stateless flows')
out=$(requests tcp "$VIP4" 80 30)
expect_eq "$(count_matching "$out" ERROR)" 0 "failed connections in flood mode"
expect_ge $(($(limit 'stateless flows') - before)) 1 "flows forwarded without state in flood mode"
# (a stream that lasts until the query is done, however slow the machine)
stop=$TMPD/stop
requests_bg tcp "$VIP4" 80 10 --until "$stop" >"$stop.out" &
flood=$!
wait_for "the stream's first answers" 20 slurp_print "$stop.out"
expect_eq "$(q d.reason dt dir1 flow tcp "$CLIENT4:40999" "$VIP4:80" --json)" "flood mode (stateless Maglev)" \
	"flow query for a new flow while flooding"
touch "$stop"
wait $flood
log "the stream stops: flood mode ends within a second or two"
end=$((SECONDS + 5))
until [ "$(limit 'flood mode')" = off ]; do
	((SECONDS < end)) || fail "flood mode still on 5 s after the flood ended"
	snooze 0.3
done
log "ok: flood mode off; new flows get entries again"
before=$(limit 'stateless flows')
out=$(requests tcp "$VIP4" 80 1)
expect_eq "$(limit 'stateless flows')" "$before" "flows forwarded without state after the flood"
read -r up _ </proc/uptime
log "(guest uptime ${up%.*} s: jiffies wrap at 300 s)"
dt dir1 limits
expect_fail 'at least 1' dt dir1 limits --conn-max 0
