#!/usr/bin/env bash
# Server CPU per echoed message, user time apart, of two load_test bench
# binaries (or two rows of one), run alternately: an A/B for a change to the
# message layer, where the bench's ratios move less than the machine does.
#
#   cargo bench --bench load_test --no-run   # before the change; copy the
#   cp target/release/deps/load_test-HASH /tmp/a   # binary it prints, then
#   ...                                      # again after it, to /tmp/b
#   bash scripts/measure/echo_cpu_ab.sh /tmp/a /tmp/b 10 1024 3
#   bash scripts/measure/echo_cpu_ab.sh /tmp/b /tmp/b 10 1024 3 tower-upgrade fastwebsockets
#
# Arguments: A_BIN B_BIN CONNECTIONS SIZE ROUNDS [B_ROW] [A_ROW] (rows
# default to tower-upgrade). Each run serves the row alone (`--server`), drives
# it with `load_test CONNECTIONS 127.0.0.1 PORT 0 0 SIZE` for 13 s, and
# divides the server's utime+stime (and utime alone) from /proc/PID/stat by
# the messages load_test counted (connection setup included: small next to
# a million messages).
set -euo pipefail
A=$1; B=$2; N=$3; SIZE=$4; ROUNDS=$5; B_ROW=${6:-tower-upgrade}; A_ROW=${7:-$B_ROW}
root="$(cd "$(dirname "$0")/../.." && pwd)"
LT=${LOAD_TEST:-$root/../shared/tools/load_test}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
run() {
  local bin=$1 row=$2 out sp port t u msgs
  out=$(mktemp)
  "$bin" --server "$row" > "$out" 2>&1 & sp=$!
  sleep 0.5
  port=$(head -1 "$out" | grep -o '[0-9]*$')
  timeout 13 stdbuf -oL "$LT" "$N" 127.0.0.1 "$port" 0 0 "$SIZE" > "$out.lt" 2>&1 || true
  t=$(awk '{print $14+$15}' "/proc/$sp/stat"); u=$(awk '{print $14}' "/proc/$sp/stat")
  kill "$sp"; wait "$sp" 2>/dev/null || true
  msgs=$(grep -o 'Msg/sec: [0-9.]*' "$out.lt" | awk '{s+=$2} END {print s*4}')
  rm -f "$out" "$out.lt"
  awk -v t="$t" -v u="$u" -v m="$msgs" -v k="$TICK_US" \
    'BEGIN {printf "%.3f µs/msg, user %.3f (%d msg)\n", t*k/m, u*k/m, m}'
}
for _ in $(seq "$ROUNDS"); do
  echo "A $A_ROW: $(run "$A" "$A_ROW")"
  echo "B $B_ROW: $(run "$B" "$B_ROW")"
done
