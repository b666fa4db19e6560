# shellcheck shell=bash
# The TCP connection rate through the director, against nginx: sourced by
# bench.sh after its blocks (BENCH_EXTRAS), with arms.sh's topology up.
# The real server runs nginx (one worker, a 2-byte answer, no log); its
# replies go straight to the client over the direct link, as direct
# routing's do. ab in the client makes CRR_REQUESTS (2000) requests, one
# new TCP connection each, CRR_CONCURRENCY (4) at a time, to VIP:80
# (to the real's own address for b0, forwarded by the director), for each
# of b0, ideal, ipvs and drlb in CRR_BLOCKS (3) interleaved blocks. The
# rate is in connections per second of guest time, which counts the
# client's and nginx's instructions too: every arm pays those alike. One
# JSON line per run in $OUT/crr.jsonl.

CRR_ARMS=(b0 ideal ipvs drlb)
crr_dir=$(mktemp -d /tmp/bench-nginx.XXXX)
cat >"$crr_dir/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $crr_dir/nginx.pid;
error_log $crr_dir/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $crr_dir; proxy_temp_path $crr_dir; fastcgi_temp_path $crr_dir;
	uwsgi_temp_path $crr_dir; scgi_temp_path $crr_dir;
	server {
		listen 80 reuseport backlog=4096;
		location / { return 200 "x\n"; }
	}
}
CONF
# the sink's drop would stop TCP: off while this runs
tc -n "$(bns r)" qdisc del dev eth0 ingress
bn r sysctl -q -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
bn c sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
bn r nginx -c "$crr_dir/nginx.conf"
: >>"$OUT/crr.jsonl"
ARM_PROTO=tcp ARM_PORT=80
for ((b = 1; b <= ${CRR_BLOCKS:-3}; b++)); do
	order=("${CRR_ARMS[@]}")
	if ((b % 2 == 0)); then order=(); for ((i = ${#CRR_ARMS[@]} - 1; i >= 0; i--)); do order+=("${CRR_ARMS[i]}"); done; fi
	for ARM in "${order[@]}"; do
		arm_up "$ARM" || { log "crr: $ARM: setup failed"; continue; }
		dst=$B_VIP
		[ "$ARM" = b0 ] && dst=$B_REAL
		# (a warm-up, then the measured run)
		bn c ab -q -n 200 -c "${CRR_CONCURRENCY:-4}" "http://$dst/" >/dev/null 2>&1
		t0=${EPOCHREALTIME/./}
		out=$(bn c ab -q -n "${CRR_REQUESTS:-2000}" -c "${CRR_CONCURRENCY:-4}" "http://$dst/" 2>&1)
		t1=${EPOCHREALTIME/./}
		complete=0 failed=0 taken=0 rps=0
		while IFS= read -r line; do
			case $line in
			"Complete requests:"*) read -r _ _ complete <<<"$line" ;;
			"Failed requests:"*) read -r _ _ failed <<<"$line" ;;
			"Time taken for tests:"*) read -r _ _ _ _ taken _ <<<"$line" ;;
			"Requests per second:"*) read -r _ _ _ rps _ <<<"$line" ;;
			esac
		done <<<"$out"
		echo "{\"block\":$b,\"arm\":\"$ARM\",\"requests\":${CRR_REQUESTS:-2000},\"concurrency\":${CRR_CONCURRENCY:-4},\"complete\":${complete:-0},\"failed\":${failed:-0},\"seconds\":${taken:-0},\"rps\":${rps:-0},\"wall_usec\":$((t1 - t0))}" >>"$OUT/crr.jsonl"
		log "crr block $b $ARM: $rps connections/s, $complete complete, $failed failed"
		arm_down "$ARM"
	done
done
unset ARM_PROTO ARM_PORT
kill "$(cat "$crr_dir/nginx.pid")" 2>/dev/null || true
tc -n "$(bns r)" -b - <<EOF
qdisc add dev eth0 ingress
filter add dev eth0 ingress protocol ip matchall action drop
EOF
