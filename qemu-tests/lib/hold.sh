# shellcheck shell=bash
# Held connections for failover tests: lib/hold.py in the client's
# namespace (testlib.sh's start_servers must have run: its scratch
# directory and jsonq.py are used).
#
#   hold_start N PORT [TIMEOUT]   N connections to VIP4:PORT, a line each
#                                 every HOLD_INTERVAL seconds (default 0.1);
#                                 returns once every one is open and
#                                 answered (at most 90 s)
#   hold_q EXPR                   EXPR (jsonq.py) about hold.py's summary
#   hold_sum                      the summary in one line
#   hold_window                   just before an event: the longest wait
#                                 (window_max_wait_ms) counts from here
#   hold_through SECONDS          after a takeover: marks the moment, then
#                                 waits (at most SECONDS) until every live
#                                 connection has answered since
#   hold_stop                     stop it (and wait for it)
HOLD_PID=
hold_start() { # N PORT [TIMEOUT]
	HOLD=$TMPD/hold.json HOLD_N=$1 HOLD_MARKS=0
	rm -f "$HOLD" "$TMPD/hold.stop"
	servers_ready
	# (ip itself, not the function n: a function in the background is a
	# subshell, and the signals of hold_through must reach hold.py, which
	# ip becomes by exec)
	ip netns exec "drlb-$TOPO_TAG-client" python3 -S "$_lib/hold.py" "$VIP4" "$2" "$1" --status "$HOLD" \
		--stop "$TMPD/hold.stop" --timeout "${3:-3}" --interval "${HOLD_INTERVAL:-0.1}" 2>"$TMPD/hold.err" &
	HOLD_PID=$!
	local end=$((SECONDS + 90))
	until [ "$(hold_q d.ready)" = true ]; do
		((SECONDS < end)) || fail "held connections not ready after 90 s: $(hold_sum)"
		kill -0 "$HOLD_PID" 2>/dev/null || { slurp_print "$TMPD/hold.err" >&2; fail "hold.py died"; }
		snooze 0.5
	done
}
hold_q() { [ -s "$HOLD" ] && q_file "$HOLD" "$1"; }
hold_sum() {
	hold_q '"%d alive of %d, first real servers %s, %d answers, %d resets, %d timeouts, %d moved, longest wait %d ms" % (d.alive, d.n, ", ".join("%s %d" % kv for kv in sorted(d.first.items())), d.answers, d.resets, d.timeouts, d.moved, d.max_wait_ms)'
}
hold_window() { kill -USR2 "$HOLD_PID"; }
hold_through() { # SECONDS
	HOLD_MARKS=$((HOLD_MARKS + 1))
	kill -USR1 "$HOLD_PID"
	local end=$((SECONDS + $1))
	until [ "$(hold_q '[d.marks, d.since_mark]')" = "[$HOLD_MARKS,$HOLD_N]" ]; do
		((SECONDS < end)) || return 0
		kill -0 "$HOLD_PID" 2>/dev/null || return 0
		snooze 0.5
	done
}
hold_stop() {
	[ -n "$HOLD_PID" ] || return 0
	: >"$TMPD/hold.stop"
	wait "$HOLD_PID" 2>/dev/null || true
	HOLD_PID=
}
