#!/usr/bin/env bash
# The benchmark's guest driver (booted by bench/run.sh on the bench kernel
# under -icount shift=0,sleep=off): every arm of arms.sh, in interleaved
# blocks, established and all-new traffic, one JSON line per window in
# OUT/windows.jsonl and what the guest was in OUT/meta.json.
#
#   bench.sh OUT
#
# BENCH_BLOCKS (6): blocks; odd blocks run the arms in order, even blocks in
#   reverse (floor b0 ideal ipvs drlb, drlb ipvs ideal b0 floor, ...: ABBA),
#   so an arm's place in the run averages out.
# BENCH_PKTS (100000): packets per measured window (after BENCH_WARMUP, 4096).
# BENCH_ARMS_LIST ("floor b0 ideal ipvs drlb"), BENCH_TRAFFIC ("est new").
# BENCH_EXTRAS ("mem scale crr profile sync"): the extra series after the
#   blocks (mem.sh, scale.sh, crr.sh, profile.sh, sync.sh); "" for none.
set -uo pipefail
OUT=$1
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. "$here/arms.sh"
blocks=${BENCH_BLOCKS:-6}
pkts=${BENCH_PKTS:-100000}
read -ra arms <<<"${BENCH_ARMS_LIST:-${BENCH_ARMS[*]}}"
read -ra traffics <<<"${BENCH_TRAFFIC:-est new}"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >>"$OUT/bench.log"; printf '%s\n' "$*"; }

{
	printf '{"kernel":"%s","cmdline":"%s","cpus":%s,"mem_kb":%s,' "$(uname -r)" "$(tr -d '"' </proc/cmdline)" \
		"$(nproc)" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
	printf '"clocksource":"%s","blocks":%s,"pkts":%s,"warmup":%s,"arms":"%s","traffic":"%s",' \
		"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" "$blocks" "$pkts" \
		"${BENCH_WARMUP:-4096}" "${arms[*]}" "${traffics[*]}"
	printf '"ipvs_tab_bits":%s,"pkt_size":60,"flows_est":1024}\n' "$BENCH_IPVS_TAB_BITS"
} >"$OUT/meta.json"
: >"$OUT/windows.jsonl"
: >"$OUT/arms.jsonl"

trap bench_topo_down EXIT
bench_topo_up
log "topology up; $blocks blocks of ${arms[*]} x ${traffics[*]}, $pkts packets a window"
failed=0
for ((b = 1; b <= blocks; b++)); do
	order=("${arms[@]}")
	if ((b % 2 == 0)); then
		order=()
		for ((i = ${#arms[@]} - 1; i >= 0; i--)); do order+=("${arms[i]}"); done
	fi
	for ARM in "${order[@]}"; do
		if ! arm_up "$ARM" 2>>"$OUT/bench.log"; then
			log "block $b: $ARM: setup failed"
			echo "{\"block\":$b,\"arm\":\"$ARM\",\"error\":\"setup failed\"}" >>"$OUT/windows.jsonl"
			failed=1; arm_down "$ARM" 2>/dev/null; continue
		fi
		[ "$b" -gt 1 ] || echo "{\"arm\":\"$ARM\",\"info\":$(arm_info "$ARM")}" >>"$OUT/arms.jsonl"
		for traffic in "${traffics[@]}"; do
			if window "$traffic" "$pkts" 2>>"$OUT/bench.log"; then
				echo "{\"block\":$b,\"arm\":\"$ARM\",\"traffic\":\"$traffic\",\"usec\":$W_USEC,\"sent\":$W_SENT,\"delivered\":$W_DELIVERED,\"errors\":$W_ERRORS,\"warmup\":$W_WARM}" >>"$OUT/windows.jsonl"
				log "block $b $ARM $traffic: $W_USEC us for $W_SENT packets ($((W_USEC * 1000 / W_SENT)) ns each), $W_DELIVERED delivered"
			else
				log "block $b $ARM $traffic: window failed"
				echo "{\"block\":$b,\"arm\":\"$ARM\",\"traffic\":\"$traffic\",\"error\":\"window failed\"}" >>"$OUT/windows.jsonl"
				failed=1
			fi
		done
		arm_down "$ARM" 2>>"$OUT/bench.log"
	done
done
for x in ${BENCH_EXTRAS-mem scale crr profile sync}; do
	[ -f "$here/$x.sh" ] || continue
	log "extra: $x"
	. "$here/$x.sh" || { log "extra $x failed"; failed=1; }
done
dmesg >"$OUT/dmesg.log"
echo $failed >"$OUT/finished"
