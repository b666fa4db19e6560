# Weight 0 drains a real server: its existing connection goes on, new ones
# avoid it. Deleting a real server removes it and traffic goes on.
#
#   client ---- dir1 (drlb, tcp VIP:80 rr) ---- rs1, rs2
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 2 -p 80
dt dir1 service add tcp "$VIP4:80" --scheduler rr
dt dir1 real add tcp "$VIP4:80" "$(rs4 1)"
dt dir1 real add tcp "$VIP4:80" "$(rs4 2)"
wait_resolved dir1

held=$TMPD/held
requests_bg tcp "$VIP4" 80 4 --hold 1.2 --until "$held.stop" >"$held" &
held_pid=$!
wait_for "the long connection's first answer" 20 slurp_print "$held"
slurp out "$held"
rs=${out%% *}
other=rs1; [ "$rs" = rs1 ] && other=rs2
log "the long connection is on $rs: drain it"
dt dir1 real edit tcp "$VIP4:80" "$(rs4 "${rs#rs}")" --weight 0
out=$(requests tcp "$VIP4" 80 10)
expect_eq "$(answers_from "$out" "$other")" 10 "new connections to $other while $rs drains"
touch "$held.stop"
wait $held_pid
slurp out "$held"
expect_ge "$(count_matching "$out")" 4 "answers on the draining connection"
expect_eq "$(answers_from "$out" "$rs")" "$(count_matching "$out")" "answers from $rs (all of them)"
expect_eq "$(list_json dir1 '[r.weight for r in d.services[0].reals]')" "$([ "$rs" = rs1 ] && echo '[0,1]' || echo '[1,0]')" "weights"

log "delete $rs"
dt dir1 real del tcp "$VIP4:80" "$(rs4 "${rs#rs}")"
expect_eq "$(list_json dir1 '[r.address for r in d.services[0].reals]')" "[\"$(rs4 "${other#rs}")\"]" "real servers left"
out=$(requests tcp "$VIP4" 80 5)
expect_eq "$(answers_from "$out" "$other")" 5 "connections to $other after the delete"
expect_fail 'no such real server' dt dir1 real del tcp "$VIP4:80" "$(rs4 "${rs#rs}")"
expect_fail 'weight must be|0..=65535|65536' dt dir1 real edit tcp "$VIP4:80" "$(rs4 "${other#rs}")" --weight 65536
expect_fail 'same address family' dt dir1 real add tcp "$VIP4:80" "$(rs6 1)"
expect_fail 'already exists' dt dir1 service add tcp "$VIP4:80"
expect_fail 'unknown scheduler|invalid value' dt dir1 service add tcp "$VIP4:81" --scheduler foo
