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
dt() { local h=$1; shift; if [ "$h" = - ]; then "$DRLB_TOOL" "$@"; else n "$h" "$DRLB_TOOL" "$@"; fi; }

log() { printf '  %s\n' "$*"; }
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

trap topo_down EXIT
