# vrrpd as a packaged daemon, on the host (one director namespace):
#
# - `make install DESTDIR=... INSTALL_MOD_PATH=...` against the cached
#   kernel lays down the binaries, the systemd unit, both man pages in
#   man8 (section 8 in their .TH), and drlb.ko under lib/modules/VERSION/
#   with a modules.dep that `modprobe drlb` resolves; `make dkms-source`
#   stages a tree that dkms's MAKE line (dkms.conf) builds; the unit passes
#   `systemd-analyze verify`.
# - sd_notify: vrrpd started with NOTIFY_SOCKET (an abstract name, and a
#   path) sends READY=1 only once its instances have started, a STATUS=
#   with their states, RELOADING=1 then READY=1 on SIGHUP (a refused file
#   too, saying so), STOPPING=1 on SIGTERM, and no READY=1 when nothing
#   could start; exec checks do not inherit NOTIFY_SOCKET.
# - The unit's sandbox without systemd: vrrpd run with the unit's
#   capabilities only, no_new_privs, under strace, does its whole job
#   (MASTER with its VIP, HTTP, HTTPS and exec checks, a reload, a
#   release), and every system call, socket family and file it opened for
#   writing (its checks' included) is one the unit allows.
. lib/testlib.sh
. lib/vrrp.sh
top=$(cd .. && pwd)
topo_up -d 1 -r 0
stage=$(mktemp -d)
listener= https_pid=
cleanup() {
	vrrpd_stop dir1
	[ -z "$listener" ] || kill "$listener" 2>/dev/null || true
	[ -z "$https_pid" ] || kill "$https_pid" 2>/dev/null || true
	topo_down
	rm -rf "$stage"
}
trap cleanup EXIT

# ---- make install ----
kdir=$(make -s -C "$top" kdir)
[ -f "$kdir/Module.symvers" ] || fail "no built kernel at $kdir (make kernel)"
kver=$(<"$kdir/include/config/kernel.release")
root=$stage/root
log "make install DESTDIR=$root INSTALL_MOD_PATH=$root KDIR=$kdir PREFIX=/usr"
make -s -C "$top" install DESTDIR="$root" INSTALL_MOD_PATH="$root" KDIR="$kdir" PREFIX=/usr \
	>"$stage/install.log" 2>&1 || { tail -n 20 "$stage/install.log"; fail "make install failed"; }
for b in vrrpd drlb-tool; do
	[ -x "$root/usr/sbin/$b" ] || fail "no $root/usr/sbin/$b"
done
"$root/usr/sbin/vrrpd" --version >/dev/null || fail "the installed vrrpd does not run"
unit=$root/lib/systemd/system/vrrpd.service
[ -f "$unit" ] || fail "no unit at lib/systemd/system/vrrpd.service"
for line in 'Type=notify' 'ExecStart=/usr/sbin/vrrpd --config /etc/vrrpd/vrrpd.toml' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW' \
	'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW' 'NoNewPrivileges=yes' 'ProtectSystem=strict'; do
	grep -qxF "$line" "$unit" || fail "the unit lacks '$line'"
done
log "ok: binaries and the unit"
for page in vrrpd drlb-tool; do
	f=$root/usr/share/man/man8/$page.8
	[ -f "$f" ] || fail "no man8/$page.8"
	grep -q "^\.TH $page 8 " "$f" || fail "$page.8 does not say section 8: $(grep '^\.TH' "$f")"
	[ -n "$(MANPATH=$root/usr/share/man man -w "$page" 2>/dev/null | grep "/man8/$page.8")" ] ||
		fail "man does not find $page in man8"
	if command -v groff >/dev/null; then
		warn=$(groff -man -ww -z "$f" 2>&1) || true
		[ -z "$warn" ] || fail "$page.8: groff warns: $warn"
	fi
done
grep -q 'READY=1' "$root/usr/share/man/man8/vrrpd.8" || fail "vrrpd.8 says nothing of systemd"
log "ok: man8/vrrpd.8 and man8/drlb-tool.8, section 8"
ko=$root/lib/modules/$kver/updates/drlb.ko
[ -f "$ko" ] || fail "no drlb.ko under lib/modules/$kver/updates: $(find "$root/lib/modules" -name '*.ko')"
expect_eq "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" "$kver" "the installed module's vermagic"
grep -q '^updates/drlb.ko:' "$root/lib/modules/$kver/modules.dep" || fail "modules.dep lacks drlb"
dep=$(modprobe -d "$root" -S "$kver" --show-depends drlb) || fail "modprobe cannot resolve drlb"
[[ $dep == "insmod $ko"* ]] || fail "modprobe drlb would load '$dep'"
log "ok: $dep"

log "make dkms-source: the staged tree builds as dkms.conf's MAKE line says"
make -s -C "$top" dkms-source DESTDIR="$stage/dkms" >"$stage/dkms.log" 2>&1 || { cat "$stage/dkms.log"; fail "make dkms-source failed"; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$top/Cargo.toml" | head -n1)
src=$stage/dkms/usr/src/drlb-$version
[ -f "$src/dkms.conf" ] || fail "no usr/src/drlb-$version/dkms.conf"
[ -z "$(find "$src" -name '*.o' -o -name '*.ko' -o -name '*.cmd')" ] || fail "build products in the dkms source"
(
	kernel_source_dir=$kdir
	# shellcheck disable=SC1091
	. "$src/dkms.conf"
	[ "$PACKAGE_NAME/$PACKAGE_VERSION" = "drlb/$version" ] || fail "dkms.conf names $PACKAGE_NAME/$PACKAGE_VERSION"
	[ "${BUILT_MODULE_NAME[0]}" = drlb ] || fail "dkms.conf builds ${BUILT_MODULE_NAME[0]}"
	[[ $BUILD_EXCLUSIVE_CONFIG == *CONFIG_RUST* ]] || fail "dkms.conf does not require CONFIG_RUST"
	expect_eq "${MAKE[0]}" "make module KDIR=$kdir" "dkms's build"
	cd "$src" && eval "${MAKE[0]}" >"$stage/dkms-build.log" 2>&1 || { tail -n 20 "$stage/dkms-build.log"; fail "dkms's build failed"; }
	[ -f "$src/drlb.ko" ] || fail "dkms's build made no drlb.ko"
	expect_eq "$(modinfo -F vermagic "$src/drlb.ko" | cut -d' ' -f1)" "$kver" "dkms's module's vermagic"
) || exit 1

if command -v systemd-analyze >/dev/null; then
	# (a copy whose ExecStart is the staged binary: verify checks it exists;
	# MANPATH lets it find the Documentation= pages)
	mkdir -p "$stage/verify"
	sed "s|=/usr/sbin/vrrpd|=$root/usr/sbin/vrrpd|" "$unit" >"$stage/verify/vrrpd.service"
	out=$(MANPATH=$root/usr/share/man systemd-analyze verify "$stage/verify/vrrpd.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
	log "ok: systemd-analyze verify is silent"
	score=$(systemd-analyze security --offline=true "$unit" 2>&1 | sed -n 's/.*Overall exposure level for vrrpd.service: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] || fail "systemd-analyze security gave no score"
	awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }' || fail "the unit's exposure is $score (> 4.0)"
	log "ok: systemd-analyze security: exposure $score"
else
	log "no systemd-analyze here: not verifying the unit"
fi

# ---- sd_notify ----
# (processes started with `ip netns exec` itself, not `n`: a function in the
# background is a subshell, and its pid is not the process's)
nout=$stage/notify.jsonl
: >"$nout"
listen() { # SOCKET MARKER: the stand-in for systemd, in dir1's namespace
	: >"$nout"; : >"$stage/listen.out"
	ip netns exec "drlb-$TOPO_TAG-dir1" python3 -S lib/notify-listen.py "$1" "$nout" "$VRRP_DIR/dir1.log" "$2" >"$stage/listen.out" 2>&1 &
	listener=$!
	local end=$((SECONDS + 20))
	until [ "$(<"$stage/listen.out")" = listening ]; do
		((SECONDS < end)) || fail "the notify listener did not start: $(<"$stage/listen.out")"
		snooze 0.05
	done
}
unlisten() { kill "$listener" 2>/dev/null || true; wait "$listener" 2>/dev/null || true; listener=; }
# notes: the datagrams so far, one per line: KEY=value;KEY=value [marker]
notes() { jq -r '.marker as $m | [.fields | to_entries[] | "\(.key)=\(.value)"] | join(";") + (if $m then " [marker]" else "" end)' "$nout"; }
wait_note() { # PATTERN [SECONDS]: until a datagram matches
	local end=$((SECONDS + ${2:-10}))
	until notes | grep -qE "$1"; do
		((SECONDS < end)) || fail "no datagram matching /$1/; got: $(notes | tr '\n' '|')"
		snooze 0.1
	done
}
count() { wc -l <"$nout"; }
since() { notes | tail -n +"$(($1 + 1))"; } # the datagrams after the first N
wait_since() { # N PATTERN [SECONDS]: until a datagram after the first N matches
	local end=$((SECONDS + ${3:-10}))
	until since "$1" | grep -qE "$2"; do
		((SECONDS < end)) || fail "no datagram matching /$2/ after the first $1; got: $(since "$1" | tr '\n' '|')"
		snooze 0.1
	done
}

cat >"$VRRP_DIR/d1.toml" <<EOF
$(vrrp_conf dir1 150)

[[virtual_server]]
protocol = "tcp"
address = "198.51.100.50:80"

[virtual_server.check]
type = "exec"
interval_ms = 200
command = ["/bin/sh", "-c", "env > $VRRP_DIR/check.env"]

[[virtual_server.real]]
address = "$(rs4 1)"
EOF

log "vrrpd with NOTIFY_SOCKET=@abstract: READY=1 only after its instance started"
name=vrrpd-notify-$$
listen "@$name" "running 1 instance(s)"
ip netns exec "drlb-$TOPO_TAG-dir1" env NOTIFY_SOCKET="@$name" "$VRRPD" --config "$VRRP_DIR/d1.toml" 2>>"$VRRP_DIR/dir1.log" &
VRRPD_PID[dir1]=$!
wait_note '^READY=1'
first=$(notes | grep -m1 'READY=1')
[[ $first == *"[marker]" ]] || fail "READY=1 came before the daemon logged its instances: $first"
[[ $first == *"STATUS=vi1 BACKUP; 1 virtual server(s), 1 check(s)"* ]] || fail "READY=1's status: $first"
log "ok: $first"
wait_instance dir1 vi1 MASTER
wait_note '^STATUS=vi1 MASTER'
log "ok: STATUS follows the instance: $(notes | grep -m1 'STATUS=vi1 MASTER')"
end=$((SECONDS + 10))
until [ -s "$VRRP_DIR/check.env" ]; do ((SECONDS < end)) || fail "the exec check never ran"; snooze 0.1; done
grep -q '^NOTIFY_SOCKET=' "$VRRP_DIR/check.env" && fail "the exec check inherited NOTIFY_SOCKET"
log "ok: the exec check's environment has no NOTIFY_SOCKET"

log "SIGHUP: RELOADING=1, then READY=1"
before=$(count)
vrrpd_signal dir1 HUP
wait_since "$before" '^READY=1'
after=$(since "$before")
[[ $(head -n1 <<<"$after") == RELOADING=1\;MONOTONIC_USEC=[0-9]*\;STATUS=reloading* ]] || fail "the reload did not begin with RELOADING=1: $after"
ready=$(grep -m1 '^READY=1' <<<"$after")
[[ $ready != *refused* ]] || fail "a good reload reported as refused: $ready"
log "ok: $(tr '\n' '|' <<<"$after")"

log "a refused reload: RELOADING=1, then READY=1 saying why"
cp "$VRRP_DIR/d1.toml" "$VRRP_DIR/good.toml"
echo 'preempt = "yes"' >>"$VRRP_DIR/d1.toml"
before=$(count)
vrrpd_signal dir1 HUP
wait_since "$before" '^READY=1'
ready=$(since "$before" | grep -m1 '^READY=1')
[[ $ready == *"STATUS=reload refused: $VRRP_DIR/d1.toml:"*"vi1 MASTER"* ]] || fail "the refused reload's READY=1: $ready"
log "ok: $ready"
cp "$VRRP_DIR/good.toml" "$VRRP_DIR/d1.toml"

log "SIGTERM: STOPPING=1, exit 0"
vrrpd_signal dir1 TERM
rc=0; wait "${VRRPD_PID[dir1]}" || rc=$?
VRRPD_PID[dir1]=
expect_eq "$rc" 0 "vrrpd's exit status"
wait_note '^STOPPING=1' 2
unlisten

log "nothing to run: no READY=1, a STATUS saying why, exit 1 (NOTIFY_SOCKET a path)"
printf '[[instance]]\nname = "vi9"\ninterface = "eth9"\nvrid = 9\nvirtual_ips = ["198.51.100.99"]\n' >"$VRRP_DIR/none.toml"
listen "$stage/notify.sock" "nothing to run"
rc=0
n dir1 env NOTIFY_SOCKET="$stage/notify.sock" timeout 10 "$VRRPD" --config "$VRRP_DIR/none.toml" \
	--socket "$VRRP_DIR/none.sock" 2>>"$VRRP_DIR/dir1.log" || rc=$?
expect_eq "$rc" 1 "exit status"
wait_note '^STATUS=nothing to run' 5
notes | grep -q 'READY=1' && fail "READY=1 from a daemon that started nothing: $(notes)"
log "ok: $(notes | head -n1)"
unlisten

# ---- the unit's sandbox, without systemd ----
command -v strace >/dev/null || fail "no strace (make deps)"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
set_caps=$(for c in $caps; do c=${c#CAP_}; printf ',+%s' "${c,,}"; done)
log "vrrpd with only the unit's capabilities ($caps), no_new_privs, under strace"
https_port=8443
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rs -keyout "$stage/key.pem" -out "$stage/cert.pem" 2>/dev/null
	ip netns exec "drlb-$TOPO_TAG-dir1" python3 -c '
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"OK\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("198.51.100.3", int(sys.argv[1])), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()' "$https_port" "$stage/cert.pem" "$stage/key.pem" &
	https_pid=$!
	https_vs=$(printf '\n[[virtual_server]]\nprotocol = "tcp"\naddress = "198.51.100.52:443"\n\n[virtual_server.check]\ntype = "https"\nport = %s\ninterval_ms = 300\nexpect = "OK"\n\n[[virtual_server.real]]\naddress = "198.51.100.3"\n' "$https_port")
else
	https_vs=
	log "no openssl: no HTTPS check"
fi
cat >"$VRRP_DIR/d1.toml" <<EOF
metrics_listen = "198.51.100.3:9650"
$(vrrp_conf dir1 150)

[[virtual_server]]
protocol = "tcp"
address = "198.51.100.50:80"

[virtual_server.check]
type = "exec"
interval_ms = 300
command = ["/bin/sh", "-c", "env > $VRRP_DIR/check.env"]

[[virtual_server.real]]
address = "$(rs4 1)"

[[virtual_server]]
protocol = "tcp"
address = "198.51.100.51:80"

[virtual_server.check]
type = "http"
port = 9650
path = "/metrics"
interval_ms = 300

[[virtual_server.real]]
address = "198.51.100.3"
$https_vs
EOF
rm -f "$VRRP_DIR/check.env"
listen "$stage/notify.sock" "running 1 instance(s)"
ip netns exec "drlb-$TOPO_TAG-dir1" setpriv --no-new-privs --bounding-set=-all"$set_caps" --inh-caps=-all"$set_caps" --ambient-caps=-all"$set_caps" -- \
	strace -f -qq -s 256 -o "$stage/trace" env NOTIFY_SOCKET="$stage/notify.sock" "$VRRPD" --config "$VRRP_DIR/d1.toml" \
	2>>"$VRRP_DIR/dir1.log" &
VRRPD_PID[dir1]=$!
wait_note '^READY=1' 20
wait_instance dir1 vi1 MASTER 10
holds_vip dir1 || fail "vrrpd with the unit's capabilities did not add its VIP"
# (VRRPD_PID is strace's: signals go to vrrpd itself)
pid=$(pgrep -P "${VRRPD_PID[dir1]}" -x vrrpd) || fail "no vrrpd under strace"
capeff=$(sed -n 's/^CapEff:\t//p' "/proc/$pid/status")
expect_eq "$capeff" 0000000000003000 "vrrpd's effective capabilities (CAP_NET_ADMIN, CAP_NET_RAW)"
expect_eq "$(sed -n 's/^NoNewPrivs:\t//p' "/proc/$pid/status")" 1 "vrrpd's no_new_privs"
expect_ge "$(vrrp_status dir1 | jq '.instances[0].adverts_sent')" 1 "adverts sent"
for vs in 0 1 ${https_vs:+2}; do
	end=$((SECONDS + 15))
	until [ "$(vrrp_status dir1 | jq -r ".virtual_servers[$vs].reals[0].check.state")" = up ]; do
		((SECONDS < end)) || fail "check $vs is not up: $(vrrp_status dir1 | jq -c ".virtual_servers[$vs].reals[0].check")"
		snooze 0.2
	done
	log "ok: the $(vrrp_status dir1 | jq -r ".virtual_servers[$vs].reals[0].check.type") check is up"
done
before=$(count)
kill -HUP "$pid"
wait_since "$before" '^READY=1'
wait_instance dir1 vi1 MASTER
kill -TERM "$pid"
rc=0; wait "${VRRPD_PID[dir1]}" || rc=$?
VRRPD_PID[dir1]=
expect_eq "$rc" 0 "vrrpd's exit status"
! holds_vip dir1 || fail "the VIP stayed after SIGTERM"
log "what vrrpd and its checks did, against the unit's sandbox:"
rc=0; out=$(python3 -S lib/unit-allows.py "$unit" "$stage/trace") || rc=$?
sed 's/^/    /' <<<"$out"
[ "$rc" -eq 0 ] || fail "vrrpd did something the unit forbids"
log "ok: within the unit's system calls, socket families and writable paths"
