# shellcheck shell=bash
# Sourced by every scenario: strict mode, the topology library, paths to
# what we built, and a few assertions that say what they expected.
set -euo pipefail
# (no subshell or dirname: under TCG every process counts)
_lib=${BASH_SOURCE[0]%/*}; [[ $_lib == /* ]] || _lib=$PWD/$_lib
. "$_lib/topology.sh"

: "${DRLB_KO:?}" "${DRLB_TOOL:?}" "${VRRPD:?}"

# (sysfs, not grep over /proc/modules: every exec counts under TCG)
drlb_loaded() { [ -d /sys/module/drlb ]; }
drlb_load() { drlb_loaded || insmod "$DRLB_KO"; }
drlb_unload() { ! drlb_loaded || rmmod drlb; }
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
	[[ $err =~ $pat ]] || fail "'$*' said '$err', expected /$pat/"
	log "ok: '$*' failed: $err"
}
# field TEXT KEY: the value of TEXT's first "KEY: value" line.
field() {
	local line
	while IFS= read -r line; do
		[[ $line == "$2: "* ]] && { printf '%s\n' "${line#"$2: "}"; return; }
	done <<<"$1"
}
# A field of `drlb-tool status` in namespace $1.
status_field() { local out; out=$(dt "$1" status) && field "$out" "$2"; }

# (timed, as teardown is a good part of a scenario's cost under TCG; quiet
# when a script already took its topology down, as the demo does)
trap 'if ((${#TOPO_HOSTS[@]})); then log "teardown"; topo_down; log "topology down"; fi' EXIT

# Traffic endpoints, one Python process each (a start costs most of a second
# under TCG): rs-server.py answers on every PORT in every real server, and
# client.py --serve makes the client's requests; jsonq.py answers q. They
# start in the background, so topo_up -p starts them as soon as the
# namespaces exist, beside the rest of the topology's work; requests wait
# until rs-server.py says "listening" (its output goes to a file, which a
# request in a subshell can read too).
start_servers() { # PORT... (on every real server; none: nginx serves them)
	local i spec=() ports d
	for ((i = 1; i <= TOPO_REALS; i++)); do spec+=("rs$i=/run/netns/drlb-$TOPO_TAG-rs$i"); done
	ports=$*; ports=${ports// /,}
	d=$(mktemp -d)
	TMPD=$d # the scenario's scratch directory
	mkfifo "$d/in" "$d/out" "$d/q.in" "$d/q.out"
	_rs_out=$d/rs.out
	if [ -n "$ports" ]; then
		python3 -S "$_lib/rs-server.py" "$ports" "${spec[@]}" >"$_rs_out" 2>&1 &
	else
		echo listening >"$_rs_out"
	fi
	exec {_client_in}<>"$d/in" {_client_out}<>"$d/out"
	n client python3 -S "$_lib/client.py" --serve <"$d/in" >"$d/out" 2>&1 &
	exec {_q_in}<>"$d/q.in" {_q_out}<>"$d/q.out"
	_q_doc=$d/q.json
	python3 -S "$_lib/jsonq.py" <"$d/q.in" >"$d/q.out" 2>&1 &
}
servers_ready() {
	[ -n "${_rs_out:-}" ] || fail "requests before start_servers"
	local out end=$((SECONDS + 90))
	while :; do
		slurp out "$_rs_out"
		[ "$out" = $'listening\n' ] && return 0
		# (anything but a part of that line is rs-server.py's error)
		[[ $'listening\n' == "$out"* ]] || fail "real servers did not start: $out"
		((SECONDS < end)) || fail "real servers did not start in 90 s"
		snooze 0.1
	done
}
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
requests() { servers_ready; _ask "$_client_in" "$_client_out" client.py "$*"; }
# _ask IN OUT HELPER REQUEST: REQUEST to a helper that stays up (on fd IN),
# and its answer lines (from fd OUT) up to the line "."
_ask() {
	printf '%s\n' "$4" >&"$1"
	local line
	while IFS= read -r -t 30 -u "$2" line; do
		[ "$line" = . ] && return 0
		printf '%s\n' "$line"
	done
	fail "no answer from $3 to: $4"
}
# (python3 -S: no site packages, a second less per start under TCG)
requests_bg() { servers_ready; n client python3 -S "$_lib/client.py" "$@"; }
# How many of the non-empty lines in $1 match the regex $2 (default: any).
count_matching() {
	local line n=0
	while IFS= read -r line; do [[ -n $line && $line =~ ${2:-.} ]] && n=$((n + 1)); done <<<"$1"
	echo "$n"
}
# How many of the answer lines in $1 came from real server $2 (rsN).
answers_from() { count_matching "$1" "^$2 "; }
# The lines of $1 that are not comments.
uncommented() {
	local line
	while IFS= read -r line; do [[ $line == '#'* ]] || printf '%s\n' "$line"; done <<<"$1"
}
# slurp VAR FILE: FILE's contents into VAR; write FILE: stdin into FILE
# (as `cat` would, without its process).
slurp() { IFS= read -rd '' "$1" <"$2" || true; }
slurp_print() { local text; slurp text "$1"; printf '%s' "$text"; }
write() { local text; IFS= read -rd '' text || true; printf '%s' "$text" >"$1"; }
# A connection dump held open between its parts (lib/nldump.py hold, in
# the namespace at path $1): dump_hold starts it and reads its first
# answer ("holding ...") into HELD; dump_release finish|close lets it go on
# or closes its socket, reads its last answer into HELD and reaps it.
dump_hold() {
	coproc HOLD { python3 -S lib/nldump.py hold "$1"; }
	read -r -t 60 -u "${HOLD[0]}" HELD || fail "no answer from nldump.py hold"
}
dump_release() {
	echo "$1" >&"${HOLD[1]}"
	read -r -t 60 -u "${HOLD[0]}" HELD || fail "no answer from nldump.py hold"
	wait "$HOLD_PID"
}
# Whether director $1 shows an established connection from the client.
established() { local o; o=$(dt "$1" conns --client "$CLIENT4") && [[ $o == *ESTABLISHED* ]] && echo yes; }
# The number of distinct real servers in answer lines $1.
distinct() {
	local line; local -A seen=()
	while IFS= read -r line; do
		[ -z "$line" ] || [[ $line == *ERROR* ]] || seen[${line%% *}]=1
	done <<<"$1"
	echo "${#seen[@]}"
}
# Questions about JSON, answered by the jsonq.py that start_servers left
# running (a jq per question costs most of a second under TCG). EXPR is a
# Python expression over the document d, whose objects read as attributes;
# the answer prints like jq -r -c (see jsonq.py).
#   q EXPR CMD...         about CMD's JSON output
#   q_file FILE EXPR      about FILE
#   q_lines FILE EXPR     about FILE's JSON lines (monitor's events), a list
_q() {
	[ -n "${_q_in:-}" ] || fail "q before start_servers"
	_ask "$_q_in" "$_q_out" jsonq.py "$1"$'\t'"$2"$'\t'"$3"
}
q_file() { _q json "$1" "$2"; }
q_lines() { _q lines "$1" "$2"; }
q() { local expr=$1; shift; "$@" >"$_q_doc" || fail "'$*' failed"; q_file "$_q_doc" "$expr"; }
# `drlb-tool list --json` in namespace $1, asked EXPR.
list_json() { q "$2" dt "$1" list --json; }
# wait_list HOST EXPR WANT [SECONDS]: until `list_json HOST EXPR` is WANT.
wait_list() {
	local h=$1 expr=$2 want=$3 end=$((SECONDS + ${4:-20})) got
	while got=$(list_json "$h" "$expr"); [ "$got" != "$want" ]; do
		((SECONDS < end)) || fail "list on $h, $expr: expected '$want', got '$got'"
		snooze 0.5
	done
	log "ok: $expr = $got"
}
