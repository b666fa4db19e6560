#!/usr/bin/env bash
# Runs the host scenarios (qemu-tests/host/*.sh): vrrpd against itself and
# against Debian's keepalived, in network namespaces on this machine (as
# root; no module, no guest). Each runs with a time limit and its own
# namespaces; a failure shows its log.
#   host.sh [NAME...]
# Prints one line per scenario and, last, "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
export VRRPD=${VRRPD:-$top/target/release/vrrpd} DRLB_TOOL=${DRLB_TOOL:-$top/target/release/drlb-tool}
export DRLB_KO=${DRLB_KO:-$top/drlb.ko}
out=$here/out/host-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$out"
passed=0 failed=0
if (($#)); then names=("$@"); else names=(); for t in "$here"/host/*.sh; do names+=("$(basename "$t" .sh)"); done; fi
for name in "${names[@]}"; do
	start=$(date +%s)
	( cd "$here" && OUT=$out exec timeout -k 5 "${SCENARIO_TIMEOUT:-300}" bash "host/$name.sh" ) >"$out/$name.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		echo "  PASS $name ${secs}s"; passed=$((passed + 1))
	else
		echo "  FAIL $name ${secs}s exit $rc"; failed=$((failed + 1))
		tail -n 30 "$out/$name.log" | sed 's/^/    | /'
	fi
done
echo "host: logs in $out"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
