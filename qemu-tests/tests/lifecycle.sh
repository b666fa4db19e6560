# drlb.ko's lifecycle under load:
# - cycles of insmod, configure (TCP, UDP, IPv6), traffic, rmmod, with a
#   stream of new connections running through every one, so the module
#   goes while packets are in its hooks and its table holds connections;
#   DRLB_LIFECYCLE_CYCLES sets how many (`make lifecycle`: 100; here 4);
# - a configured network namespace carrying traffic is deleted, while
#   another namespace's configuration stays.
# The harness fails the scenario on any kernel splat or kmemleak leak.
#
#   client --- br0 --- dir1 (drlb) --- rs1, rs2
#                      dir2 (drlb, configured, no traffic)
. lib/testlib.sh
cycles=${DRLB_LIFECYCLE_CYCLES:-4}
drlb_unload
topo_up -d 2 -r 2 -p 80

configure() {
	dt dir1 -b - <<EOF
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
service add udp $VIP4:80 --scheduler rr
real add udp $VIP4:80 $(rs4 1)
real add udp $VIP4:80 $(rs4 2)
service add tcp [$VIP6]:80 --scheduler rr
real add tcp [$VIP6]:80 $(rs6 1)
real add tcp [$VIP6]:80 $(rs6 2)
EOF
}

# New connections all along (an error while drlb is out is expected).
stream=$TMPD/stream
requests_bg tcp "$VIP4" 80 1 --timeout 1 --pace 0.2 --until "$TMPD/stop-stream" >"$stream" &
spid=$!
log "$cycles cycles of insmod, configure, traffic, rmmod"
for ((i = 1; i <= cycles; i++)); do
	insmod "$DRLB_KO"
	configure
	wait_resolved dir1
	out=$(requests tcp "$VIP4" 80 4)$'\n'$(requests udp "$VIP4" 80 2)$'\n'$(requests tcp "$VIP6" 80 2)
	[ "$(count_matching "$out" '^rs[12] ')" = 8 ] || fail "cycle $i: answers: $out"
	# (the stream's connections and these are in the table as it goes)
	rmmod drlb
	((i % 10 && i != cycles)) || log "cycle $i done"
done
touch "$TMPD/stop-stream"
wait "$spid" || true
slurp out "$stream"
expect_ge "$(count_matching "$out" '^rs[12] ')" "$cycles" "answers to the stream across the cycles"

log "a configured namespace carrying traffic is deleted"
insmod "$DRLB_KO"
configure
dt dir2 -b - <<EOF
service add tcp $VIP4:80
real add tcp $VIP4:80 $(rs4 1)
EOF
wait_resolved dir1
held=$TMPD/held
requests_bg tcp "$VIP4" 80 4 --hold 2 --until "$TMPD/stop-held" >"$held" &
hpid=$!
requests_bg tcp "$VIP4" 80 1 --timeout 1 --pace 0.2 --until "$TMPD/stop-stream2" >"$stream" &
spid=$!
wait_for "the long flow's first answer" 30 slurp_print "$held"
wait_for "the stream's first answer" 30 slurp_print "$stream"
ip netns del "drlb-$TOPO_TAG-dir1"
hosts=(); for h in "${TOPO_HOSTS[@]}"; do [ "$h" = dir1 ] || hosts+=("$h"); done; TOPO_HOSTS=("${hosts[@]}")
log "dir1 deleted"
touch "$TMPD/stop-held" "$TMPD/stop-stream2"
wait "$hpid" || true
wait "$spid" || true
expect_eq "$(list_json dir2 '[len(d.services), d.services[0].reals[0].address]')" "[1,\"$(rs4 1)\"]" "dir2's configuration"
dt - status >/dev/null
# A namespace made after the deletion gets fresh state.
ip netns add "drlb-$TOPO_TAG-late"; TOPO_HOSTS+=(late)
expect_eq "$(list_json late 'len(d.services)')" 0 "services in a new namespace"
