# shellcheck shell=bash
# Where the instructions go: sourced by bench.sh after its blocks
# (BENCH_EXTRAS), with arms.sh's topology up. For each of PROFILE_RUNS
# ("drlb:est ideal:est ipvs:est drlb:new ideal:new ipvs:new"), perf samples CPU 0
# (where pktgen and the whole path run) on the cpu-clock event, 10000 times a
# second of guest time, while PROFILE_PKTS (200000) packets pass. Under
# -icount the guest's clock counts instructions, so a function's share of
# the busy samples (idle ones, before and after the window, left out) is
# its share of the instructions executed; times the arm's cost per packet,
# it is instructions per packet. Writes $OUT/perf-ARM-TRAFFIC.data, which
# analyze.py reports on the host (the guest's perf leaves module addresses
# unresolved; analyze.py resolves them from the modules' symbol tables),
# $OUT/profile-ARM-TRAFFIC.txt (the guest's perf report, by symbol) and one
# JSON line per run in $OUT/profile.jsonl.

PROFILE_PKTS=${PROFILE_PKTS:-200000}
if ! command -v perf >/dev/null; then
	log "profile: no perf in the guest (linux-perf): skipped"
else
	: >>"$OUT/profile.jsonl"
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	for run in ${PROFILE_RUNS:-drlb:est ideal:est ipvs:est drlb:new ideal:new ipvs:new}; do
		ARM=${run%%:*} traffic=${run#*:}
		arm_up "$ARM" || { log "profile: $ARM: setup failed"; continue; }
		data=$OUT/perf-$ARM-$traffic.data
		perf record -q -e cpu-clock -F 10000 -C 0 -o "$data" >/dev/null 2>>"$OUT/bench.log" &
		perf_pid=$!
		bench_snooze 0.5
		window "$traffic" "$PROFILE_PKTS" 1024
		kill -INT "$perf_pid"
		wait "$perf_pid"
		perf report -i "$data" --stdio --no-children --sort sym --percent-limit 0.3 \
			>"$OUT/profile-$ARM-$traffic.txt" 2>/dev/null
		top=""
		while read -r pct _ sym; do
			[[ $pct == *% ]] || continue
			top+="${top:+,}{\"pct\":${pct%\%},\"symbol\":\"$sym\"}"
		done < <(grep -E '^ +[0-9.]+%' "$OUT/profile-$ARM-$traffic.txt" | head -n 60)
		echo "{\"arm\":\"$ARM\",\"traffic\":\"$traffic\",\"usec\":$W_USEC,\"sent\":$W_SENT,\"top\":[$top]}" >>"$OUT/profile.jsonl"
		log "profile $ARM $traffic: $((W_USEC * 1000 / W_SENT)) ns/packet with perf sampling"
		arm_down "$ARM"
	done
fi
ARM=
