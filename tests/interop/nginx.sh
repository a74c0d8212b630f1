#!/usr/bin/env bash
# nginx in front of the `echo` example (issue 8), started here as the current
# user on a free loopback port with a temporary prefix, configured like a
# misconfigured ingress: `proxy_set_header Host $proxy_host` (the upstream's
# name, not the client's), with X-Forwarded-Host/-Proto/-For set.
#
# Usage: ADDR=<echo's address> SERVER_LOG=<echo's log> bash tests/interop/nginx.sh trusted|untrusted
#   trusted:   echo runs with TRUSTED_PROXIES=127.0.0.1 (nginx's address):
#              Python websockets and headless Chromium connect through nginx
#              and echo; the handler logs the client's address from
#              X-Forwarded-For (the Python client connects from 127.0.0.2).
#   untrusted: echo trusts nobody: both are refused with 403 through nginx.
# Both modes: a direct request with a forged X-Forwarded-Host, from
# 127.0.0.2 (not a trusted proxy), is refused with 403.
# Exits 77 when nginx is missing (1 under CI=true).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${1:?trusted or untrusted}"
NAME=nginx.sh
if ! command -v nginx >/dev/null; then
  if [ "${CI:-}" = true ]; then echo "FAIL $NAME: nginx missing; run scripts/install-peers.sh"; exit 1; fi
  echo "skip $NAME: nginx missing; run scripts/install-peers.sh"; exit 77
fi
prefix="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$prefix/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 1024; }
http {
  access_log $prefix/access.log;
  client_body_temp_path $prefix/body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream app { server $ADDR; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$proxy_host;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      # Longer than the WebSocket ping interval (30 s), so an idle but
      # healthy connection is never cut by nginx.
      proxy_read_timeout 75s;
    }
  }
}
CONF
nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' >"$prefix/stdout.log" 2>&1 &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$prefix"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 $nginx_pid 2>/dev/null || { echo "FAIL $NAME: nginx exited:"; sed 's/^/#   /' "$prefix/stdout.log" "$prefix/error.log"; exit 1; }
  sleep 0.1
done
echo "# $NAME ($mode): $(nginx -v 2>&1) on 127.0.0.1:$port -> echo on $ADDR"
status=0
NGINX_ADDR="127.0.0.1:$port" MODE="$mode" python3 "$here/nginx_ws.py" || status=1
NGINX_ADDR="127.0.0.1:$port" MODE="$mode" node "$here/nginx_browser.mjs" || status=1
exit $status
