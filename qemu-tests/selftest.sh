#!/usr/bin/env bash
# The harness's own test: run the scenarios in qemu-tests/selftest, one of
# which exits 1, one of which makes the kernel log a WARNING and one of
# which loads a module that leaks memory, and check that the run reports
# exactly those three as failed, still runs the passing one among them, and
# exits non-zero.
#   selftest.sh              boots a guest for it
#   selftest.sh --check DIR  checks the results a boot left in DIR
#                            (run.sh --selftest, which shares its boot)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --check ]; then
	out=$("$here/run.sh" --report "$2" fails leak passes splat 2>&1)
else
	out=$(TESTS_DIR=$here/selftest "$here/run.sh" 2>&1)
fi
rc=$?
ok=1
check() { if grep -qE -- "$1" <<<"$out"; then echo "  ok: $2"; else echo "  FAIL: $2"; ok=0; fi; }
[ $rc -ne 0 ] && echo "  ok: the run exited $rc" || { echo "  FAIL: the run exited 0"; ok=0; }
results=$out
[ "${1:-}" = --check ] && results=$(sed 's/^/  /' "$2/results" 2>/dev/null)
check_results() { if grep -qE -- "$1" <<<"$results"; then echo "  ok: $2"; else echo "  FAIL: $2"; ok=0; fi; }
check_results '^  FAIL fails [0-9]+s exit 1' 'the scenario that exits 1 failed'
check_results '^  PASS passes ' 'the passing scenario after it still ran and passed'
check_results '^  FAIL splat [0-9]+s kernel: .*WARNING' 'a kernel WARNING failed its scenario'
check_results '^  FAIL leak [0-9]+s kmemleak: [0-9]+ unreferenced' 'kmemleak found the leaked objects and pinned them on their scenario'
check '^1 passed, 3 failed$' 'the closing line counts 1 passed, 3 failed'
((ok)) || sed 's/^/    | /' <<<"$out"
((ok))
