#!/usr/bin/env bash
# Builds drlb's guest kernel from Debian's linux-source-6.12 and caches it.
#
#   kernel.sh build   build (or reuse) the kernel; prints progress
#   kernel.sh kdir    print the kernel tree's path (the cache key decides it)
#
# The cache lives under $DRLB_CACHE_DIR, keyed by the source package version,
# the config fragment, this recipe's version and the toolchain, so a second
# call, a later session or CI on the same machine reuse the tree.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
RECIPE=1
fragment=$here/kernel.config
tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || true)

cache_key() {
	{
		echo "recipe $RECIPE"
		dpkg-query -W -f='${Version}\n' linux-source-6.12
		cat "$fragment"
		"$RUSTC" --version
		"$BINDGEN" --version
		gcc --version | head -n1
	} | sha256sum | cut -c1-16
}

kdir() {
	local key dir
	key=$(cache_key)
	dir=$DRLB_CACHE_DIR/kernel-$key
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
		echo "kernel: configuring (defconfig + kvm_guest.config + qemu-tests/kernel.config)"
		make -s "${KMAKE_VARS[@]}" defconfig >"$log" 2>&1
		make -s "${KMAKE_VARS[@]}" kvm_guest.config >>"$log" 2>&1
		scripts/kconfig/merge_config.sh -m .config "$fragment" >>"$log" 2>&1
		make -s "${KMAKE_VARS[@]}" olddefconfig >>"$log" 2>&1
		check_config
		touch "$top/.configured"
	fi
	local start; start=$(date +%s)
	echo "kernel: building bzImage and modules in $tree (log: $log)"
	progress "$log" "$start" &
	progress_pid=$!
	trap 'kill $progress_pid 2>/dev/null || true' EXIT
	if ! make "${KMAKE_VARS[@]}" -j"$(($(nproc) + 1))" bzImage modules >>"$log" 2>&1; then
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

# Every option the fragment sets must have survived olddefconfig; a silently
# dropped dependency would otherwise surface as a confusing test failure.
check_config() {
	local bad=0 line opt want got
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*} want=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} want=n ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=" .config | cut -d= -f2- || true)
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			# a needed option that did not take is fatal; a trim that did not is not
			if [ "$want" = n ]; then
				echo "kernel: note: $opt stays '$got' (something selects it)" >&2
			else
				echo "kernel: config $opt is '$got', the fragment wants '$want'" >&2
				bad=1
			fi
		fi
	done <"$fragment"
	return $bad
}

case ${1:-build} in
build) build ;;
kdir) kdir ;;
*) echo "usage: $0 build|kdir" >&2; exit 2 ;;
esac
