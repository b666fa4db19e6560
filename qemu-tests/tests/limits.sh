# The connection table's bound (limits --conn-max, the conn_max module
# parameter): at most 4194304 entries; a larger bound is refused with the
# module's reason and changes nothing.
#
#   client ----> dir1 (drlb, tcp VIP:80 rr) ----> rs1, rs2
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
EOF2
wait_resolved dir1
limit() { local out; out=$(dt dir1 limits) && field "$out" "$1"; }

log "the bound: up to 4194304 entries; above that refused, and nothing changes"
dt dir1 limits --conn-max 4194304
expect_eq "$(limit connections)" "0 of 4194304" "the largest bound"
dt dir1 limits --conn-max 1000 --flood-rate 500
expect_fail 'at most 4194304 entries' dt dir1 limits --conn-max 4194305 --flood-rate 7 --expire-nodest false
expect_fail 'at most 4194304 entries' dt dir1 limits --conn-max 4294967295
expect_eq "$(limit connections), $(limit 'flood rate'), $(limit 'expire nodest')" \
	"0 of 1000, 500 new connections/s, true" "limits after the refused requests"
expect_eq "$(count_matching "$(requests tcp "$VIP4" 80 4)" ERROR)" 0 "failed requests afterwards"
