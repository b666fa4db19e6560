# drlb-tool's whole-configuration workflow: save, apply (only the diff,
# keeping live connections and counters), apply --dry-run, zero, and moving
# over from IPVS with import-ipvsadm; monitor follows it all.
#
#   client ----> dir1 (drlb) ----> rs1, rs2, rs3
#                dir2 (IPVS, then drlb from its ipvsadm -Sn dump)
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 3
start_servers 80 443
cfg=$(mktemp -d)
cat >"$cfg/a.toml" <<EOF2
[[service]]
protocol = "tcp"
address = "$VIP4:80"
scheduler = "rr"
reals = [{ address = "$(rs4 1)" }, { address = "$(rs4 2)" }]
EOF2
# a.toml plus: rs2 re-weighted, rs3 added, a second service.
cat >"$cfg/b.toml" <<EOF2
[[service]]
protocol = "tcp"
address = "$VIP4:80"
scheduler = "rr"
reals = [{ address = "$(rs4 1)" }, { address = "$(rs4 2)", weight = 3 }, { address = "$(rs4 3)" }]

[[service]]
protocol = "tcp"
address = "$VIP4:443"
scheduler = "sh"
reals = [{ address = "$(rs4 1)" }]
EOF2
dt dir1 monitor --json >"$cfg/events" &
monitor=$!
sleep 1 # (subscribed before the first change)
svc80() { list_json dir1 ".services[] | select(.port == 80) | $1"; }

log "apply to an empty director: the whole file"
expect_eq "$(dt dir1 apply "$cfg/a.toml" | wc -l)" 3 "changes applied (a service, two real servers)"
wait_resolved dir1
dt dir1 save | tee "$cfg/saved.toml"
expect_eq "$(dt dir1 apply --dry-run "$cfg/saved.toml")" "no changes" "apply --dry-run of what save wrote"

log "apply of the unchanged file under traffic changes nothing"
requests_bg tcp "$VIP4" 80 12 --hold 6 --until "$cfg/stop" --sport 41000 >"$cfg/held.out" &
held=$!
wait_for "the long connection" 20 sh -c "$DRLB_TOOL -n $(ns dir1) conns --client $CLIENT4 | grep ESTABLISHED"
conns0=$(svc80 .stats.conns)
packets0=$(svc80 .stats.packets)
expect_eq "$(dt dir1 apply "$cfg/a.toml")" "no changes" "apply a.toml again"
expect_eq "$(svc80 .stats.conns)" "$conns0" "connections counted (not reset)"
expect_ge "$(svc80 .stats.packets)" "$packets0" "packets counted"

log "apply of a changed file: only the difference, connections kept"
expect_eq "$(dt dir1 apply --dry-run "$cfg/b.toml" | tr '\n' ';')" \
	"real edit tcp $VIP4:80 $(rs4 2) --weight 3;real add tcp $VIP4:80 $(rs4 3) --weight 1;service add tcp $VIP4:443 --scheduler sh;real add tcp $VIP4:443 $(rs4 1) --weight 1;" \
	"apply --dry-run b.toml"
expect_eq "$(dt dir1 save)" "$(cat "$cfg/saved.toml")" "the configuration after the dry run"
dt dir1 apply "$cfg/b.toml"
expect_eq "$(dt dir1 conns --json | jq '[.[] | select(.client_port == 41000 and .state == "ESTABLISHED")] | length')" 1 \
	"the long connection's entry after apply"
touch "$cfg/stop"
wait $held
expect_ge "$(wc -l <"$cfg/held.out")" 12 "answers on the long connection"
expect_eq "$(distinct "$(cat "$cfg/held.out")")" 1 "real servers that answered it"
expect_ge "$(svc80 .stats.conns)" "$conns0" "connections counted after apply"
expect_eq "$(svc80 '[.reals[] | "\(.address)=\(.weight)"] | join(" ")')" "$(rs4 1)=1 $(rs4 2)=3 $(rs4 3)=1" "real servers and weights"
expect_eq "$(dt dir1 apply --dry-run "$cfg/b.toml")" "no changes" "b.toml once applied"
expect_eq "$(dt dir1 list --service tcp "$VIP4:443" --json | jq -c '[.services[] | "\(.port) \(.scheduler) \(.reals | length)"]')" \
	'["443 sh 1"]' "list --service: one service (SERVICE_GET without a dump)"
expect_fail 'no such service' dt dir1 list --service tcp "$VIP4:444"

log "bad files are refused and change nothing"
sed 's/scheduler = "sh"/scheduler = "foo"/' "$cfg/b.toml" >"$cfg/bad.toml"
expect_fail "unknown scheduler 'foo'" dt dir1 apply "$cfg/bad.toml"
printf '[[service]]\nprotocol = "tcp"\naddress = "%s:80"\nbogus = 1\n' "$VIP4" >"$cfg/bad2.toml"
expect_fail 'bad2.toml:4: unknown field' dt dir1 apply "$cfg/bad2.toml"
expect_eq "$(dt dir1 apply --dry-run "$cfg/b.toml")" "no changes" "the configuration after the bad files"

log "list --stats and --rate, like ipvsadm"
expect_eq "$(dt dir1 list --stats | awk -v a="$VIP4:80" '$2 == a {print $4, $5, $6}')" \
	"$(svc80 '"\(.stats.conns) \(.stats.packets) \(.stats.bytes)"')" "list --stats against list --json"
expect_eq "$(dt dir1 list --rate | head -n1 | awk '{print $4, $5, $6}')" "CPS InPPS InBPS" "list --rate's columns"

log "zero resets the counters, like ipvsadm -Z"
expect_ge "$(svc80 .stats.packets)" 1 "packets before zero"
dt dir1 zero tcp "$VIP4:80"
expect_eq "$(svc80 '"\(.stats.conns) \(.stats.packets) \([.reals[].stats.packets] | add)"')" "0 0 0" "service and real-server counters after zero"
dt dir1 zero
expect_fail 'no such service' dt dir1 zero tcp "$VIP4:81"

log "from IPVS: ipvsadm -Sn, import-ipvsadm, apply"
modprobe ip_vs
n dir2 ipvsadm -A -t "$VIP4:80" -s wrr
n dir2 ipvsadm -a -t "$VIP4:80" -r "$(rs4 1):80" -g -w 2
n dir2 ipvsadm -a -t "$VIP4:80" -r "$(rs4 2):80" -g -w 1
n dir2 ipvsadm -A -u "$VIP4:53" -s sh -p 120
n dir2 ipvsadm -a -u "$VIP4:53" -r "$(rs4 3):53" -g -w 1
n dir2 ipvsadm -Sn | tee "$cfg/ipvs.txt"
dt - import-ipvsadm "$cfg/ipvs.txt" | tee "$cfg/ipvs.toml"
n dir2 ipvsadm -C
expect_eq "$(dt dir2 apply "$cfg/ipvs.toml" | wc -l)" 5 "changes applied to dir2"
expect_eq "$(dt dir2 save | grep -v '^#')" "$(grep -v '^#' "$cfg/ipvs.toml")" "dir2's configuration, saved, against the imported file"
expect_eq "$(dt dir2 list --json | jq -c '[.services[] | "\(.protocol) \(.port) \(.scheduler) \(.persistence) \([.reals[].weight])"]')" \
	'["tcp 80 wrr 0 [2,1]","udp 53 sh 120 [1]"]' "dir2's services"
n dir2 ipvsadm -A -t "$VIP4:81" -s rr
n dir2 ipvsadm -a -t "$VIP4:81" -r "$(rs4 1):81" -m
expect_fail 'line 2: only direct routing' sh -c "ip netns exec $(ns dir2) ipvsadm -Sn | $DRLB_TOOL import-ipvsadm -"

log "monitor saw this scenario's events in dir1, and only those"
dt dir1 state standby
dt dir1 state active
sleep 0.5
kill $monitor
cat "$cfg/events"
expect_eq "$(jq -r .event "$cfg/events" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')" "real-add=4 real-edit=1 state=2 " "events by kind"
expect_eq "$(jq -r 'select(.event == "real-edit") | "\(.service) \(.real) \(.weight)"' "$cfg/events")" "tcp $VIP4:80 $(rs4 2) 3" "the re-weight event"
expect_eq "$(jq -r 'select(.event == "state") | .state' "$cfg/events" | tr '\n' ' ')" "standby active " "the state events"

log "flush: every service, real server and connection of the namespace goes"
dt dir1 flush
expect_eq "$(list_json dir1 '.services | length') $(dt dir1 conns --json | jq length)" "0 0" "dir1's services and connections after flush"
expect_eq "$(list_json dir2 '.services | length')" 2 "dir2's services, in another namespace"
