#!/usr/bin/env bash
# Builds drlb's guest kernel from Debian's linux-source-6.12 and caches it.
#
#   kernel.sh build [FLAVOUR]   build (or reuse) the kernel; prints progress
#   kernel.sh kdir [FLAVOUR]    print the kernel tree's path (the cache key decides it)
#
# FLAVOUR is "test" (the default: the debug kernel `make test` boots, with
# lockdep, PROVE_RCU, KFENCE, kmemleak...) or "bench" (the same recipe with
# kernel-bench.config merged last, which turns those debug options off: the
# production-like kernel `make bench` measures on).
#
# The cache lives under $DRLB_CACHE_DIR, keyed by the source package version,
# the config fragments, this recipe's version and the toolchain, so a second
# call, a later session or CI on the same machine reuse the tree. (The test
# flavour's key is computed exactly as it was before flavours existed, so an
# already cached test kernel is reused.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
RECIPE=1
fragment=$here/kernel.config
bench_fragment=$here/kernel-bench.config
tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || true)
flavour=test
fragments=("$fragment")

cache_key() {
	{
		echo "recipe $RECIPE"
		dpkg-query -W -f='${Version}\n' linux-source-6.12
		cat "$fragment"
		"$RUSTC" --version
		"$BINDGEN" --version
		gcc --version | head -n1
		if [ "$flavour" != test ]; then
			echo "flavour $flavour"
			cat "$bench_fragment"
		fi
	} | sha256sum | cut -c1-16
}

kdir() {
	local key dir
	key=$(cache_key)
	dir=$DRLB_CACHE_DIR/kernel-$key
	[ "$flavour" = test ] || dir+=-$flavour
	echo "$dir/linux"
}

progress() { # $1 log, $2 start time: one line every 30 s until killed
	while sleep 30; do
		local n
		n=$(grep -cE '^  (CC|RUSTC|LD|AR|AS)' "$1" 2>/dev/null || true)
		printf 'kernel: %4ds, %s objects built, last: %s\n' $(($(date +%s) - $2)) "$n" \
			"$(tail -n1 "$1" | cut -c1-60)"
	done
}

build() {
	[ -n "$tarball" ] || { echo "kernel: linux-source-6.12 is not installed (make deps)" >&2; exit 1; }
	local tree; tree=$(kdir)
	local top=${tree%/linux}
	if [ -f "$top/.built" ]; then
		echo "kernel: cached at $tree"
		return 0
	fi
	mkdir -p "$top"
	if [ ! -f "$tree/Makefile" ]; then
		echo "kernel: unpacking $tarball"
		rm -rf "$tree" "$top/unpack"
		mkdir -p "$top/unpack"
		tar -C "$top/unpack" -xf "$tarball"
		mv "$top/unpack"/linux-source-6.12 "$tree"
		rmdir "$top/unpack"
	fi
	cd "$tree"
	local log=$top/build.log
	if [ ! -f "$top/.configured" ]; then
		echo "kernel: configuring the $flavour kernel (defconfig + kvm_guest.config + ${fragments[*]#"$here/"})"
		make -s "${KMAKE_VARS[@]}" defconfig >"$log" 2>&1
		make -s "${KMAKE_VARS[@]}" kvm_guest.config >>"$log" 2>&1
		# (later fragments override earlier ones: the bench fragment's
		# "is not set" lines undo the test kernel's debug options)
		scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >>"$log" 2>&1
		make -s "${KMAKE_VARS[@]}" olddefconfig >>"$log" 2>&1
		check_config
		touch "$top/.configured"
	fi
	local start; start=$(date +%s)
	echo "kernel: building the $flavour kernel's bzImage and modules in $tree (log: $log)"
	progress "$log" "$start" &
	progress_pid=$!
	trap 'kill $progress_pid 2>/dev/null || true' EXIT
	# (make's flags from a caller, such as the "s" of `make -s module`,
	# would silence Kbuild's "  CC ..." lines, which the progress line
	# counts: this build takes only its own)
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "${KMAKE_VARS[@]}" -j"$(($(nproc) + 1))" bzImage modules >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "kernel: build failed, see $log" >&2
		exit 1
	fi
	kill $progress_pid 2>/dev/null || true
	local took=$(($(date +%s) - start))
	echo "$took" >"$top/build-seconds"
	touch "$top/.built"
	echo "kernel: built in $((took / 60))m$((took % 60))s: $tree"
}

# Every option the fragments set must have survived olddefconfig (a later
# fragment's line for an option replaces an earlier one's); a silently
# dropped dependency would otherwise surface as a confusing test failure.
check_config() {
	local bad=0 line opt want got f
	local -A wants=() strict=()
	local order=()
	for f in "${fragments[@]}"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*) opt=${line%%=*} want=${line#*=} ;;
			"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} want=n ;;
			*) continue ;;
			esac
			[ -n "${wants[$opt]+set}" ] || order+=("$opt")
			wants[$opt]=$want
			# (the bench fragment's trims are what makes it a bench kernel)
			[ "$f" = "$bench_fragment" ] && strict[$opt]=1
		done <"$f"
	done
	for opt in "${order[@]}"; do
		want=${wants[$opt]}
		got=$(grep -E "^$opt=" .config | cut -d= -f2- || true)
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			# a needed option that did not take is fatal; a trim that did not is not
			if [ "$want" = n ] && [ -z "${strict[$opt]:-}" ]; then
				echo "kernel: note: $opt stays '$got' (something selects it)" >&2
			else
				echo "kernel: config $opt is '$got', the fragments want '$want'" >&2
				bad=1
			fi
		fi
	done
	return $bad
}

case ${2:-test} in
test) ;;
bench) flavour=bench fragments+=("$bench_fragment") ;;
*) echo "usage: $0 build|kdir [test|bench]" >&2; exit 2 ;;
esac
case ${1:-build} in
build) build ;;
kdir) kdir ;;
*) echo "usage: $0 build|kdir [test|bench]" >&2; exit 2 ;;
esac
