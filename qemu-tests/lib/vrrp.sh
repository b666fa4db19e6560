# shellcheck shell=bash
# Helpers for VRRP scenarios: vrrpd and keepalived in the topology's
# namespaces, and their state as each reports it.
#
#   vrrp_conf HOST PRIO [key = value ...] > file   a one-instance vrrpd config
#                    (VRRP_INTERVAL_MS, default 100; VRRP_LB=true drives drlb)
#   vrrpd_start HOST CONF                           (pid in VRRPD_PID[HOST])
#   vrrp_state HOST                                 MASTER, BACKUP, ...
#   instance_state HOST NAME                        the state of instance NAME
#   wait_instance HOST NAME STATE [SECONDS]
#   real_q HOST N EXPR                              EXPR about real server rsN
#                    in HOST's first virtual server (vrrpd status --json)
#   wait_role HOST N ROLE SECONDS                   until rsN's role is ROLE
#   holds_vip HOST                                  exit 0 if HOST has the VIP
#   ka_start HOST VERSION INTERVAL VIP/LEN [AUTH]   keepalived (prio 150) in HOST
#   ka_stop                                         its graceful stop, awaited
: "${VRRPD:?}"
declare -gA VRRPD_PID=()
VRRP_DIR=$(mktemp -d)

vrrp_conf() { # HOST PRIO [extra lines...]
	local h=$1 prio=$2; shift 2
	printf '[[instance]]\nname = "vi1"\ninterface = "eth0"\nvrid = 51\npriority = %s\nadvert_interval_ms = %s\nvirtual_ips = ["%s/32"]\nlb = %s\n' "$prio" "${VRRP_INTERVAL_MS:-100}" "$VIP4" "${VRRP_LB:-false}"
	local l; for l in "$@"; do echo "$l"; done
}
vrrpd_start() { # HOST CONF
	ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" --config "$2" 2>>"$VRRP_DIR/$1.log" &
	VRRPD_PID[$1]=$!
}
vrrpd_signal() { kill "-$2" "${VRRPD_PID[$1]}"; }
vrrpd_stop() { kill "${VRRPD_PID[$1]:-}" 2>/dev/null || true; wait "${VRRPD_PID[$1]:-}" 2>/dev/null || true; }
vrrp_status() { ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" status --json; }
# (the text status, read by bash: a jq per reading costs most of a second
# under TCG, where wait_state polls)
vrrp_state() {
	local out
	out=$(ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" status 2>/dev/null) || return 0
	[[ $out =~ \):\ ([A-Z_]+)\  ]] && echo "${BASH_REMATCH[1]}"
}
instance_state() { # HOST NAME
	local out
	out=$(ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" status 2>/dev/null) || return 0
	[[ $out =~ (^|$'\n')$2\ \([^\)]*\):\ ([A-Z]+) ]] && echo "${BASH_REMATCH[2]}"
}
wait_instance() { # HOST NAME STATE [SECONDS]
	local end=$((SECONDS + ${4:-5}))
	until [ "$(instance_state "$1" "$2")" = "$3" ]; do
		((SECONDS < end)) || fail "$1's $2 is $(instance_state "$1" "$2"), not $3"
		snooze 0.05
	done
}
real_q() { q "one(r.$3 for r in d.virtual_servers[0].reals if r.address == '$(rs4 "$2")')" vrrp_status "$1"; }
wait_role() { # HOST N ROLE SECONDS
	local end=$((SECONDS + $4)) r
	until r=$(real_q "$1" "$2" role) && [ "$r" = "$3" ]; do
		((SECONDS < end)) || fail "rs$2 is '$r' on $1, not '$3', after $4 s"
		snooze 0.2
	done
	log "ok: rs$2 is $3"
}
holds_vip() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0) == *" $VIP4/32"* ]]; }
# until HOST's state is STATE, at most SECONDS
wait_state() {
	local h=$1 want=$2 t=${3:-10} end
	end=$((${EPOCHREALTIME/./} + t * 1000000))
	until [ "$(vrrp_state "$h")" = "$want" ]; do
		((${EPOCHREALTIME/./} < end)) || fail "$h is $(vrrp_state "$h"), not $want after ${t}s"
		snooze 0.05
	done
}
# (bash's clock: no `date` process per reading)
now_ms() { local us=${EPOCHREALTIME/./}; echo $((us / 1000)); }
# A director crashes: kill -9 of HOST's vrrpd and its link down (the
# director is gone); PEER must become MASTER within 15 s. Logged with the
# milliseconds it took.
vrrpd_crash() { # HOST PEER
	local t0
	t0=$(now_ms)
	kill -9 "${VRRPD_PID[$1]}"
	wait "${VRRPD_PID[$1]}" 2>/dev/null || true
	n "$1" ip link set eth0 down
	wait_state "$2" MASTER 15
	log "$2 MASTER $(($(now_ms) - t0)) ms after $1's crash"
}
# The keepalived fixture vrrpd/tests/keepalived/lvs-dr (two LVS-DR
# directors and their services) copied into $VRRP_DIR/ka, its
# 192.168.100.0/24 moved to the topology's subnet.
lvs_dr_fixture() {
	local fx f
	fx=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../vrrpd/tests/keepalived/lvs-dr" && pwd)
	mkdir -p "$VRRP_DIR/ka/services"
	for f in director1.conf director2.conf services/web.conf; do
		sed 's/192\.168\.100\./198.51.100./g' "$fx/$f" >"$VRRP_DIR/ka/$f"
	done
}
# HOST holds the VIP as the fixture gives it (a /24 on eth0).
has_vip() { [[ $(ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0) == *" $VIP4/24"* ]]; }

# Debian's keepalived, priority 150, VRID 51, in HOST's namespace with its
# own pid files (several may run on one machine). AUTH: extra instance lines.
ka_pid=
ka_start() { # HOST VERSION INTERVAL VIP/LEN [AUTH]
	cat >"$VRRP_DIR/ka.conf" <<KA
global_defs {
	router_id ka-$1
	vrrp_version $2
	vrrp_garp_master_delay 1
}
vrrp_instance vi1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int $3
	${5:-}
	virtual_ipaddress {
		$4
	}
}
KA
	ip netns exec "drlb-$TOPO_TAG-$1" keepalived -n -l -D --vrrp -f "$VRRP_DIR/ka.conf" \
		-p "$VRRP_DIR/ka.pid" -r "$VRRP_DIR/ka-vrrp.pid" >>"$VRRP_DIR/ka.log" 2>&1 &
	ka_pid=$!
}
ka_stop() { [ -z "$ka_pid" ] || { kill "$ka_pid" 2>/dev/null || true; wait "$ka_pid" 2>/dev/null || true; ka_pid=; }; }
