#!/usr/bin/env bash
# The harness's own test: run the scenarios in qemu-tests/selftest, one of
# which exits 1 and one of which makes the kernel log a WARNING, and check
# that the run reports exactly those two as failed, still runs the passing
# one between them, and exits non-zero.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(TESTS_DIR=$here/selftest "$here/run.sh" 2>&1)
rc=$?
ok=1
check() { if grep -qE -- "$1" <<<"$out"; then echo "  ok: $2"; else echo "  FAIL: $2"; ok=0; fi; }
[ $rc -ne 0 ] && echo "  ok: run.sh exited $rc" || { echo "  FAIL: run.sh exited 0"; ok=0; }
check '^  FAIL fails [0-9]+s exit 1' 'the scenario that exits 1 failed'
check '^  PASS passes ' 'the passing scenario after it still ran and passed'
check '^  FAIL splat [0-9]+s kernel: .*WARNING' 'a kernel WARNING failed its scenario'
check '^1 passed, 2 failed$' 'the closing line counts 1 passed, 2 failed'
((ok)) || sed 's/^/    | /' <<<"$out"
((ok))
