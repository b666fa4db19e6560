# shellcheck shell=bash
# Sourced by every scenario: strict mode, the topology library, paths to
# what we built, and a few assertions that say what they expected.
set -euo pipefail
_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_lib/topology.sh"

: "${DRLB_KO:?}" "${DRLB_TOOL:?}" "${VRRPD:?}"

drlb_load() { grep -q '^drlb ' /proc/modules || insmod "$DRLB_KO"; }
drlb_unload() { ! grep -q '^drlb ' /proc/modules || rmmod drlb; }
# drlb-tool in namespace $1 (or in the guest's root namespace with "-").
dt() { local h=$1; shift; if [ "$h" = - ]; then "$DRLB_TOOL" "$@"; else "$DRLB_TOOL" -n "drlb-$TOPO_TAG-$h" "$@"; fi; }

log() { printf '  [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf '  FAIL: %s\n' "$*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; log "ok: ${3:-value} = $1"; }
expect_ge() { [ "$1" -ge "$2" ] || fail "${3:-value}: expected >= $2, got $1"; log "ok: ${3:-value} = $1 (>= $2)"; }
expect_le() { [ "$1" -le "$2" ] || fail "${3:-value}: expected <= $2, got $1"; log "ok: ${3:-value} = $1 (<= $2)"; }
# expect_fail PATTERN CMD...: CMD must exit non-zero with PATTERN on stderr.
expect_fail() {
	local pat=$1 err rc=0; shift
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -ne 0 ] || fail "'$*' succeeded, expected failure"
	grep -qE -- "$pat" <<<"$err" || fail "'$*' said '$err', expected /$pat/"
	log "ok: '$*' failed: $err"
}
# A field of `drlb-tool status` in namespace $1.
status_field() { dt "$1" status | sed -n "s/^$2: //p"; }

# (timed, as teardown is a good part of a scenario's cost under TCG; quiet
# when a script already took its topology down, as the demo does)
trap 'if ((${#TOPO_HOSTS[@]})); then log "teardown"; topo_down; log "topology down"; fi' EXIT

# Real-server side: start rs-server.py on PORT in each real server and wait
# until they listen.
start_servers() { # PORT... (on every real server)
	local i last=${*: -1}
	for ((i = 1; i <= TOPO_REALS; i++)); do
		n "rs$i" python3 -S "$_lib/rs-server.py" "rs$i" "$@" >/dev/null 2>&1 &
	done
	for ((i = 1; i <= TOPO_REALS; i++)); do
		wait_for "rs$i listening on $last" 90 n "rs$i" ss -Htln "sport = :$last"
	done
}
# wait_for WHAT SECONDS CMD...: until CMD prints something.
wait_for() {
	local what=$1 t=$2 end; shift 2
	end=$(($(date +%s) + t))
	until [ -n "$("$@" 2>/dev/null)" ]; do
		[ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
		sleep 0.3
	done
}
# Every real server of director $1 resolved (its MAC known).
wait_resolved() {
	local h=$1 end=$(($(date +%s) + 20))
	while dt "$h" list | grep -q unresolved; do
		[ "$(date +%s)" -lt "$end" ] || { dt "$h" list >&2; fail "real servers still unresolved"; }
		sleep 0.5
	done
}
# client.py in namespace client: requests PROTO ADDR PORT N
# (python3 -S: no site packages, a second less per start under TCG)
requests() { n client python3 -S "$_lib/client.py" "$@"; }
# How many of the answer lines in $1 came from real server $2.
answers_from() { grep -c "^$2 " <<<"$1" || true; }
# The number of distinct real servers in answer lines $1.
distinct() { awk '{print $1}' <<<"$1" | sort -u | grep -vc ERROR || true; }
# A field of `drlb-tool list --json` in namespace $1: a jq filter.
list_json() { dt "$1" list --json | jq -r -c "$2"; }
