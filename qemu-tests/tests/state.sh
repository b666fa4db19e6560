# Active/standby per namespace, bad input rejected with a message and no
# change, and mutations only with CAP_NET_ADMIN.
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 1
nl() { n "$1" python3 -S lib/nlraw.py "${@:2}"; }
CMD_SET_STATE=2 ATTR_STATE=2

expect_eq "$(dt dir1 state)" active "dir1 initial state"
dt dir1 state standby
expect_eq "$(dt dir1 state)" standby "dir1 after 'state standby'"
expect_eq "$(dt dir2 state)" active "dir2 unaffected by dir1"
dt dir1 state active
expect_eq "$(dt dir1 state)" active "dir1 after 'state active'"

# Bad CLI input never reaches the kernel.
expect_fail "invalid value 'bogus'" dt dir1 state bogus
# Bad netlink input: the module says why and changes nothing (one process
# sends every request, a line of answer each).
mapfile -t raw < <(nl dir1 $CMD_SET_STATE $ATTR_STATE:u8:7 -- $CMD_SET_STATE -- \
	$CMD_SET_STATE $ATTR_STATE:u32:0 -- $CMD_SET_STATE 99:u8:0 -- 200)
expect_eq "${#raw[@]}" 5 "answers to the five raw requests"
expect_eq "${raw[0]}" "errno 22: state must be 0 (standby) or 1 (active)" "state 7"
expect_eq "${raw[1]}" "errno 22: missing state attribute" "no state attribute"
expect_eq "${raw[2]%%:*}" "errno 22" "state with a u32 payload"
expect_eq "${raw[3]%%:*}" "errno 22" "an unknown attribute"
expect_eq "${raw[4]%%:*}" "errno 95" "an unknown command"
expect_eq "$(dt dir1 state)" active "dir1 state after the bad requests"

# Without CAP_NET_ADMIN: reads work, writes are refused.
nobody() { n "$1" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "${@:2}"; }
expect_eq "$(nobody dir1 "$DRLB_TOOL" state)" active "state read as nobody"
expect_fail 'Operation not permitted' nobody dir1 "$DRLB_TOOL" state standby
expect_eq "$(dt dir1 state)" active "dir1 state after the refused write"
