# shellcheck shell=bash
# Memory per connection entry, measured: sourced by bench.sh after its
# blocks (BENCH_EXTRAS), with arms.sh's topology up. For drlb and for IPVS:
# the table is made, then filled with MEM_ENTRIES (1000000) UDP flows, one
# packet each (consecutive source addresses); the kernel's slab usage
# (/proc/meminfo's Slab, and every cache of /proc/slabinfo) is read before
# and after the fill. One JSON line per implementation in $OUT/mem.jsonl:
#   bytes_per_entry = growth of all slab memory / entries the table holds
#   caches          = the caches that grew most: name, objects, object size,
#                     bytes of slab pages per entry
#   table_bytes     = what making the table (buckets) took, before any entry
# drlb's bound is 1048576 (flood mode off), IPVS's table 2^BENCH_IPVS_TAB_BITS.

MEM_ENTRIES=${MEM_ENTRIES:-1000000}

# meminfo: Slab, Vmalloc, MemAvailable (bytes) into M_SLAB M_VMALLOC M_AVAIL
meminfo() {
	local k v _
	while read -r k v _; do
		case $k in
		Slab:) M_SLAB=$((v * 1024)) ;;
		VmallocUsed:) M_VMALLOC=$((v * 1024)) ;;
		MemAvailable:) M_AVAIL=$((v * 1024)) ;;
		esac
	done </proc/meminfo
}
# slabinfo ARRAY: every cache's bytes of slab pages, and objects and object
# size, into the associative arrays ARRAY_bytes, ARRAY_objs, ARRAY_size
slabinfo() {
	local -n _b=$1_bytes _o=$1_objs _s=$1_size
	local name active num size perslab pages rest
	while read -r name active num size perslab pages rest; do
		[[ $name == \#* || $name == slabinfo* ]] && continue
		rest=${rest#*slabdata }
		read -r _ rest _ <<<"$rest"
		_b[$name]=$((rest * pages * 4096))
		_o[$name]=$active
		_s[$name]=$size
	done </proc/slabinfo
}
# mem_record KIND ENTRIES HOW: the JSON line from the S0/S1 snapshots
mem_record() {
	local kind=$1 entries=$2 how=$3 name d top="" list=()
	for name in "${!S1_bytes[@]}"; do
		d=$((S1_bytes[$name] - ${S0_bytes[$name]:-0}))
		((d > 1048576)) && list+=("$d $name")
	done
	local aliases a t
	while read -r d name; do
		[ -n "$name" ] || continue
		# (SLUB merges caches of one size and flags: list the names that
		# share this one, ip_vs_conn's among them)
		aliases=""
		if t=$(readlink -f "/sys/kernel/slab/$name" 2>/dev/null); then
			for a in /sys/kernel/slab/*; do
				[ -L "$a" ] && [ "$(readlink -f "$a")" = "$t" ] && [ "${a##*/}" != "$name" ] && aliases+="${aliases:+ }${a##*/}"
			done
		fi
		top+="${top:+,}{\"cache\":\"$name\",\"aliases\":\"$aliases\",\"grew_bytes\":$d,\"objects\":$((S1_objs[$name] - ${S0_objs[$name]:-0})),\"object_size\":${S1_size[$name]},\"bytes_per_entry\":$((entries ? d * 1000 / entries : 0))e-3}"
	done < <(printf '%s\n' "${list[@]}" | sort -rn | head -n 3)
	local slab=$((M1_SLAB - M0_SLAB)) vm=$((M1_VMALLOC - M0_VMALLOC)) avail=$((M0_AVAIL - M1_AVAIL))
	echo "{\"kind\":\"$kind\",\"entries\":$entries,\"slab_grew\":$slab,\"vmalloc_grew\":$vm,\"memavailable_fell\":$avail,\"bytes_per_entry\":$((entries ? slab * 1000 / entries : 0))e-3,\"memavailable_per_entry\":$((entries ? avail * 1000 / entries : 0))e-3,\"table_bytes\":$TABLE_BYTES,\"caches\":[$top],\"how\":\"$how\"}" >>"$OUT/mem.jsonl"
	log "mem $kind: $entries entries, slab grew $slab bytes ($((entries ? slab / entries : 0)) B an entry), table $TABLE_BYTES bytes"
}
declare -A S0_bytes S0_objs S0_size S1_bytes S1_objs S1_size

: >>"$OUT/mem.jsonl"
# drlb
ARM=drlb
meminfo; T0=$((M_SLAB + M_VMALLOC))
insmod "$DRLB_KO"
dtb <<EOF >/dev/null
limits --flood-rate 0 --conn-max 1048576
service add udp $B_VIP:$B_PORT --scheduler rr
real add udp $B_VIP:$B_PORT $B_REAL
EOF
bench_snooze 1
meminfo; TABLE_BYTES=$((M_SLAB + M_VMALLOC - T0)); M0_SLAB=$M_SLAB M0_VMALLOC=$M_VMALLOC M0_AVAIL=$M_AVAIL
S0_bytes=() S0_objs=() S0_size=(); slabinfo S0
window "seq:$MEM_ENTRIES" "$MEM_ENTRIES" 0
bench_snooze 1
meminfo; M1_SLAB=$M_SLAB M1_VMALLOC=$M_VMALLOC M1_AVAIL=$M_AVAIL
S1_bytes=() S1_objs=() S1_size=(); slabinfo S1
lim=$("$DRLB_TOOL" -n "$(bns d)" limits)
entries=${lim#connections: }; entries=${entries%% *}
log "mem drlb: $W_DELIVERED of $W_SENT delivered; limits: ${lim//$'\n'/; }"
buckets=${lim#*buckets: }; buckets=${buckets%%$'\n'*}
mem_record drlb "$entries" "growth of /proc/meminfo Slab over the entries drlb-tool limits counts (bound 1048576, $buckets buckets)"
rmmod drlb
bench_snooze 2

# IPVS
ARM=ipvs
meminfo; T0=$((M_SLAB + M_VMALLOC))
modprobe ip_vs conn_tab_bits="$BENCH_IPVS_TAB_BITS"
modprobe ip_vs_rr
bn d ipvsadm -R <<EOF
-A -u $B_VIP:$B_PORT -s rr
-a -u $B_VIP:$B_PORT -r $B_REAL:$B_PORT -g -w 1
EOF
bench_snooze 1
meminfo; TABLE_BYTES=$((M_SLAB + M_VMALLOC - T0)); M0_SLAB=$M_SLAB M0_VMALLOC=$M_VMALLOC M0_AVAIL=$M_AVAIL
S0_bytes=() S0_objs=() S0_size=(); slabinfo S0
window "seq:$MEM_ENTRIES" "$MEM_ENTRIES" 0
bench_snooze 1
meminfo; M1_SLAB=$M_SLAB M1_VMALLOC=$M_VMALLOC M1_AVAIL=$M_AVAIL
S1_bytes=() S1_objs=() S1_size=(); slabinfo S1
# (ip_vs_stats' first figure: connections made, in hex; none has expired)
entries=0
{ read -r _; read -r _; read -r c _; } <"/proc/${_bench_pid[d]}/net/ip_vs_stats" && entries=$((16#$c))
read -r ipvs_size </proc/net/ip_vs
log "mem ipvs: $W_DELIVERED of $W_SENT delivered; $entries connections; $ipvs_size"
mem_record ipvs "$entries" "growth of /proc/meminfo Slab over the connections /proc/net/ip_vs_stats counts (table: ${ipvs_size##*\(})"
bn d ipvsadm -C
rmmod ip_vs_rr ip_vs
bench_snooze 2
ARM=
