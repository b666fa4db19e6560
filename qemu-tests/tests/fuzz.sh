# The genetlink fuzzer (lib/fuzz.py): FUZZ_COUNT malformed and random
# messages (default 1000; `make fuzz` sends 100,000) to the drlb family
# without CAP_NET_ADMIN in dir1, which must refuse every command that needs
# it, then as many as root in dir2. Afterwards the module answers, dir1 is
# exactly as it was (configuration, timeouts, limits, connections), and so
# it is after the root run next door; dir2 takes its configuration again.
# The harness fails the scenario on any kernel splat or kmemleak leak.
#
#   client ---- dir1 (udp/tcp services on VIP, 100 connections; fuzzed as nobody)
#          ---- dir2 (the same on VIP2,   100 connections; fuzzed as root)
. lib/testlib.sh
drlb_load
topo_up -d 2 -r 2
count=${FUZZ_COUNT:-1000}
seed=${FUZZ_SEED:+--seed $FUZZ_SEED}
VIP2=198.51.100.11
n client ip route add "$VIP2/32" via "$(dir4 2)"
cfg() { # VIP: the same configuration on either director
	cat <<EOF2
service add udp $1:9 --scheduler rr
real add udp $1:9 $(rs4 1)
real add udp $1:9 $(rs4 2) --weight 3
service add tcp $1:80 --scheduler maglev --seed 7 --mh-port
real add tcp $1:80 $(rs4 1)
service add tcp [$VIP6]:80 --persistence 300 --state standby
real add tcp [$VIP6]:80 $(rs6 2)
EOF2
}
cfg "$VIP4" | dt dir1 -b -
cfg "$VIP2" | dt dir2 -b -
# (connections that outlive the long run: its snapshot counts them)
dt dir1 timeouts --udp 86400
nd() { python3 -S lib/nldump.py "$@"; }
nd flows "$(ns client)" "$VIP4" 9 1000 100
nd flows "$(ns client)" "$VIP2" 9 1000 100
nd count "$(ns dir1)" 100
nd count "$(ns dir2)" 100
# What no unprivileged request may change, and what the root run next
# door must not either.
snapshot() { dt dir1 save && dt dir1 state && dt dir1 timeouts && dt dir1 limits && dt dir1 conns | wc -l; }
before=$(snapshot)
save2=$(dt dir2 save)

fuzz() { # WHO HOST: the fuzzer's report, in the log; fails the scenario if it failed
	local out rc=0
	if [ "$1" = nobody ]; then
		# shellcheck disable=SC2086
		out=$(n "$2" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
			python3 -S lib/fuzz.py "$count" --nobody $seed) || rc=$?
	else
		# shellcheck disable=SC2086
		out=$(n "$2" python3 -S lib/fuzz.py "$count" $seed) || rc=$?
	fi
	printf '%s\n' "$out" | sed 's/^/    /'
	[ "$rc" -eq 0 ] || fail "the fuzzer ($1 in $2) found a broken rule or an unanswered request"
}

log "without CAP_NET_ADMIN, in dir1: $count messages"
fuzz nobody dir1
same() { [ "$(snapshot)" = "$before" ] || { snapshot; fail "dir1 changed $1"; }; log "ok: dir1 as it was $1"; }
same "(save, state, timeouts, limits, connections) after the unprivileged run"

log "as root, in dir2: $count messages"
fuzz root dir2
drlb_loaded || fail "drlb is gone"
same "after the root run in dir2"
status_field dir2 state >/dev/null || fail "dir2's status"
dt dir2 flush
cfg "$VIP2" | dt dir2 -b -
[ "$(dt dir2 save)" = "$save2" ] || fail "dir2's configuration, made again after the root run, differs"
log "ok: dir2 takes its configuration again after the root run"
