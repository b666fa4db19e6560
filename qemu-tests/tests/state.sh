# Active/standby per namespace and per service, bad input rejected with a
# message and no change, and mutations only with CAP_NET_ADMIN.
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 1 -p "80 81"
nl() { n "$1" python3 -S lib/nlraw.py "${@:2}"; }
CMD_SET_STATE=2 ATTR_STATE=2 CMD_SERVICE_NEW=3 CMD_SERVICE_SET=4 ATTR_SVC_STATE=38
printf -v vip_hex '%02x' ${VIP4//./ }
svc80="4:u8:6 5:hex:$vip_hex 6:u16:80" svc82="4:u8:6 5:hex:$vip_hex 6:u16:82" # PROTO VIP PORT

expect_eq "$(dt dir1 state)" active "dir1 initial state"
dt dir1 state standby
expect_eq "$(dt dir1 state)" standby "dir1 after 'state standby'"
expect_eq "$(dt dir2 state)" active "dir2 unaffected by dir1"
dt dir1 state active
expect_eq "$(dt dir1 state)" active "dir1 after 'state active'"

# Per service: tcp :80 standby (through a later scheduler edit too), tcp
# :81 active, on the same director.
{
	echo "service add tcp $VIP4:80"
	echo "real add tcp $VIP4:80 $(rs4 1)"
	echo "service add tcp $VIP4:81 --scheduler rr"
	echo "real add tcp $VIP4:81 $(rs4 1)"
	echo "service edit tcp $VIP4:80 --state standby"
	echo "service edit tcp $VIP4:80 --scheduler rr"
} | dt dir1 -b -

# Bad CLI input never reaches the kernel.
expect_fail "invalid value 'bogus'" dt dir1 state bogus
# Bad netlink input: the module says why and changes nothing (one process
# sends every request, a line of answer each).
mapfile -t raw < <(nl dir1 $CMD_SET_STATE $ATTR_STATE:u8:7 -- $CMD_SET_STATE -- \
	$CMD_SET_STATE $ATTR_STATE:u32:0 -- $CMD_SET_STATE 99:u8:0 -- 200 -- \
	$CMD_SERVICE_SET $svc80 $ATTR_SVC_STATE:u8:7 -- $CMD_SERVICE_NEW $svc82 $ATTR_SVC_STATE:u8:7)
expect_eq "${#raw[@]}" 7 "answers to the seven raw requests"
expect_eq "${raw[0]}" "errno 22: state must be 0 (standby) or 1 (active)" "state 7"
expect_eq "${raw[1]}" "errno 22: missing state attribute" "no state attribute"
expect_eq "${raw[2]%%:*}" "errno 22" "state with a u32 payload"
expect_eq "${raw[3]%%:*}" "errno 22" "an unknown attribute"
expect_eq "${raw[4]%%:*}" "errno 95" "an unknown command"
expect_eq "${raw[5]}" "errno 22: service state must be 0 (standby) or 1 (active)" "service edit with state 7"
expect_eq "${raw[6]}" "errno 22: service state must be 0 (standby) or 1 (active)" "service add with state 7"
expect_eq "$(dt dir1 state)" active "dir1 state after the bad requests"

log "per-service standby: tcp :80 forwards nothing, tcp :81 on the same director goes on"
wait_resolved dir1
svcs() { list_json dir1 '" ".join(f"{s.port}:{s.scheduler}:{s.state}:{s.stats.conns}" for s in d.services)'; }
expect_eq "$(count_matching "$(requests tcp "$VIP4" 80 1 --timeout 1)" ERROR)" 1 "requests to the standby service failing"
expect_eq "$(answers_from "$(requests tcp "$VIP4" 81 2)" rs1)" 2 "answers from the active service"
expect_eq "$(svcs)" "80:rr:standby:0 81:rr:active:2" "services (port:scheduler:state:conns) after the bad requests"
list=$(dt dir1 list)
expect_eq "$(count_matching "$list" " standby\$") $(count_matching "$list" "^TCP +$VIP4:80 .* standby\$")" "1 1" \
	"lines of 'list' marked standby, and the :80 service's among them"
expect_fail 'standby: this service forwards nothing on this director' dt dir1 flow tcp "$CLIENT4:40000" "$VIP4:80"
dt dir1 service edit tcp "$VIP4:80" --state active
expect_eq "$(answers_from "$(requests tcp "$VIP4" 80 2)" rs1)" 2 "answers after 'service edit --state active'"
expect_eq "$(svcs)" "80:rr:active:2 81:rr:active:2" "services after 'service edit --state active'"

# Without CAP_NET_ADMIN (drlb_kmod/core/src/proto.rs, OPS): the state,
# limits and timeouts read; changes, and reads that name addresses
# (services and real servers with their MACs, connections, flow queries,
# events), are refused, and drlb-tool says what is missing.
nobody() { n "$1" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "${@:2}"; }
expect_eq "$(nobody dir1 "$DRLB_TOOL" state)" active "state read as nobody"
hint='Operation not permitted.*: needs CAP_NET_ADMIN in this network namespace'
expect_fail "$hint" nobody dir1 "$DRLB_TOOL" state standby
expect_fail "$hint" nobody dir1 "$DRLB_TOOL" conns
expect_fail "$hint" nobody dir1 "$DRLB_TOOL" list
expect_fail "$hint" nobody dir1 timeout 5 "$DRLB_TOOL" monitor
# Every command, raw, in one process: EPERM exactly for those OPS keeps to
# CAP_NET_ADMIN (the permission is checked before the attributes).
open=" 1 14 16 " want="" args=()
for c in {1..19}; do
	args+=("$c" --)
	if [[ $open == *" $c "* ]]; then want+="$c:ok "; else want+="$c:errno 1 "; fi
done
mapfile -t raw < <(nobody dir1 python3 -S lib/nlraw.py "${args[@]}")
got="" c=1
for r in "${raw[@]}"; do
	# (an open command may still refuse what it was sent: not with EPERM)
	[[ $open == *" $c "* && $r != "errno 1"* ]] && r=ok
	got+="$c:$r " c=$((c + 1))
done
expect_eq "$got" "$want" "each command's answer to nobody"
expect_eq "$(dt dir1 state)" active "dir1 state after the refused writes"
