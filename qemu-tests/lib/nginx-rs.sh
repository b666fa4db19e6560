# shellcheck shell=bash
# nginx as a real server in namespace rsN, on port 80:
#   /         "rsN client=ADDR local=ADDR" (the addresses nginx saw, as
#             rs-server.py answers)
#   /healthz  200 "OK"; or 503 "maintenance" after `rs_health N down`;
#             or 200 "DEGRADED" after `rs_health N degraded`
#
#   nginx_rs N          start it
#   nginx_rs_stop N     stop it (connections refused)
#   rs_health N ok|down|degraded
declare -gA _nginx_dir=()
nginx_rs() { # N
	local i=$1 d=${_nginx_dir[$1]:-}
	if [ -z "$d" ]; then
		d=$(mktemp -d "/tmp/nginx-rs$i.XXXX")
		_nginx_dir[$i]=$d
		cat >"$d/nginx.conf" <<CONF
daemon on;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
	uwsgi_temp_path $d; scgi_temp_path $d;
	server {
		listen 80;
		listen [::]:80;
		location = /healthz {
			if (-f $d/down) { return 503 "maintenance\n"; }
			if (-f $d/degraded) { return 200 "DEGRADED\n"; }
			return 200 "OK\n";
		}
		location / { return 200 "rs$i client=\$remote_addr local=\$server_addr\n"; }
	}
}
CONF
	fi
	n "rs$i" nginx -c "$d/nginx.conf"
}
nginx_rs_stop() { # N: stopped (its port closed) when it returns
	local d=${_nginx_dir[$1]} pid stat
	read -r pid <"$d/nginx.pid"
	kill -TERM "$pid"
	# (gone, or a zombie nobody reaps: nginx daemonized away from us)
	while read -r _ _ stat _ <"/proc/$pid/stat" 2>/dev/null && [ "$stat" != Z ]; do snooze 0.05; done
}
rs_health() { # N ok|down|degraded
	local d=${_nginx_dir[$1]}
	rm -f "$d/down" "$d/degraded"
	[ "$2" = ok ] || : >"$d/$2"
}
