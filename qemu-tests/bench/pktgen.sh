#!/usr/bin/env bash
# Runs inside the client's namespace (arms.sh's window): pktgen on eth0 from
# kernel thread 0, WARMUP packets and then COUNT packets of 60-byte UDP to
# DST:PORT (Ethernet destination DST_MAC), sources from SRC_MIN-SRC_MAX and
# source ports SPORT_MIN to SPORT_MAX-1, in turn or as FLAGS say
# ("IPSRC_RND UDPSRC_RND": random), PKTGEN_DELAY (0) ns apart (sync.sh's
# rates: a delay under 100 us is a busy loop on CPU 0). Prints "USEC SENT ERRORS WARMUP_SENT":
# the measured run's elapsed guest time (pktgen's own clock), packets sent
# and transmit errors, and the warm-up's packets.
#   pktgen.sh COUNT WARMUP DST DST_MAC PORT SRC_MIN SRC_MAX SPORT_MIN SPORT_MAX [FLAGS]
set -euo pipefail
count=$1 warmup=$2 dst=$3 dst_mac=$4 port=$5 src_min=$6 src_max=$7 sport_min=$8 sport_max=$9 flags=${10:-}
pg=/proc/net/pktgen
put() { # FILE LINE: one pktgen command, checked
	echo "$2" >"$1"
}
put $pg/kpktgend_0 rem_device_all
put $pg/kpktgend_0 "add_device eth0"
d=$pg/eth0
setup() { # COUNT
	put $d "count $1"
	put $d "pkt_size 60"
	put $d "delay ${PKTGEN_DELAY:-0}"
	put $d "clone_skb 0"
	put $d "burst 1"
	put $d "dst $dst"
	put $d "dst_mac $dst_mac"
	put $d "src_min $src_min"
	put $d "src_max $src_max"
	put $d "udp_dst_min $port"
	put $d "udp_dst_max $port"
	put $d "udp_src_min $sport_min"
	put $d "udp_src_max $sport_max"
	local f
	for f in $flags; do put $d "flag $f"; done
}
# result: R_USEC R_SENT R_ERRORS from pktgen's Result lines, once the run has
# one. (Writing "start" to pgctrl returns once the thread stops running,
# but it can return early: when the thread has not taken up the run within
# pktgen's 125 ms, as happens to a busy guest, or on a signal; the device's
# Result line says "Starting", or still holds the last command's answer,
# until the run ends. A signal while "start" is written stops the run: this
# script starts no process (no subshell either), whose end would signal it,
# before the run ends.)
result() {
	local line usec="" sent="" errors="" tries=0
	while :; do
		while IFS= read -r line; do
			if [[ $line =~ ^Result:\ OK:\ ([0-9]+)\(c[0-9]+\+d[0-9]+\)\ usec,\ ([0-9]+)\  ]]; then
				usec=${BASH_REMATCH[1]} sent=${BASH_REMATCH[2]}
			elif [[ $line =~ errors:\ ([0-9]+) ]]; then
				errors=${BASH_REMATCH[1]}
			fi
		done <$d
		[ -z "$usec" ] || break
		((++tries < 6000)) || { echo "pktgen: no result in $d after 10 minutes" >&2; cat $d >&2; exit 1; }
		sleep 0.1
	done
	R_USEC=$usec R_SENT=$sent R_ERRORS=${errors:-0}
}
warm=0
if [ "$warmup" -gt 0 ]; then
	setup "$warmup"
	put $pg/pgctrl start
	result
	warm=$R_SENT
fi
setup "$count"
put $pg/pgctrl start
result
echo "$R_USEC $R_SENT $R_ERRORS $warm"
