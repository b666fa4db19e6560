#!/usr/bin/env bash
# Boots the cached kernel under QEMU (virtme-ng, TCG) and runs guest
# scenarios in it, collecting results through a --rwdir directory.
#
#   run.sh [NAME...]          every scenario in qemu-tests/tests, or those named
#   run.sh --selftest [NAME...]  the harness self-test first, in the same boot
#   run.sh --demo             the demo instead of the tests
#   run.sh --report DIR NAME...  only report the results a boot left in DIR
#   TESTS_DIR=dir run.sh      scenarios from another directory
#   FUZZ_COUNT=N FUZZ_SEED=S run.sh fuzz   the fuzz scenario's size and seed
#   SCENARIO_TIMEOUT=SECONDS  a scenario's time limit in the guest (600)
#
# Prints one line per scenario and, last, "N passed, N failed"; exits
# non-zero if any scenario failed or never reported (a crashed guest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"

# report DIR NAME...: the verdict on each expected scenario from DIR/results.
report() {
	local dir=$1 name passed=0 failed=0; shift
	for name in "$@"; do
		# (a leak found at the end adds a FAIL line to a PASS)
		if grep -q "^PASS $name " "$dir/results" 2>/dev/null && ! grep -q "^FAIL $name " "$dir/results"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			grep -q " $name " "$dir/results" 2>/dev/null ||
				echo "  FAIL $name: no result (the guest crashed or timed out; see $dir/console.log)"
			echo "  --- $name.log (last lines)"; tail -n 25 "$dir/$name.log" 2>/dev/null | sed 's/^/  | /'
			local leaks; leaks=$(sed -n "s/^FAIL $name .*kmemleak: .*(see \(.*\))$/\1/p" "$dir/results" | head -n1)
			if [ -f "$leaks" ]; then
				echo "  --- $leaks (first lines)"; head -n 30 "$leaks" | sed 's/^/  | /'
			fi
		fi
	done
	[ -f "$dir/finished" ] || echo "  guest did not finish: see $dir/console.log"
	echo "guest: results in $dir"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
scenarios() { # DIR: the scenario names in DIR
	local t; for t in "$1"/*.sh; do basename "$t" .sh; done
}

mode=tests
case ${1:-} in
--demo) mode=demo; shift ;;
--selftest) mode=selftest; shift ;;
--report) dir=$2; shift 2; report "$dir" "$@"; exit ;;
esac
tests_dir=${TESTS_DIR:-$here/tests}
kdir=${KDIR:-$("$here/kernel.sh" kdir)}
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "run.sh: no kernel at $kdir (make kernel)" >&2; exit 1; }
[ -f "$top/drlb.ko" ] || { echo "run.sh: drlb.ko missing (make module)" >&2; exit 1; }

# The self-test's scenario "leak" loads a module that leaks on purpose.
if [ $mode = selftest ] || [ "$tests_dir" = "$here/selftest" ]; then
	make -s -C "$kdir" M="$here/selftest/leak" "${KMAKE_VARS[@]}" modules >/dev/null ||
		{ echo "run.sh: cannot build the self-test's leaking module" >&2; exit 1; }
fi
# The bench-smoke scenario loads the benchmark's ideal forwarder, built for
# this kernel in a directory of its own.
bench_mods=$(KDIR=$kdir "$here/bench/build.sh" test) ||
	{ echo "run.sh: cannot build the benchmark's ideal.ko" >&2; exit 1; }
out=$here/out/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$out"
ln -sfn "$out" "$here/out/latest"
cmd="TESTS_DIR=$tests_dir $here/guest.sh $out $*"
if (($#)); then expected=("$@"); else mapfile -t expected < <(scenarios "$tests_dir"); fi
case $mode in
demo) cmd="$here/demo.sh >$out/demo.log 2>&1; echo \$? >$out/demo.rc" ;;
selftest)
	# One boot for both: the self-test's scenarios leave their results
	# in $out/selftest, and the real ones follow in a clean state.
	mkdir -p "$out/selftest"
	# (The real run's leak check covers the self-test's part of the boot.)
	cmd="LEAK_DIRS= TESTS_DIR=$here/selftest $here/guest.sh $out/selftest >/dev/null 2>&1; LEAK_DIRS='$out/selftest $out' $cmd" ;;
esac

# vng runs its helpers (virtme-run) and virtiofsd from PATH.
export PATH="$(dirname "$VNG"):$(dirname "$VIRTIOFSD"):$PATH"
env="export DRLB_KO=$top/drlb.ko DRLB_TOOL=$top/target/release/drlb-tool VRRPD=$top/target/release/vrrpd IDEAL_KO=$bench_mods/ideal/ideal.ko;"
# (and the knobs a scenario or the harness reads, when set: numbers)
for v in DRLB_LIFECYCLE_CYCLES FLOOD_SECONDS FUZZ_COUNT FUZZ_SEED SCENARIO_TIMEOUT; do
	[ -z "${!v:-}" ] || env+=" export $v=${!v};"
done
set +e
# The console is for humans; results travel through $out. The guest's
# first act is to touch $out/booted: a boot that never got that far (seen
# once, with nothing on the console) is retried once; anything later,
# a crash under drlb included, is not.
vng_once() {
	"$VNG" --run "$kdir" --disable-kvm --user root --cpus "${GUEST_CPUS:-2}" --memory 1G --rwdir "$out" \
		${VNG_APPEND:+--append "$VNG_APPEND"} --exec "touch $out/booted; $env $cmd" >>"$out/console.log" 2>&1
}
boot() {
	vng_once
	[ -e "$out/booted" ] && return
	echo "  (the guest never started its command; booting once more)"
	vng_once
}
boot &
vng_pid=$!
if [ $mode = demo ]; then
	touch "$out/demo.log"; tail -n +1 -f "$out/demo.log" --pid=$vng_pid
	wait $vng_pid
	# (vng's own exit status says nothing about the guest's command here:
	# it was 255 either way; the demo's status comes back as a file.)
	[ -s "$out/demo.rc" ] || { echo "demo: the guest never finished (see $out/console.log)"; exit 1; }
	exit "$(cat "$out/demo.rc")"
fi
# Follow the per-scenario lines as they come.
touch "$out/results"; tail -n +1 -f "$out/results" --pid=$vng_pid | sed 's/^/  /'
wait $vng_pid
set -e

extra_passed=0 extra_failed=0
if [ $mode = selftest ]; then
	cp "$out/console.log" "$out/selftest/" 2>/dev/null || true
	[ -f "$out/finished" ] && touch "$out/selftest/finished"
	echo "  harness self-test (a failing scenario must fail the run):"
	if "$here/selftest.sh" --check "$out/selftest"; then extra_passed=1; else extra_failed=1; fi
fi
set +e
summary=$(report "$out" "${expected[@]}")
rc=$?
set -e
head -n -1 <<<"$summary"
read -r p _ f _ < <(tail -n1 <<<"$summary")
echo "$((p + extra_passed)) passed, $((f + extra_failed)) failed"
[ $rc -eq 0 ] && [ $extra_failed -eq 0 ]
