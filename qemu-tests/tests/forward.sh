# Direct routing end to end, one topology for every scheduler and family:
#
#   client ----> dir1 (drlb) ----> rs1, rs2, rs3      VIP on each rs's lo
#      ^                             |
#      +---- replies, not via dir1 --+                dir2: its own drlb config
#
#   tcp VIP:80 rr   tcp VIP:81 wrr 1:2:3   tcp VIP:82 sh   tcp VIP:83 maglev
#   tcp [VIP6]:80 rr   udp VIP:80 rr   tcp VIP:84 rr with 60 s persistence
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 3 -p "80 81 82 83 84"

add() { # PROTO ADDR SCHED WEIGHT...: a service and its three reals, as batch lines
	local p=$1 a=$2 s=$3 i=1 w; shift 3
	echo "service add $p $a --scheduler $s"
	for w in "$@"; do
		if [[ $a == \[* ]]; then echo "real add $p $a $(rs6 $i) -w $w"
		else echo "real add $p $a $(rs4 $i) -w $w"; fi
		i=$((i + 1))
	done
}
{
	add tcp "$VIP4:80" rr 1 1 1
	add tcp "$VIP4:81" wrr 1 2 3
	add tcp "$VIP4:82" sh 1 1 1
	add tcp "$VIP4:83" maglev 1 1 1
	add tcp "[$VIP6]:80" rr 1 1 1
	add udp "$VIP4:80" rr 1 1 1
	add tcp "$VIP4:84" rr 1 1 1
	echo "service edit tcp $VIP4:84 --persistence 60"
} | dt dir1 -b -
wait_resolved dir1
dt dir1 list

log "rr: exactly even; each real server sees the client's address and the VIP (DR, not NAT)"
hook0=$(status_field dir1 "hook packets")
fwd0=$(list_json dir1 'd.services[0].stats.packets')
out=$(requests tcp "$VIP4" 80 15)
hook1=$(status_field dir1 "hook packets")
fwd1=$(list_json dir1 'd.services[0].stats.packets')
for i in 1 2 3; do expect_eq "$(answers_from "$out" "rs$i")" 5 "rr connections to rs$i"; done
expect_eq "$(count_matching "$out" "client=$CLIENT4 local=$VIP4\$")" 15 "answers with client source and VIP destination"
log "replies bypass the director: dir1's hooks saw only the forwarded client packets"
expect_ge $((fwd1 - fwd0)) 75 "packets dir1 forwarded for 15 connections"
# Neighbour discovery and MLD add a few; the replies would add as many as
# were forwarded.
expect_le $((hook1 - hook0 - (fwd1 - fwd0))) $(((fwd1 - fwd0) / 4)) "other packets dir1's hooks saw meanwhile (replies would be ~$((fwd1 - fwd0)))"

log "wrr 1:2:3"
out=$(requests tcp "$VIP4" 81 30)
expect_eq "$(answers_from "$out" rs1) $(answers_from "$out" rs2) $(answers_from "$out" rs3)" "5 10 15" "wrr connections to rs1 rs2 rs3"

log "sh and maglev: sticky per client"
expect_eq "$(distinct "$(requests tcp "$VIP4" 82 10)")" 1 "real servers answering one client (sh)"
expect_eq "$(distinct "$(requests tcp "$VIP4" 83 10)")" 1 "real servers answering one client (maglev)"

log "persistence: rr, but one client keeps its real server, like ipvsadm -p"
out=$(requests tcp "$VIP4" 84 6)
expect_eq "$(distinct "$out")" 1 "real servers answering one client (persistent rr)"
first=${out%% *} # "rsN"
expect_eq "$(q 'f"{d.reason} {d.real}"' dt dir1 flow tcp "$CLIENT4:40999" "$VIP4:84" --json)" \
	"persistence $(rs4 "${first#rs}")" "flow query for a new port of that client"

log "IPv6 and UDP"
out=$(requests tcp "$VIP6" 80 15)
for i in 1 2 3; do expect_eq "$(answers_from "$out" "rs$i")" 5 "IPv6 rr connections to rs$i"; done
expect_eq "$(count_matching "$out" "client=$CLIENT6 local=$VIP6\$")" 15 "IPv6 answers with client source and VIP destination"
out=$(requests udp "$VIP4" 80 15)
for i in 1 2 3; do expect_eq "$(answers_from "$out" "rs$i")" 5 "UDP rr flows to rs$i"; done

log "one long TCP connection stays on one real server"
out=$(requests tcp "$VIP4" 80 10 --hold 1)
expect_eq "$(count_matching "$out") $(distinct "$out")" "10 1" "answers on the long connection, real servers"

log "standby forwards nothing but keeps config and counters; active resumes"
before=$(list_json dir1 'd.services[0].stats.conns')
dt dir1 state standby
expect_eq "$(count_matching "$(requests tcp "$VIP4" 80 2 --timeout 1)" ERROR)" 2 "requests failing in standby"
expect_eq "$(list_json dir1 'f"{len(d.services)} {d.services[0].stats.conns}"')" "7 $before" "services and connection count in standby"
dt dir1 state active
expect_eq "$(distinct "$(requests tcp "$VIP4" 80 3)")" 3 "real servers answering after 'state active'"

log "isolation: dir2's drlb has its own, empty, configuration"
expect_eq "$(list_json dir2 'len(d.services)')" 0 "services in dir2"
dt dir2 service add tcp "$VIP4:8080"
expect_eq "$(list_json dir2 'len(d.services)') $(list_json dir1 'len(d.services)')" "1 7" "services in dir2 and dir1"

log "pass-through: traffic for no service goes through untouched"
n client ping -q -c 3 -i 0.1 "$(dir4 1)" >/dev/null
n client ping -q -c 3 -i 0.1 "$(dir6 1)" >/dev/null
dt dir1 limits
dt dir1 list

log "many services: 100 more on dir1; each is found by its own key, :80 still serves"
batch=$TMPD/many
for ((p = 10000; p < 10100; p++)); do
	echo "service add tcp $VIP4:$p --scheduler rr"
	echo "real add tcp $VIP4:$p $(rs4 $((p % 3 + 1)))"
done >"$batch"
dt dir1 -b "$batch"
expect_eq "$(list_json dir1 'len(d.services)')" 107 "services in dir1"
expect_eq "$(q 'd.real' dt dir1 flow tcp "$CLIENT4:40001" "$VIP4:10099" --json)" "$(rs4 $((10099 % 3 + 1)))" "the real server of the last service added"
expect_eq "$(q 'd.real' dt dir1 flow tcp "$CLIENT4:40001" "$VIP4:10000" --json)" "$(rs4 $((10000 % 3 + 1)))" "the real server of the first"
expect_fail 'no such service' dt dir1 flow tcp "$CLIENT4:40001" "$VIP4:10100"
expect_eq "$(distinct "$(requests tcp "$VIP4" 80 3)")" 3 "real servers answering on :80 among 107 services"
