#!/usr/bin/env bash
# Runs inside the guest (booted by run.sh): every scenario in $TESTS_DIR, or
# the ones named, each in its own bash with a time limit. A scenario fails if
# it exits non-zero, if the kernel logs a splat (BUG, WARN, Oops, lockdep,
# RCU) while it runs or when drlb is unloaded after it, or if kmemleak finds
# an object it leaked. Results go to $OUT/results, one "PASS|FAIL name
# detail" line each; a leak adds a FAIL line for its scenario at the end.
set -uo pipefail
OUT=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
TESTS_DIR=${TESTS_DIR:-$here/tests}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DRLB_KO DRLB_TOOL VRRPD
: >"$OUT/results"

mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak
# Let the guest's own start-up noise settle before the first baseline.
dmesg -c >/dev/null

splats() { # the kernel log lines that fail a scenario
	grep -E 'BUG:|WARNING:|Oops|general protection|lockdep|possible recursive locking|circular locking|suspicious RCU usage|RCU stall|rcu_sched detected|kmemleak: [0-9]+ new suspected|Kernel panic|UBSAN|KFENCE' "$1" || true
}

# Processes started since boot: under TCG each costs 0.1-0.5 s, so a
# scenario's count says where its time went.
forks() { local k v; while read -r k v _; do [ "$k" = processes ] && echo "$v" && return; done </proc/stat; }
jiffies() { local k v; while read -r k v _; do [ "$k" = jiffies: ] && echo "$v" && return; done </proc/timer_list; }

# kmemleak reports only objects older than 5 s, so a scan right after a
# scenario misses what its teardown and rmmod leaked (and a scan costs 3 s
# under TCG). One scan, 5 s after the last scenario, finds every leak; the
# jiffies of each leaked object's allocation name the scenario that made it
# (or, for one older than them all, the first). LEAK_CHECK=0 skips it.
names=() starts=()
check_leaks() {
	[ "${LEAK_CHECK:-1}" = 1 ] && [ -w $kmemleak ] && ((${#names[@]})) || return 0
	sleep 5.5
	echo scan >$kmemleak
	[ -s $kmemleak ] || return 0
	cat $kmemleak >"$OUT/kmemleak.log"
	local line j i owner
	declare -A count=()
	while read -r line; do
		[[ $line =~ jiffies\ ([0-9]+) ]] || continue
		j=${BASH_REMATCH[1]} owner=${names[0]}
		for ((i = 0; i < ${#names[@]}; i++)); do ((j >= starts[i])) && owner=${names[i]}; done
		count[$owner]=$((${count[$owner]:-0} + 1))
	done <"$OUT/kmemleak.log"
	for owner in "${!count[@]}"; do
		echo "FAIL $owner 0s kmemleak: ${count[$owner]} unreferenced object(s) allocated while it ran (see kmemleak.log)" |
			tee -a "$OUT/results"
	done
}

run_one() {
	local t=$1 name rc start log detail=""
	name=$(basename "$t" .sh)
	log=$OUT/$name.log
	start=$(date +%s)
	names+=("$name") starts+=("$(jiffies)")
	local forks0; forks0=$(forks)
	echo "=== $name"
	( cd "$here" && exec timeout -k 10 "${SCENARIO_TIMEOUT:-600}" bash "$t" ) >"$log" 2>&1
	rc=$?
	# Every scenario ends with drlb unloaded: unloading must be clean too.
	if grep -q '^drlb ' /proc/modules && ! rmmod drlb >>"$log" 2>&1; then
		detail="rmmod drlb failed"
	fi
	echo "  [$(($(date +%s) - start))s] rmmod done; $(($(forks) - forks0)) processes started" >>"$log"
	dmesg -c >"$OUT/$name.dmesg"
	local s; s=$(splats "$OUT/$name.dmesg")
	[ -z "$s" ] || detail="${detail:+$detail; }kernel: $(head -n1 <<<"$s")"
	[ "$rc" -eq 0 ] || detail="exit $rc${detail:+; $detail}$( [ "$rc" -eq 124 ] && echo ' (timeout)')"
	local secs=$(($(date +%s) - start))
	if [ -z "$detail" ]; then
		echo "PASS $name ${secs}s" | tee -a "$OUT/results"
	else
		echo "FAIL $name ${secs}s $detail" | tee -a "$OUT/results"
		sed 's/^/    | /' "$log" | tail -n 30
	fi
}

if (($#)); then
	for t in "$@"; do
		f=$TESTS_DIR/$t.sh
		[ -f "$f" ] || { echo "FAIL $t 0s no such scenario: $f" | tee -a "$OUT/results"; continue; }
		run_one "$f"
	done
else
	for t in "$TESTS_DIR"/*.sh; do run_one "$t"; done
fi
check_leaks
echo done >"$OUT/finished"
