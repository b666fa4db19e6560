# Direct routing end to end with the rr scheduler:
#
#   client --> dir1 (drlb: VIP 198.51.100.10:80, rr) --> rs1, rs2, rs3
#      ^                                                    |
#      +------------------ replies, not via dir1 <----------+
#
# rr spreads new connections exactly evenly; each real server sees the
# client's own address as source and the VIP as destination (DR, not NAT).
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 3
start_servers 80
dt dir1 service add tcp "$VIP4:80" --scheduler rr
for i in 1 2 3; do dt dir1 real add tcp "$VIP4:80" "$(rs4 $i)"; done
wait_resolved dir1
dt dir1 list

out=$(requests tcp "$VIP4" 80 30)
for i in 1 2 3; do
	expect_eq "$(answers_from "$out" "rs$i")" 10 "connections answered by rs$i"
done
expect_eq "$(grep -c "client=$CLIENT4 local=$VIP4\$" <<<"$out")" 30 "answers showing client source and VIP destination"
dt dir1 list
expect_eq "$(dt dir1 list --json | python3 -c 'import json,sys; print(sum(r["stats"]["conns"] for r in json.load(sys.stdin)["services"][0]["reals"]))')" 30 "connections counted by drlb"
