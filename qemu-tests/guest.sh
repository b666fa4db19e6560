#!/usr/bin/env bash
# Runs inside the guest (booted by run.sh): every scenario in $TESTS_DIR, or
# the ones named, each in its own bash with a time limit. A scenario fails if
# it exits non-zero, or if the kernel logs a splat (BUG, WARN, Oops, lockdep,
# RCU) or kmemleak finds a leak while it runs or when drlb is unloaded after
# it. Results go to $OUT/results, one "PASS|FAIL name detail" line each.
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

run_one() {
	local t=$1 name rc start log detail=""
	name=$(basename "$t" .sh)
	log=$OUT/$name.log
	start=$(date +%s)
	echo "=== $name"
	( cd "$here" && exec timeout -k 10 "${SCENARIO_TIMEOUT:-600}" bash "$t" ) >"$log" 2>&1
	rc=$?
	# Every scenario ends with drlb unloaded: unloading must be clean too.
	if grep -q '^drlb ' /proc/modules && ! rmmod drlb >>"$log" 2>&1; then
		detail="rmmod drlb failed"
	fi
	echo "  [$(($(date +%s) - start))s] rmmod done" >>"$log"
	if [ -w $kmemleak ]; then
		echo scan >$kmemleak
		echo "  [$(($(date +%s) - start))s] kmemleak scan done" >>"$log"
		if [ -s $kmemleak ]; then
			detail="${detail:+$detail; }kmemleak report"
			cat $kmemleak >>"$log"
			echo clear >$kmemleak
		fi
	fi
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
echo done >"$OUT/finished"
