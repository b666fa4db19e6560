#!/usr/bin/env bash
# `make test`: host unit tests, the build, the harness self-test and every
# guest scenario. The last line is the combined "N passed, N failed"; the
# exit status is non-zero on any failure.
#   test.sh            everything
#   test.sh NAME       build, then only guest scenario NAME
#
# The machine has two cores and a TCG guest keeps about one busy, so the
# scenarios run in two guests side by side (largest first, into the less
# loaded one), with the harness self-test in a third.
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

# Two shards, balanced by script size (a fair proxy for run time).
shard=(" " " ") load=(0 0)
while read -r size name; do
	i=0; [ "${load[1]}" -lt "${load[0]}" ] && i=1
	shard[i]+="$name "; load[i]=$((load[i] + size))
done < <(for f in "$here"/tests/*.sh; do echo "$(wc -c <"$f") $(basename "$f" .sh)"; done | sort -rn)

echo "== harness self-test and guest scenarios (guests:${shard[0]}|${shard[1]}| self-test)"
logs=$(mktemp -d)
# shellcheck disable=SC2086
GUEST_CPUS=1 "$here/run.sh" ${shard[0]} >"$logs/a" 2>&1 &
# shellcheck disable=SC2086
GUEST_CPUS=1 "$here/run.sh" ${shard[1]} >"$logs/b" 2>&1 &
GUEST_CPUS=1 "$here/selftest.sh" >"$logs/s" 2>&1
self_rc=$?
wait
echo "-- harness self-test"; cat "$logs/s"
if [ $self_rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
for s in a b; do
	echo "-- guest"; cat "$logs/$s"
	tally "$(tail -n1 "$logs/$s")"
done
rm -rf "$logs"
finish
