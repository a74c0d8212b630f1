#!/usr/bin/env bash
# Server memory per WebSocket-over-HTTP/2 stream with large request heads
# (issue 17): runs scripts/measure/h2_heads.py for each variant (small,
# distinct, indexed) against a fresh `echo` (release build unless
# BUILD=debug) on a free loopback port, with each WebSocket backend:
#   messages    the crate's message layer: `into_websocket` frees the
#               request head as the socket starts
#   tungstenite `into_tungstenite` wraps the `Upgraded`, which keeps its
#               bounded copy of the head (src/head.rs) for the stream's life
# A measurement, run by hand.
#
#   bash scripts/measure/h2_heads.sh                 everything, 190 streams
#   STREAMS=100 VARIANTS=distinct BACKENDS=tungstenite bash scripts/measure/h2_heads.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
profile="${BUILD:-release}"
if [ "$profile" = release ]; then
  cargo build --release --features h2c,serve --example echo >/dev/null 2>&1
else
  cargo build --features h2c,serve --example echo >/dev/null 2>&1
fi
server_pid=""
stop() { [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=""; }; }
trap stop EXIT
echo "# echo ($profile build), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in ${BACKENDS:-messages tungstenite}; do
for variant in ${VARIANTS:-small distinct indexed}; do
  echo "# WS_BACKEND=$backend, variant $variant"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  WS_BACKEND="$backend" ADDR="127.0.0.1:$port" RUST_LOG=warn "target/$profile/examples/echo" >"target/h2_heads-$variant.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  ADDR="127.0.0.1:$port" SERVER_PID="$server_pid" \
    python3 scripts/measure/h2_heads.py --variant "$variant" --streams "${STREAMS:-190}" --label "$backend"
  stop
done
done
