#!/usr/bin/env bash
# Builds the benchmark's modules against kernel FLAVOUR (test|bench), each in
# a copy of its sources under target/bench-FLAVOUR/ (Kbuild writes its
# objects beside the sources, so the normal drlb.ko build is never touched):
#
#   build.sh test    target/bench-test/ideal/ideal.ko (bench-smoke uses the
#                    normal drlb.ko, built by `make module`)
#   build.sh bench   target/bench-bench/ideal/ideal.ko and
#                    target/bench-bench/drlb/drlb.ko
#
# Prints the directory holding the modules. Sources are copied with their
# times kept, so an unchanged file is not rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
qt=$(dirname "$here")
top=$(dirname "$qt")
. "$qt/env.sh"
flavour=${1:?usage: build.sh test|bench}
kdir=${KDIR:-$("$qt/kernel.sh" kdir "$flavour")}
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "bench/build.sh: no $flavour kernel at $kdir (make ${flavour/test/kernel}${flavour/bench/-kernel})" >&2; exit 1; }
out=$top/target/bench-$flavour
# sync SRC_DIR DEST_DIR PATH...: the named files (relative to SRC_DIR),
# copied where they differ
sync() {
	local src=$1 dst=$2 f; shift 2
	for f in "$@"; do
		[ -f "$src/$f" ] || continue
		if ! cmp -s "$src/$f" "$dst/$f"; then
			mkdir -p "$dst/$(dirname "$f")"
			cp -p "$src/$f" "$dst/$f"
		fi
	done
}
kmake() { # DIR: build the external module in DIR
	# (no make flags from a caller: `make -s` would be inherited anyway)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$kdir" M="$1" "${KMAKE_VARS[@]}" modules >"$1/build.log" 2>&1 ||
		{ tail -n 30 "$1/build.log" >&2; echo "bench/build.sh: building $1 failed" >&2; exit 1; }
}
mkdir -p "$out/ideal"
sync "$here/ideal" "$out/ideal" ideal.c Kbuild
kmake "$out/ideal"
if [ "$flavour" = bench ]; then
	mkdir -p "$out/drlb"
	mapfile -t files < <(cd "$top" && git ls-files --cached --others --exclude-standard Kbuild drlb_kmod)
	sync "$top" "$out/drlb" "${files[@]}"
	kmake "$out/drlb"
fi
echo "$out"
