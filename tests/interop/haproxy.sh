#!/usr/bin/env bash
# HAProxy in front of an example started with PROXY_PROTOCOL=1 (issue 8):
# HAProxy (mode tcp, `send-proxy-v2`) is started on a free loopback port
# with a generated config.
#   h2c (default), in front of the `h2c` example: curl through it gets 200
#   over HTTP/1.1, the h2c upgrade and prior-knowledge HTTP/2, and the
#   example logs curl's own address (its local port, not HAProxy's); curl
#   straight to the example, without the header, gets its connection closed.
#   ws, in front of `echo` (issue 17): tests/interop/haproxy_ws.py connects
#   through HAProxy with forged forwarding headers, which are ignored.
# Usage: ADDR=127.0.0.1:3000 SERVER_LOG=path bash tests/interop/haproxy.sh [h2c|ws]
#   (SERVER_LOG: the example's log, with RUST_LOG=info,h2c=debug)
# Prints `ok <check>` / `FAIL <check>: reason`; exits 1 on a failure, 77 when
# haproxy or curl is missing outside CI.
set -uo pipefail
ADDR="${ADDR:-127.0.0.1:3000}"
NAME=haproxy.sh
MODE="${1:-h2c}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELLO=$'hello from tower-upgrade\n'
failed=0

for tool in haproxy curl; do
  if ! command -v "$tool" >/dev/null; then
    [ "${CI:-}" = true ] && { echo "FAIL $NAME: $tool is not installed (scripts/install-peers.sh)"; exit 1; }
    echo "skip $NAME: $tool is not installed"; exit 77
  fi
done
[ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] || { echo "FAIL $NAME: SERVER_LOG is not the example's log"; exit 1; }

tmp="$(mktemp -d)"
haproxy_pid=""
cleanup() {
  [ -n "$haproxy_pid" ] && kill "$haproxy_pid" 2>/dev/null && wait "$haproxy_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
front="127.0.0.1:$port"
# `timeout tunnel` is the one that matters for upgraded connections (see
# docs/deployment.md); mode tcp passes HTTP/1.1, h2c and HTTP/2 through.
cat >"$tmp/haproxy.cfg" <<CFG
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
frontend front
    bind $front
    default_backend example
backend example
    server example $ADDR send-proxy-v2
CFG
if ! haproxy -c -q -f "$tmp/haproxy.cfg" >"$tmp/check" 2>&1; then
  echo "FAIL $NAME: haproxy rejects the generated config: $(tr '\n' ' ' <"$tmp/check")"; exit 1
fi
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
haproxy_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$haproxy_pid" 2>/dev/null || { echo "FAIL $NAME: haproxy exited: $(tr '\n' ' ' <"$tmp/haproxy.log")"; haproxy_pid=""; exit 1; }
  sleep 0.1
done
echo "# haproxy $(haproxy -v | head -1 | awk '{print $3}') on $front -> $ADDR (send-proxy-v2)"

if [ "$MODE" = ws ]; then
  FRONT="$front" python3 "$here/haproxy_ws.py"
  exit $?
fi

# The example's log without colour codes.
logged() { sed 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG"; }

# through NAME WANT_VERSION CURL_ARGS...: 200 with the body through HAProxy,
# and the example logged curl's own address.
through() {
  local name="$1" want_version="$2"; shift 2
  local out status version local_port
  if ! out="$(curl -sS --max-time 20 -o "$tmp/body" -w '%{http_code} %{http_version} %{local_port}' "$@" "http://$front/" 2>"$tmp/err")"; then
    echo "FAIL $NAME: $name: curl failed: $(tr '\n' ' ' <"$tmp/err")"; failed=1; return
  fi
  read -r status version local_port <<<"$out"
  if [ "$status" != 200 ] || [ "$version" != "$want_version" ]; then
    echo "FAIL $NAME: $name: status $status over HTTP/$version, want 200 over HTTP/$want_version"; failed=1; return
  fi
  if [ "$(cat "$tmp/body")" != "${HELLO%$'\n'}" ]; then
    echo "FAIL $NAME: $name: body $(head -c 80 "$tmp/body" | tr '\n' ' ')"; failed=1; return
  fi
  # The log line is written before the response; give the file a moment.
  for _ in $(seq 50); do
    logged | grep -q "peer=127.0.0.1:$local_port\b" && break
    sleep 0.1
  done
  if ! logged | grep -q "peer=127.0.0.1:$local_port\b"; then
    echo "FAIL $NAME: $name: the example did not log curl's address 127.0.0.1:$local_port; it logged: $(logged | grep -o 'peer=[^ ]*' | tail -3 | tr '\n' ' ')"
    failed=1; return
  fi
  echo "ok $NAME: $name: 200, the example saw curl's address 127.0.0.1:$local_port"
}

through "HTTP/1.1 through haproxy" 1.1
through "h2c upgrade through haproxy" 2 --http2
through "prior-knowledge HTTP/2 through haproxy" 2 --http2-prior-knowledge

# Straight to the example, without the header: closed, nothing answered.
code="$(curl -sS --max-time 20 -o "$tmp/direct" -w '%{http_code}' "http://$ADDR/" 2>"$tmp/err")"
rc=$?
if [ "$rc" = 52 ] && [ "$code" = 000 ] && [ ! -s "$tmp/direct" ]; then
  echo "ok $NAME: a direct connection without the PROXY header is closed (curl: empty reply)"
else
  echo "FAIL $NAME: direct connection: curl exit $rc, status $code, $(wc -c <"$tmp/direct" 2>/dev/null || echo 0) bytes: $(tr '\n' ' ' <"$tmp/err")"
  failed=1
fi

exit "$failed"
