# shellcheck shell=bash
# Helpers for VRRP scenarios: vrrpd and keepalived in the topology's
# namespaces, and their state as each reports it.
#
#   vrrp_conf HOST PRIO [key = value ...] > file   a one-instance vrrpd config
#   vrrpd_start HOST CONF                           (pid in VRRPD_PID[HOST])
#   vrrp_state HOST                                 MASTER, BACKUP, ...
#   holds_vip HOST                                  exit 0 if HOST has the VIP
: "${VRRPD:?}"
declare -gA VRRPD_PID=()
VRRP_DIR=$(mktemp -d)

vrrp_conf() { # HOST PRIO [extra lines...]
	local h=$1 prio=$2; shift 2
	printf '[[instance]]\nname = "vi1"\ninterface = "eth0"\nvrid = 51\npriority = %s\nadvert_interval_ms = %s\nvirtual_ips = ["%s/32"]\nlb = false\n' "$prio" "${VRRP_INTERVAL_MS:-100}" "$VIP4"
	local l; for l in "$@"; do echo "$l"; done
}
vrrpd_start() { # HOST CONF
	ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" --config "$2" 2>>"$VRRP_DIR/$1.log" &
	VRRPD_PID[$1]=$!
}
vrrpd_signal() { kill "-$2" "${VRRPD_PID[$1]}"; }
vrrpd_stop() { kill "${VRRPD_PID[$1]:-}" 2>/dev/null || true; wait "${VRRPD_PID[$1]:-}" 2>/dev/null || true; }
vrrp_status() { ip netns exec "drlb-$TOPO_TAG-$1" "$VRRPD" status --json; }
vrrp_state() { vrrp_status "$1" 2>/dev/null | jq -r '.instances[0].state'; }
holds_vip() { ip -n "drlb-$TOPO_TAG-$1" -br addr show eth0 | grep -q "$VIP4/32"; }
# until HOST's state is STATE, at most SECONDS
wait_state() {
	local h=$1 want=$2 t=${3:-10} end
	end=$(($(date +%s%N) + t * 1000000000))
	until [ "$(vrrp_state "$h")" = "$want" ]; do
		[ "$(date +%s%N)" -lt "$end" ] || fail "$h is $(vrrp_state "$h"), not $want after ${t}s"
		sleep 0.05
	done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
