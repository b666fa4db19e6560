#!/usr/bin/env bash
# `make bench`: boots the bench kernel once under QEMU with
# -icount shift=0,sleep=off (the guest's clock counts instructions: one
# nanosecond each, and idle time is skipped), runs bench.sh in it, then
# analyze.py over what it left: results.json, results.md and the plots in
# qemu-tests/out/bench-DATE/, and the ratio table on stdout.
#
#   run.sh            the benchmark (BENCH_* variables: see bench.sh)
#   run.sh --analyze DIR   only the analysis of an earlier run's DIR
#
# Needs `make bench-kernel` and the modules bench/build.sh bench builds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
qt=$(dirname "$here")
top=$(dirname "$qt")
. "$qt/env.sh"
py=/usr/bin/python3 # Debian's, with python3-matplotlib

if [ "${1:-}" = --analyze ]; then
	exec "$py" "$here/analyze.py" "$2"
fi
kdir=${KDIR:-$("$qt/kernel.sh" kdir bench)}
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "bench: no bench kernel at $kdir (make bench-kernel)" >&2; exit 1; }
mods=$top/target/bench-bench
for f in "$mods/drlb/drlb.ko" "$mods/ideal/ideal.ko" "$top/target/release/drlb-tool" "$top/target/release/vrrpd"; do
	[ -f "$f" ] || { echo "bench: $f missing (make bench builds it)" >&2; exit 1; }
done
out=$qt/out/bench-$(date +%Y%m%d-%H%M%S)
# (the previous run, which results.md compares the ratios with)
prev=$(readlink "$qt/out/bench-latest" 2>/dev/null || true)
[ -n "$prev" ] && [ -f "$prev/results.json" ] || prev=
mkdir -p "$out"
ln -sfn "$out" "$qt/out/bench-latest"
{
	printf '{"commit":"%s","dirty":%s,"branch":"%s","date":"%s","host_cpus":%s,"host_load":"%s","kdir":"%s"}\n' \
		"$(git -C "$top" rev-parse HEAD)" \
		"$([ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] && echo false || echo true)" \
		"$(git -C "$top" rev-parse --abbrev-ref HEAD)" "$(date -Iseconds)" "$(nproc)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$kdir"
} >"$out/host.json"

export PATH="$(dirname "$VNG"):$(dirname "$VIRTIOFSD"):$PATH"
env="export DRLB_KO=$mods/drlb/drlb.ko IDEAL_KO=$mods/ideal/ideal.ko DRLB_TOOL=$top/target/release/drlb-tool VRRPD=$top/target/release/vrrpd;"
for v in BENCH_BLOCKS BENCH_PKTS BENCH_WARMUP BENCH_ARMS_LIST BENCH_TRAFFIC BENCH_EXTRAS BENCH_IPVS_TAB_BITS \
	BENCH_SETTLE MEM_ENTRIES SCALE_CURVES SCALE_PKTS SCALE_CONNS SCALE_REALS SCALE_SERVICES SCALE_FLOOR_REPS \
	CRR_BLOCKS CRR_REQUESTS CRR_CONCURRENCY PROFILE_RUNS PROFILE_PKTS \
	SYNC_RATES SYNC_SECONDS SYNC_MAX_PKTS SYNC_CATCHUP SYNC_SAMPLE_MS SYNC_COST_REPS SYNC_COST_PKTS; do
	[ -z "${!v+set}" ] || env+=" export $v='${!v}';"
done
echo "bench: booting the bench kernel under -icount shift=0,sleep=off (results in $out)"
start=$(date +%s)
touch "$out/bench.log"
tail -n +1 -f "$out/bench.log" --pid=$$ 2>/dev/null | sed -u 's/^/  /' &
tail_pid=$!
set +e
"$VNG" --run "$kdir" --disable-kvm --user root --cpus "${GUEST_CPUS:-2}" --memory "${BENCH_MEMORY:-4G}" \
	--rwdir "$out" --qemu-opts="-icount shift=0,sleep=off" \
	--exec "$env $here/bench.sh $out >/dev/null 2>$out/stderr.log" >"$out/console.log" 2>&1
set -e
kill $tail_pid 2>/dev/null || true
echo "bench: the guest ran $(($(date +%s) - start)) s"
# (what the host was doing is not in the figures, but is kept beside them)
"$py" - "$out/host.json" "$(($(date +%s) - start))" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
p = sys.argv[1]
h = json.load(open(p))
h["guest_host_seconds"] = int(sys.argv[2])
h["host_load_end"] = sys.argv[3]
json.dump(h, open(p, "w"))
PY
[ -f "$out/finished" ] || { echo "bench: the guest did not finish (see $out/console.log)" >&2; exit 1; }
"$py" "$here/analyze.py" "$out" ${prev:+--previous "$prev"}
[ "$(cat "$out/finished")" = 0 ] || { echo "bench: some windows failed (see $out/bench.log)" >&2; exit 1; }
