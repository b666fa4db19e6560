#!/usr/bin/env bash
# make bench's arms, a thousand packets of each traffic on the test kernel, so that
# the benchmark cannot rot: every arm (floor, plain forwarding, the ideal
# forwarder, IPVS-DR, drlb) must come up, pass its established and all-new
# traffic and lose no packet. Its figures mean nothing here (a debug
# kernel, no -icount) and are not reported.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
: "${DRLB_KO:?}" "${DRLB_TOOL:?}" "${IDEAL_KO:?}"
. "$here/bench/arms.sh"
log() { printf '  [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf '  FAIL: %s\n' "$*" >&2; exit 1; }
trap bench_topo_down EXIT
bench_topo_up
log "topology up"
BENCH_WARMUP=256 BENCH_SETTLE=0.2
for ARM in "${BENCH_ARMS[@]}"; do
	arm_up "$ARM" || fail "$ARM: setup failed"
	for traffic in est new; do
		window "$traffic" 1000 || fail "$ARM $traffic: pktgen failed"
		[ "$W_SENT" -eq 1000 ] || fail "$ARM $traffic: pktgen sent $W_SENT of 1000"
		[ "$W_DELIVERED" -eq "$W_SENT" ] ||
			fail "$ARM $traffic: $W_DELIVERED of $W_SENT packets reached the $([ "$ARM" = floor ] && echo director || echo real server)"
		log "ok: $ARM $traffic: $W_SENT sent, $W_DELIVERED delivered"
	done
	arm_down "$ARM" || fail "$ARM: teardown failed"
done
