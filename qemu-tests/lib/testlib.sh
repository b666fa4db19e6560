# shellcheck shell=bash
# Sourced by every scenario: strict mode, the topology library, paths to
# what we built, and a few assertions that say what they expected.
set -euo pipefail
# (no subshell or dirname: under TCG every process counts)
_lib=${BASH_SOURCE[0]%/*}; [[ $_lib == /* ]] || _lib=$PWD/$_lib
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

# Traffic endpoints, one Python process each (a start costs most of a second
# under TCG): rs-server.py answers on every PORT in every real server, and
# client.py --serve makes the client's requests. Ready once rs-server.py
# says "listening": no polling.
start_servers() { # PORT... (on every real server)
	local i spec=() ports line d
	for ((i = 1; i <= TOPO_REALS; i++)); do spec+=("rs$i=/run/netns/drlb-$TOPO_TAG-rs$i"); done
	ports=$*; ports=${ports// /,}
	exec {_rs_fd}< <(exec python3 -S "$_lib/rs-server.py" "$ports" "${spec[@]}" 2>&1)
	d=$(mktemp -d)
	mkfifo "$d/in" "$d/out"
	exec {_client_in}<>"$d/in" {_client_out}<>"$d/out"
	n client python3 -S "$_lib/client.py" --serve <"$d/in" >"$d/out" 2>&1 &
	read -r -t 90 -u "$_rs_fd" line || true
	[ "$line" = listening ] || fail "real servers did not start: ${line:-no answer in 90 s}"
}
# snooze SECONDS: sleep without a process (a read that times out on a pipe
# nobody writes to; every exec counts under TCG).
exec {_snooze_fd}<> <(:)
snooze() { read -r -t "$1" -u "$_snooze_fd" || true; }
# wait_for WHAT SECONDS CMD...: until CMD prints something.
wait_for() {
	local what=$1 end=$((SECONDS + $2)); shift 2
	until [ -n "$("$@" 2>/dev/null)" ]; do
		((SECONDS < end)) || fail "timed out waiting for $what"
		snooze 0.3
	done
}
# Every real server of director $1 resolved (its MAC known).
wait_resolved() {
	local h=$1 end=$((SECONDS + 20))
	while [[ $(dt "$h" list) == *unresolved* ]]; do
		((SECONDS < end)) || { dt "$h" list >&2; fail "real servers still unresolved"; }
		snooze 0.5
	done
}
# Requests from namespace client, one answer line each (see client.py):
#   requests PROTO ADDR PORT N [--hold SECONDS] [--sport PORT]
# made by the client.py that start_servers left running. A flow in the
# background, beside other requests, needs requests_bg: a process of its own.
requests() {
	[ -n "${_client_in:-}" ] || fail "requests before start_servers"
	echo "$*" >&"$_client_in"
	local line
	while IFS= read -r -t 30 -u "$_client_out" line; do
		[ "$line" = . ] && return 0
		printf '%s\n' "$line"
	done
	fail "no answer from client.py to: $*"
}
# (python3 -S: no site packages, a second less per start under TCG)
requests_bg() { n client python3 -S "$_lib/client.py" "$@"; }
# How many of the answer lines in $1 came from real server $2.
answers_from() { grep -c "^$2 " <<<"$1" || true; }
# The number of distinct real servers in answer lines $1.
distinct() { awk '{print $1}' <<<"$1" | sort -u | grep -vc ERROR || true; }
# A field of `drlb-tool list --json` in namespace $1: a jq filter.
list_json() { dt "$1" list --json | jq -r -c "$2"; }
