#!/usr/bin/env bash
# Drain under load, h2c part (issue 10): the `h2c` example with DRAIN_CONNS
# h2c connections, each with a POST half sent, gets SIGINT; every request
# in flight must complete after GOAWAY and the server must exit
# (tests/interop/h2c_drain.py). The WebSocket part is scripts/drain*.sh of
# the socket helper.
#
#   bash scripts/drain-h2c.sh                  CI size: 50 connections, debug build
#   DRAIN_CONNS=200 BUILD=release bash scripts/drain-h2c.sh   the issue's size
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
profile="${BUILD:-debug}"
ulimit -n "$(ulimit -Hn)"
if [ "$profile" = release ]; then
  cargo build --release --example h2c --features h2c,serve || exit 1
else
  cargo build --examples --all-features || exit 1  # as interop.sh: already built in CI
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p target/drain
ADDR="127.0.0.1:$port" RUST_LOG=warn "target/$profile/examples/h2c" >target/drain/h2c.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
ADDR="127.0.0.1:$port" SERVER_PID=$pid timeout 300 python3 tests/interop/h2c_drain.py
status=$?
wait "$pid"
echo "# h2c exited with status $? (log target/drain/h2c.log)"
exit "$status"
