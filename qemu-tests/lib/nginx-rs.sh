# shellcheck shell=bash
# nginx as a real server in namespace rsN: answers every request on port 80
# with "rsN: client ADDR reached VIP ADDR" (the addresses nginx saw).
nginx_rs() { # N
	local i=$1 d
	d=$(mktemp -d "/tmp/nginx-rs$i.XXXX")
	cat >"$d/nginx.conf" <<CONF
daemon on;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
	uwsgi_temp_path $d; scgi_temp_path $d;
	server {
		listen 80;
		listen [::]:80;
		location / { return 200 "rs$i: client \$remote_addr reached VIP \$server_addr\n"; }
	}
}
CONF
	n "rs$i" nginx -c "$d/nginx.conf"
}
