#!/usr/bin/env bash
# Issue 18: the `chat` example as two instances sharing their rooms through
# Redis, behind nginx. Starts, as the current user on free loopback ports:
#   - Debian's redis-server (`--save '' --appendonly no`, nothing on disk),
#   - `chat` twice, INSTANCE=a and INSTANCE=b, with REDIS_URL, trusting
#     nginx (TRUSTED_PROXIES=127.0.0.1, CLIENT_SOURCE=x-forwarded),
#   - nginx in front, round robin over both, with the WebSocket upgrade
#     configuration of docs/deployment.md,
# then runs tests/interop/chat_cluster.mjs (headless Chromium through nginx,
# Node `ws` straight to each instance), which kills and restarts Redis and
# sends SIGTERM to instance a; see that file for the checks.
#
# Usage: bash tests/interop/chat_cluster.sh   (after cargo build --examples --all-features)
# Env: CHAT_BIN (default target/debug/examples/chat, built with the `redis`
#      feature); INTEROP_OUT (default target/interop): the logs of both
#      instances, Redis and nginx are copied there as chat_cluster-*.log.
# Exits 77 when redis-server or nginx is missing (1 under CI=true);
# chat_cluster.mjs does the same for Chromium and playwright-core.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
NAME=chat_cluster.sh
out="${INTEROP_OUT:-$root/target/interop}"
bin="${CHAT_BIN:-$root/target/debug/examples/chat}"
mkdir -p "$out"

missing=()
for tool in redis-server nginx; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then echo "FAIL $NAME: ${missing[*]} missing; run scripts/install-peers.sh"; exit 1; fi
  echo "skip $NAME: ${missing[*]} missing; run scripts/install-peers.sh"; exit 77
fi
[ -x "$bin" ] || { echo "FAIL $NAME: $bin not built (cargo build --examples --all-features)"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_port PORT PID WHAT: up to 30 s for PORT to accept while PID lives.
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "FAIL $NAME: $3 exited before listening on $1"; return 1; }
    sleep 0.1
  done
  echo "FAIL $NAME: $3 not listening on $1 after 30 s"; return 1
}

prefix="$(mktemp -d)"
pids=()
cleanup() {
  [ -s "$prefix/redis.pid" ] && kill "$(cat "$prefix/redis.pid")" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for f in redis.log nginx-error.log; do [ -f "$prefix/$f" ] && cp "$prefix/$f" "$out/chat_cluster-$f"; done
  rm -rf "$prefix"
}
trap cleanup EXIT

# --- Redis: in memory only; chat_cluster.mjs restarts it with this file ---
redis_port="$(free_port)"
cat >"$prefix/redis.conf" <<CONF
bind 127.0.0.1
port $redis_port
dir $prefix
pidfile $prefix/redis.pid
logfile $prefix/redis.log
daemonize no
CONF
redis-server "$prefix/redis.conf" --save '' --appendonly no &
redis_pid=$!
# Killed by chat_cluster.mjs and started again there; cleanup() ends it
# through its pid file, and bash need not report the kill.
disown $redis_pid
wait_port "$redis_port" $redis_pid redis-server || exit 1

# --- two chat instances --------------------------------------------------
declare -A addr pid
for name in a b; do
  port="$(free_port)"
  addr[$name]="127.0.0.1:$port"
  env ADDR="${addr[$name]}" INSTANCE="$name" REDIS_URL="redis://127.0.0.1:$redis_port/" \
    TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded RUST_LOG="${RUST_LOG:-info}" \
    "$bin" >"$out/chat_cluster-$name.log" 2>&1 &
  pid[$name]=$!
  pids+=($!)
done
for name in a b; do
  wait_port "${addr[$name]#*:}" "${pid[$name]}" "chat $name" || { tail -n 5 "$out/chat_cluster-$name.log" | sed 's/^/#   /'; exit 1; }
done

# --- nginx, round robin (docs/deployment.md) -------------------------------
nginx_port="$(free_port)"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$prefix/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $prefix/body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream app { server ${addr[a]}; server ${addr[b]}; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$proxy_host;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 75s;
    }
  }
}
CONF
nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' >"$prefix/nginx-stdout.log" 2>&1 &
pids+=($!)
wait_port "$nginx_port" $! nginx || { sed 's/^/#   /' "$prefix/nginx-stdout.log" "$prefix/nginx-error.log"; exit 1; }

echo "# $NAME: $(redis-server --version | awk '{print $1, $2, $3}') on $redis_port;" \
  "chat a on ${addr[a]} (pid ${pid[a]}), chat b on ${addr[b]} (pid ${pid[b]});" \
  "$(nginx -v 2>&1 | sed 's/.*: //') round robin on 127.0.0.1:$nginx_port"
NGINX_ADDR="127.0.0.1:$nginx_port" A_ADDR="${addr[a]}" B_ADDR="${addr[b]}" A_PID="${pid[a]}" B_PID="${pid[b]}" \
  REDIS_PID="$redis_pid" REDIS_CONF="$prefix/redis.conf" REDIS_PORT="$redis_port" \
  node "$here/chat_cluster.mjs"
status=$?
# Both instances' view of the run, for a failure's reader.
for name in a b; do
  echo "# chat $name: log $out/chat_cluster-$name.log; what its backplane said:"
  sed 's/\x1b\[[0-9;]*m//g' "$out/chat_cluster-$name.log" | grep -o 'Redis backplane: [^;]*' | sort | uniq -c | sed 's/^/#   /'
done
exit $status
