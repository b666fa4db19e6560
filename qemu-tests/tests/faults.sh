# Every change is all-or-nothing under allocation failure. For each
# mutating command, on a director carrying traffic, lib/failnth.py fails the
# request's 1st, 2nd, 3rd ... allocation (the kernel's per-task fault
# injection, /proc/thread-self/fail-nth, as syzkaller does) until the
# request goes through without reaching the fault. After each attempt that
# fails: the reply is an error, `drlb-tool save`, the state, timeouts and
# limits are as before, no event went out, and requests reach every real
# server still configured (a real server whose `real del` failed keeps
# getting new connections). After each success: the change is made, and
# its event sent or its listeners told one was lost. The harness fails the
# scenario on any splat or leak on the way.
#
#   client ----> dir1 (tcp VIP:80 and VIP:81, rr and wrr) ----> rs1, rs2, rs3
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 3 -p "80 81"

fi=/sys/kernel/debug
[ -d $fi/failslab ] || mount -t debugfs none $fi 2>/dev/null || true
[ -d $fi/failslab ] && [ -d $fi/fail_page_alloc ] && [ -w /proc/thread-self/fail-nth ] ||
	fail "no fault injection: the kernel needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS"
# fail-nth alone injects: the probability stays 0. Allocations that may
# sleep (GFP_KERNEL, what the control path makes) fail too, slab and pages
# of any order, silently.
fault_settings() { # Y|N: as the kernel's defaults (Y), or for the sweeps
	local d
	for d in failslab fail_page_alloc; do
		echo 0 >$fi/$d/probability
		echo "$1" >$fi/$d/ignore-gfp-wait
		if [ "$1" = N ]; then echo 0 >$fi/$d/verbose; else echo 2 >$fi/$d/verbose; fi
	done
	echo "$1" >$fi/fail_page_alloc/ignore-gfp-highmem
	if [ "$1" = N ]; then echo 0 >$fi/fail_page_alloc/min-order; else echo 1 >$fi/fail_page_alloc/min-order; fi
}
fault_settings N # (back to the defaults at the end; left as N, nothing fails without a fail-nth)

hex() { local a; printf -v a '%02x' ${1//./ }; echo "$a"; }
vip=$(hex "$VIP4") rs1=$(hex "$(rs4 1)") rs2=$(hex "$(rs4 2)") rs3=$(hex "$(rs4 3)")
S80="4:u8:6 5:hex:$vip 6:u16:80" S81="4:u8:6 5:hex:$vip 6:u16:81" # PROTO VIP PORT
# (drlb_kmod/core/src/proto.rs: commands and attributes)
SERVICE_NEW=3 SERVICE_SET=4 SERVICE_DEL=5 REAL_NEW=7 REAL_SET=8 REAL_DEL=9
SET_STATE=2 TIMEOUTS_SET=15 LIMITS_SET=17 FLUSH=18
SCHED=7 REAL=10 WEIGHT=11 STATE=2 T_TCP=20 T_UDP=22 CONN_MAX=25 FLOOD_RATE=27

dt dir1 -b - <<EOF2
service add tcp $VIP4:80 --scheduler rr
real add tcp $VIP4:80 $(rs4 1)
real add tcp $VIP4:80 $(rs4 2)
EOF2
wait_resolved dir1

log "sweeps: each command with its 1st, 2nd, ... allocation failing"
# shellcheck disable=SC2086
if ! FAILNTH_SAVE=${FAILNTH_SAVE:-1} n dir1 python3 -S lib/failnth.py "$(ns client)" \
	"rs1=$(rs4 1),rs2=$(rs4 2),rs3=$(rs4 3)" \
	sweep "service add" $SERVICE_NEW $S81 $SCHED:str:rr -- \
	do $REAL_NEW $S81 $REAL:hex:$rs1 -- do $REAL_NEW $S81 $REAL:hex:$rs3 -- \
	sweep "real add" $REAL_NEW $S80 $REAL:hex:$rs3 -- \
	sweep "real edit (weight)" $REAL_SET $S80 $REAL:hex:$rs2 $WEIGHT:u32:3 -- \
	sweep "real del" $REAL_DEL $S80 $REAL:hex:$rs1 -- \
	sweep "service edit (scheduler)" $SERVICE_SET $S81 $SCHED:str:wrr -- \
	sweep "timeouts set" $TIMEOUTS_SET $T_TCP:u32:1000 $T_UDP:u32:120 -- \
	sweep "limits set (conn-max: a resize)" $LIMITS_SET $CONN_MAX:u32:65536 $FLOOD_RATE:u32:100000 -- \
	sweep "state standby" $SET_STATE $STATE:u8:0 -- \
	sweep "state active" $SET_STATE $STATE:u8:1 -- \
	sweep "service del" $SERVICE_DEL $S81 -- \
	sweep "flush" $FLUSH -- \
	sweep "service add (the first: hooks, table)" $SERVICE_NEW $S80 $SCHED:str:rr -- \
	do $REAL_NEW $S80 $REAL:hex:$rs2 -- do $REAL_NEW $S80 $REAL:hex:$rs3 2>&1 |
	while IFS= read -r line; do log "$line"; done; then
	fail "a change under allocation failure broke a rule (above)"
fi
fault_settings Y

log "the end state, through drlb-tool"
expect_eq "$(list_json dir1 '" ".join(f"{s.port}:{s.scheduler}:" + ",".join(f"{r.address}/{r.weight}" for r in s.reals) for s in d.services)')" \
	"80:rr:$(rs4 2)/1,$(rs4 3)/1" "services after the sweeps"
expect_eq "$(q 'f"{d.tcp} {d.udp}"' dt dir1 timeouts --json)" "1000 120" "timeouts (tcp, udp)"
lim=$(dt dir1 limits) conns=$(field "$lim" connections)
expect_eq "${conns##* of }" 65536 "connection bound"
expect_eq "$(dt dir1 state)" active "state"
expect_eq "$(distinct "$(requests tcp "$VIP4" 80 4)")" 2 "real servers answering on :80"
