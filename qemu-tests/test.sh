#!/usr/bin/env bash
# `make test`: host unit tests, the build, then the host (namespace)
# scenarios beside the harness self-test and every guest scenario. The last
# line is the combined "N passed, N failed"; the exit status is non-zero on
# any failure.
#   test.sh            everything
#   test.sh NAME       build, then only guest scenario NAME
#
# (Running the scenarios in two guests side by side was tried twice: with
# two vCPUs each, 7m11s against 8m01s in one guest; with one vCPU each,
# 363 s against about 390 s. A TCG guest keeps more than one host core busy
# (its vCPU, QEMU's I/O thread, virtiofsd), so two guests on two cores
# mostly slow each other down; they run in one guest.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top"
passed=0 failed=0
tally() { # from a "... N passed ... N failed" line
	local p f
	p=$(grep -oE '[0-9]+ passed' <<<"$1" | grep -oE '[0-9]+' || echo 0)
	f=$(grep -oE '[0-9]+ failed' <<<"$1" | grep -oE '[0-9]+' || echo 0)
	passed=$((passed + p)); failed=$((failed + f))
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }

if [ -z "${1:-}" ]; then
	echo "== host: cargo test"
	log=$(mktemp)
	cargo test --locked --workspace 2>&1 | tee "$log" | grep -E '^test |test result|error' | grep -v '\.\.\. ok$'
	cargo_rc=${PIPESTATUS[0]}
	while read -r line; do tally "$line"; done < <(grep '^test result:' "$log")
	if [ "$cargo_rc" -ne 0 ] && ! grep -q '^test result: FAILED' "$log"; then
		echo "host: cargo test failed to build"; tail -n 20 "$log"; failed=$((failed + 1))
	fi
	rm -f "$log"
fi

echo "== build: kernel, drlb.ko, drlb-tool, vrrpd"
if ! make -s -C "$top" module tools; then
	echo "build failed"; failed=$((failed + 1)); finish
fi

if [ -n "${1:-}" ]; then
	echo "== guest scenario $*"
	log=$(mktemp)
	"$here/run.sh" "$@" | tee "$log"
	tally "$(tail -n1 "$log")"
	rm -f "$log"
	finish
fi

# The host scenarios mostly wait on VRRP timers: they run beside the guest,
# which has the CPUs, and report after it.
hostlog=$(mktemp)
"$here/host.sh" >"$hostlog" 2>&1 &
host_pid=$!

echo "== guest: the harness self-test, then every scenario, in one boot"
log=$(mktemp)
"$here/run.sh" --selftest | tee "$log"
tally "$(tail -n1 "$log")"
rm -f "$log"

echo "== host: vrrpd in namespaces, against itself and keepalived (run beside the guest)"
wait $host_pid
cat "$hostlog"
tally "$(tail -n1 "$hostlog")"
rm -f "$hostlog"
finish
