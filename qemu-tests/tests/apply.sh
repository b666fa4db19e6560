# drlb-tool's whole-configuration workflow: save, apply (only the diff,
# keeping live connections and counters), apply --dry-run, zero, and moving
# over from IPVS with import-ipvsadm; monitor follows it all.
#
#   client ----> dir1 (drlb) ----> rs1, rs2, rs3
#                dir2 (IPVS, then drlb from its ipvsadm -Sn dump)
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 3 -p "80 443"
cfg=$TMPD
write "$cfg/a.toml" <<EOF2
[[service]]
protocol = "tcp"
address = "$VIP4:80"
scheduler = "rr"
reals = [{ address = "$(rs4 1)" }, { address = "$(rs4 2)" }]
EOF2
# a.toml plus: rs2 re-weighted, rs3 added, a second service.
write "$cfg/b.toml" <<EOF2
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
snooze 1 # (subscribed before the first change)
svc80() { list_json dir1 "one($1 for s in d.services if s.port == 80)"; } # EXPR over s

log "apply to an empty director: the whole file"
expect_eq "$(count_matching "$(dt dir1 apply "$cfg/a.toml")")" 3 "changes applied (a service, two real servers)"
wait_resolved dir1
saved=$(dt dir1 save)
printf '%s\n' "$saved" | tee "$cfg/saved.toml"
expect_eq "$(dt dir1 apply --dry-run "$cfg/saved.toml")" "no changes" "apply --dry-run of what save wrote"

log "apply of the unchanged file under traffic changes nothing"
requests_bg tcp "$VIP4" 80 4 --hold 2 --until "$cfg/stop" --sport 41000 >"$cfg/held.out" &
held=$!
wait_for "the long connection" 20 established dir1
conns0=$(svc80 s.stats.conns)
packets0=$(svc80 s.stats.packets)
expect_eq "$(dt dir1 apply "$cfg/a.toml")" "no changes" "apply a.toml again"
expect_eq "$(svc80 s.stats.conns)" "$conns0" "connections counted (not reset)"
expect_ge "$(svc80 s.stats.packets)" "$packets0" "packets counted"

log "apply of a changed file: only the difference, connections kept"
out=$(dt dir1 apply --dry-run "$cfg/b.toml")
expect_eq "${out//$'\n'/;};" \
	"real edit tcp $VIP4:80 $(rs4 2) --weight 3;real add tcp $VIP4:80 $(rs4 3) --weight 1;service add tcp $VIP4:443 --scheduler sh;real add tcp $VIP4:443 $(rs4 1) --weight 1;" \
	"apply --dry-run b.toml"
expect_eq "$(dt dir1 save)" "$saved" "the configuration after the dry run"
dt dir1 apply "$cfg/b.toml"
expect_eq "$(q 'len([c for c in d if c.client_port == 41000 and c.state == "ESTABLISHED"])' dt dir1 conns --json)" 1 \
	"the long connection's entry after apply"
touch "$cfg/stop"
wait $held
slurp held_out "$cfg/held.out"
expect_ge "$(count_matching "$held_out")" 4 "answers on the long connection"
expect_eq "$(distinct "$held_out")" 1 "real servers that answered it"
expect_ge "$(svc80 s.stats.conns)" "$conns0" "connections counted after apply"
expect_eq "$(svc80 '" ".join(f"{r.address}={r.weight}" for r in s.reals)')" "$(rs4 1)=1 $(rs4 2)=3 $(rs4 3)=1" "real servers and weights"
expect_eq "$(dt dir1 apply --dry-run "$cfg/b.toml")" "no changes" "b.toml once applied"
expect_eq "$(q '[f"{s.port} {s.scheduler} {len(s.reals)}" for s in d.services]' dt dir1 list --service tcp "$VIP4:443" --json)" \
	'["443 sh 1"]' "list --service: one service (SERVICE_GET without a dump)"
expect_fail 'no such service' dt dir1 list --service tcp "$VIP4:444"

log "bad files are refused and change nothing"
slurp b "$cfg/b.toml"
printf '%s' "${b//scheduler = \"sh\"/scheduler = \"foo\"}" >"$cfg/bad.toml"
expect_fail "unknown scheduler 'foo'" dt dir1 apply "$cfg/bad.toml"
printf '[[service]]\nprotocol = "tcp"\naddress = "%s:80"\nbogus = 1\n' "$VIP4" >"$cfg/bad2.toml"
expect_fail 'bad2.toml:4: unknown field' dt dir1 apply "$cfg/bad2.toml"
expect_eq "$(dt dir1 apply --dry-run "$cfg/b.toml")" "no changes" "the configuration after the bad files"

log "list --stats and --rate, like ipvsadm"
stats_row() { # columns 4-6 of `list --stats` for service $1
	local addr a b c
	while read -r _ addr _ a b c _; do
		[ "$addr" = "$1" ] && echo "$a $b $c"
	done <<<"$(dt dir1 list --stats)"
}
expect_eq "$(stats_row "$VIP4:80")" \
	"$(svc80 'f"{s.stats.conns} {s.stats.packets} {s.stats.bytes}"')" "list --stats against list --json"
out=$(dt dir1 list --rate)
read -r _ _ _ a b c _ <<<"$out"
expect_eq "$a $b $c" "CPS InPPS InBPS" "list --rate's columns"

log "zero resets the counters, like ipvsadm -Z"
expect_ge "$(svc80 s.stats.packets)" 1 "packets before zero"
dt dir1 zero tcp "$VIP4:80"
expect_eq "$(svc80 'f"{s.stats.conns} {s.stats.packets} {sum(r.stats.packets for r in s.reals)}"')" "0 0 0" "service and real-server counters after zero"
dt dir1 zero
expect_fail 'no such service' dt dir1 zero tcp "$VIP4:81"

log "from IPVS: ipvsadm -Sn, import-ipvsadm, apply"
modprobe ip_vs
n dir2 ipvsadm -R <<EOF2
-A -t $VIP4:80 -s wrr
-a -t $VIP4:80 -r $(rs4 1):80 -g -w 2
-a -t $VIP4:80 -r $(rs4 2):80 -g -w 1
-A -u $VIP4:53 -s sh -p 120
-a -u $VIP4:53 -r $(rs4 3):53 -g -w 1
EOF2
n dir2 ipvsadm -Sn | tee "$cfg/ipvs.txt"
toml=$(dt - import-ipvsadm "$cfg/ipvs.txt")
printf '%s\n' "$toml" | tee "$cfg/ipvs.toml"
n dir2 ipvsadm -C
expect_eq "$(count_matching "$(dt dir2 apply "$cfg/ipvs.toml")")" 5 "changes applied to dir2"
expect_eq "$(uncommented "$(dt dir2 save)")" "$(uncommented "$toml")" "dir2's configuration, saved, against the imported file"
expect_eq "$(q '[f"{s.protocol} {s.port} {s.scheduler} {s.persistence} {[r.weight for r in s.reals]}" for s in d.services]' dt dir2 list --json)" \
	'["tcp 80 wrr 0 [2, 1]","udp 53 sh 120 [1]"]' "dir2's services"
n dir2 ipvsadm -R <<EOF2
-A -t $VIP4:81 -s rr
-a -t $VIP4:81 -r $(rs4 1):81 -m
EOF2
import_dir2() { n dir2 ipvsadm -Sn | "$DRLB_TOOL" import-ipvsadm -; }
expect_fail 'line 2: only direct routing' import_dir2

log "monitor saw this scenario's events in dir1, and only those"
dt dir1 state standby
dt dir1 state active
snooze 0.5
kill $monitor
slurp events "$cfg/events"
printf '%s' "$events"
expect_eq "$(q_lines "$cfg/events" '" ".join(f"{k}={n}" for k, n in sorted(Counter(e.event for e in d).items()))')" \
	"real-add=4 real-edit=1 state=2" "events by kind"
expect_eq "$(q_lines "$cfg/events" 'one(f"{e.service} {e.real} {e.weight}" for e in d if e.event == "real-edit")')" \
	"tcp $VIP4:80 $(rs4 2) 3" "the re-weight event"
expect_eq "$(q_lines "$cfg/events" '" ".join(e.state for e in d if e.event == "state")')" "standby active" "the state events"

log "flush: every service, real server and connection of the namespace goes"
dt dir1 flush
expect_eq "$(list_json dir1 'len(d.services)') $(q 'len(d)' dt dir1 conns --json)" "0 0" "dir1's services and connections after flush"
expect_eq "$(list_json dir2 'len(d.services)')" 2 "dir2's services, in another namespace"
