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
export DRLB_KO DRLB_TOOL VRRPD IDEAL_KO
: >"$OUT/results"
: >"$OUT/starts"

mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak
# Let the guest's own start-up noise settle before the first baseline.
dmesg -c >/dev/null

# The kernel log lines that fail a scenario, from file $1, in REPLY (bash's
# own regex: a grep per scenario costs a process).
splat_re='BUG:|WARNING:|Oops|general protection|lockdep|possible recursive locking|circular locking|suspicious RCU usage|RCU stall|rcu_sched detected|kmemleak: [0-9]+ new suspected|Kernel panic|UBSAN|KFENCE'
splats() {
	local line; REPLY=
	while IFS= read -r line; do
		[[ $line =~ $splat_re ]] && REPLY+=$line$'\n'
	done <"$1"
}

# (a sleep without a process: a read that times out on a pipe nobody
# writes to)
exec {_snooze_fd}<> <(:)
snooze() { read -r -t "$1" -u "$_snooze_fd" || true; }

# Processes started since boot, in REPLY: under TCG each costs 0.1-0.5 s,
# so a scenario's count says where its time went (and the harness itself
# avoids them: bash's clock, no subshells).
forks() { local k v; while read -r k v _; do [ "$k" = processes ] && REPLY=$v && return; done </proc/stat; }
# The kernel's jiffies, in REPLY. (mapfile reads the file straight through;
# a `read` loop seeks back after each line, and /proc/timer_list changes
# between the reads, so the line could be missed.)
jiffies() {
	local l tl; REPLY=
	mapfile -t tl </proc/timer_list
	for l in "${tl[@]}"; do [[ $l == jiffies:* ]] && { REPLY=${l#jiffies: }; return; }; done
}

# kmemleak reports only objects older than 5 s, so a scan right after a
# scenario misses what its teardown and rmmod leaked (and a scan costs 3 s
# under TCG). Scans 5 s after the last scenario find every leak; the
# jiffies of each leaked object's allocation name the scenario that made it
# (or, for one older than them all, the first), from the "JIFFIES NAME"
# lines each run keeps in its starts file. LEAK_DIRS lists the runs of this
# boot the check covers, in the order they ran (default: this one; empty:
# no check, as when a later run in the same boot checks for it).
check_leaks() {
	local dirs=(${LEAK_DIRS-$OUT}) d j name i owner js=() owners=()
	declare -A count=()
	((${#dirs[@]})) && [ -w $kmemleak ] || return 0
	for d in "${dirs[@]}"; do
		while read -r j name; do
			[[ $j =~ ^[0-9]+$ ]] && js+=("$j") owners+=("$d $name")
		done <"$d/starts"
	done
	((${#js[@]})) || return 0
	# Two scans: an object whose contents changed since the previous scan,
	# such as one never scanned before, is only reported by the next. The
	# first runs at once (it costs seconds under TCG), the second once the
	# last scenario's objects are older than kmemleak's 5 s.
	local end=$((${EPOCHREALTIME/./} + 5500000))
	echo scan >$kmemleak
	local left=$((end - ${EPOCHREALTIME/./}))
	local frac; printf -v frac %06d $((left % 1000000))
	((left <= 0)) || snooze "$((left / 1000000)).$frac"
	echo scan >$kmemleak
	# (a debugfs file's size is always 0: read it to know)
	cat $kmemleak >"$OUT/kmemleak.log"
	[ -s "$OUT/kmemleak.log" ] || { rm -f "$OUT/kmemleak.log"; return 0; }
	echo clear >$kmemleak
	# (only the lines with the jiffies: a bash loop over the whole report
	# takes seconds under TCG)
	while read -r _ j; do
		owner=${owners[0]}
		for ((i = 0; i < ${#js[@]}; i++)); do ((j >= js[i])) && owner=${owners[i]}; done
		count[$owner]=$((${count[$owner]:-0} + 1))
	done < <(grep -o 'jiffies [0-9][0-9]*' "$OUT/kmemleak.log")
	for owner in "${!count[@]}"; do
		echo "FAIL ${owner#* } 0s kmemleak: ${count[$owner]} unreferenced object(s) allocated while it ran (see $OUT/kmemleak.log)" |
			tee -a "${owner%% *}/results"
	done
}

result() { echo "$1"; echo "$1" >>"$OUT/results"; }

run_one() {
	local t=$1 name rc start log detail="" forks0
	name=${t##*/} name=${name%.sh}
	log=$OUT/$name.log
	start=$EPOCHSECONDS
	jiffies; echo "$REPLY $name" >>"$OUT/starts"
	forks; forks0=$REPLY
	echo "=== $name"
	# In a process group of its own (job control on while it starts), so
	# that a watchdog can stop it and everything it started, as timeout(1)
	# would, without timeout's process.
	set -m
	( cd "$here" && exec bash "$t" ) </dev/null >"$log" 2>&1 &
	local pid=$! limit=${SCENARIO_TIMEOUT:-600}
	( snooze "$limit"; : >"$OUT/$name.timeout"; kill -TERM -- -"$pid"; snooze 10; kill -KILL -- -"$pid" ) 2>/dev/null &
	local watchdog=$!
	set +m
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	[ -e "$OUT/$name.timeout" ] && rc=124
	# Every scenario ends with drlb unloaded: unloading must be clean too.
	if [ -d /sys/module/drlb ] && ! rmmod drlb >>"$log" 2>&1; then
		detail="rmmod drlb failed"
	fi
	forks
	echo "  [$((EPOCHSECONDS - start))s] rmmod done; $((REPLY - forks0)) processes started" >>"$log"
	dmesg -c >"$OUT/$name.dmesg"
	splats "$OUT/$name.dmesg"
	[ -z "$REPLY" ] || detail="${detail:+$detail; }kernel: ${REPLY%%$'\n'*}"
	[ "$rc" -eq 0 ] || detail="exit $rc${detail:+; $detail}$( [ "$rc" -eq 124 ] && echo ' (timeout)')"
	local secs=$((EPOCHSECONDS - start))
	if [ -z "$detail" ]; then
		result "PASS $name ${secs}s"
	else
		result "FAIL $name ${secs}s $detail"
		sed 's/^/    | /' "$log" | tail -n 30
	fi
}

if (($#)); then
	for t in "$@"; do
		f=$TESTS_DIR/$t.sh
		[ -f "$f" ] || { result "FAIL $t 0s no such scenario: $f"; continue; }
		run_one "$f"
	done
else
	for t in "$TESTS_DIR"/*.sh; do run_one "$t"; done
fi
check_leaks
echo done >"$OUT/finished"
