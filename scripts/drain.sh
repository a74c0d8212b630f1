#!/usr/bin/env bash
# Shutdown under load: starts the `echo` example on a free loopback port,
# DRAIN_CLIENTS clients (default 200) echo continuously, then SIGTERM; checks
# that every client gets Close 1001, no message sent before SIGTERM goes
# unechoed, and the process exits within its drain deadline
# (tests/interop/ws_drain.py has the details and the other knobs).
# Prerequisite: scripts/install-peers.sh (Python websockets).
#
# Env: DRAIN_CLIENTS=N    clients (default 200)
#      DRAIN_ENV="K=V .." extra environment for echo (e.g. WS_DEFLATE=1)
#      DRAIN_BIN=path     the echo binary (default target/debug/examples/echo,
#                         built if missing)
#      CI=true            a missing peer tool is a failure, not a skip
#      GATEWAY=1          the clients go through the `gateway` example (issue
#                         19) to echo, and the gateway gets the SIGTERM: it
#                         closes each relay for its client with a Close 1001
#                         to echo at a frame boundary, and echo's answer
#                         (its last echoes, then Close 1001) reaches the
#                         client
# Prints the client's `ok`/`FAIL` lines and `drain: N passed, N failed`; exits 1 on a failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
out="$root/target/interop"
mkdir -p "$out"
bin="${DRAIN_BIN:-target/debug/examples/echo}"
if [ "${GATEWAY:-}" = 1 ]; then
  cargo build --example echo --example gateway --all-features || { echo "FAIL drain: cargo build --example gateway"; exit 1; }
fi
if [ -z "${DRAIN_BIN:-}" ] && [ ! -x "$bin" ]; then
  cargo build --example echo --all-features || { echo "FAIL drain: cargo build --example echo"; exit 1; }
fi
# Each client holds a socket (and the server one): leave room.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
addr="127.0.0.1:$port"
read -r -a extra <<<"${DRAIN_ENV:-}"
env "${extra[@]}" ADDR="$addr" RUST_LOG="${RUST_LOG:-warn}" "$bin" >"$out/drain-echo.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL drain: echo exited before listening; log $out/drain-echo.log"; exit 1; }
  sleep 0.1
done
echo "# drain: echo on $addr (pid $pid, ${DRAIN_CLIENTS:-200} clients, env ${DRAIN_ENV:-none})"
echo_pid=""
if [ "${GATEWAY:-}" = 1 ]; then
  # The gateway in front; echo believes its X-Forwarded-*.
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  env "${extra[@]}" ADDR="$addr" RUST_LOG="${RUST_LOG:-warn}" TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded "$bin" >"$out/drain-echo.log" 2>&1 &
  echo_pid=$!
  gport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  env ADDR="127.0.0.1:$gport" UPSTREAM="$addr" DRAIN_SECS=10 RUST_LOG="${RUST_LOG:-warn}" "$(dirname "$bin")/gateway" >"$out/drain-gateway.log" 2>&1 &
  pid=$!
  trap 'kill "$pid" "$echo_pid" 2>/dev/null' EXIT
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  addr="127.0.0.1:$gport"
  echo "# drain: through the gateway on $addr (pid $pid)"
fi

ADDR="$addr" SERVER_PID="$pid" timeout "${DRAIN_CLIENT_TIMEOUT:-180}" python3 tests/interop/ws_drain.py \
  | tee "$out/ws_drain.out"
rc=${PIPESTATUS[0]}
wait "$pid" 2>/dev/null
[ -z "$echo_pid" ] || { kill "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null; }
trap - EXIT
passed=$(grep -c '^ok ' "$out/ws_drain.out")
failed=$(grep -c '^FAIL ' "$out/ws_drain.out")
if [ "$rc" = 77 ] && [ "$failed" = 0 ]; then
  echo "drain: skipped"; exit 0
fi
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
  echo "FAIL ws_drain.py: exited with status $rc"; failed=$((failed + 1))
fi
echo "drain: $passed passed, $failed failed"
[ "$failed" = 0 ]
