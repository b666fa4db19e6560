#!/usr/bin/env bash
# Boots the cached kernel under QEMU (virtme-ng, TCG) and runs guest
# scenarios in it, collecting results through a --rwdir directory.
#
#   run.sh [NAME...]          every scenario in qemu-tests/tests, or those named
#   run.sh --demo             the demo instead of the tests
#   TESTS_DIR=dir run.sh      scenarios from another directory (the harness self-test)
#
# Prints one line per scenario and, last, "N passed, N failed"; exits
# non-zero if any scenario failed or never reported (a crashed guest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"

demo=0
if [ "${1:-}" = --demo ]; then demo=1; shift; fi
tests_dir=${TESTS_DIR:-$here/tests}
kdir=${KDIR:-$("$here/kernel.sh" kdir)}
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "run.sh: no kernel at $kdir (make kernel)" >&2; exit 1; }
[ -f "$top/drlb.ko" ] || { echo "run.sh: drlb.ko missing (make module)" >&2; exit 1; }

out=$here/out/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$out"
ln -sfn "$out" "$here/out/latest"
if ((demo)); then
	cmd="$here/demo.sh >$out/demo.log 2>&1"
	expected=()
else
	cmd="TESTS_DIR=$tests_dir $here/guest.sh $out $*"
	if (($#)); then expected=("$@"); else
		expected=(); for t in "$tests_dir"/*.sh; do expected+=("$(basename "$t" .sh)"); done
	fi
fi

# vng runs its helpers (virtme-run) from PATH.
export PATH="$(dirname "$VNG"):$PATH"
env="DRLB_KO=$top/drlb.ko DRLB_TOOL=$top/target/release/drlb-tool VRRPD=$top/target/release/vrrpd"
set +e
# The console is for humans; results travel through $out.
"$VNG" --run "$kdir" --disable-kvm --user root --cpus "${GUEST_CPUS:-2}" --memory 1G --rwdir "$out" \
	--exec "$env $cmd" >"$out/console.log" 2>&1 &
vng_pid=$!
if ((demo)); then touch "$out/demo.log"; tail -n +1 -f "$out/demo.log" --pid=$vng_pid; else
	# Follow the per-scenario lines as they come.
	touch "$out/results"; tail -n +1 -f "$out/results" --pid=$vng_pid | sed 's/^/  /'
fi
wait $vng_pid
vng_rc=$?
set -e
((demo)) && exit $vng_rc

passed=0 failed=0
for name in "${expected[@]}"; do
	if grep -q "^PASS $name " "$out/results"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		grep -q " $name " "$out/results" ||
			echo "  FAIL $name: no result (guest exited with $vng_rc; see $out/console.log)"
		echo "  --- $name.log (last lines)"; tail -n 25 "$out/$name.log" 2>/dev/null | sed 's/^/  | /'
	fi
done
[ -f "$out/finished" ] || echo "  guest did not finish (exit $vng_rc): see $out/console.log"
echo "guest: results in $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
