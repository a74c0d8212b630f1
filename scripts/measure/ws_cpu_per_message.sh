#!/usr/bin/env bash
# Server CPU per message of one load_test bench row (issue 7's profile):
# starts the bench's server, drives it with uWebSockets' load_test, and
# prints the Msg/sec samples, the server's utime+stime and µs per message.
#
#   cargo bench --bench load_test --no-run
#   bash scripts/measure/ws_cpu_per_message.sh tower-upgrade 10 1024 9
#   bash scripts/measure/ws_cpu_per_message.sh fastwebsockets 10 1024 9
#
# Rows served by the bench binary itself (not `ratchet`, which runs from
# benches/ratchet_peer). For a profile, run `perf record -F 2000 -g -p PID` or `strace -c -f -p PID`
# against the same server while load_test runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${BIN:-$(ls -t "$root"/target/release/deps/load_test-* | grep -v '\.d$' | head -n 1)}"
client="${LOAD_TEST:-$root/../shared/tools/load_test}"
server="$1" connections="${2:-10}" size="${3:-1024}" seconds="${4:-9}"
ports="$(mktemp)"
"$bin" --server "$server" >"$ports" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$ports"' EXIT
for _ in $(seq 50); do [ -s "$ports" ] && break; sleep 0.1; done
port="$(head -n 1 "$ports")"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before="$(ticks)"
out="$(timeout "$seconds" stdbuf -oL "$client" "$connections" 127.0.0.1 "$port" 0 0 "$size" 2>/dev/null || true)"
after="$(ticks)"
rates="$(echo "$out" | grep Msg/sec | awk '{print $2}')"
# load_test prints a sample every 4 s: messages = sum of rates x 4.
messages="$(echo "$rates" | awk '{s += $1} END {print s * 4}')"
hz="$(getconf CLK_TCK)"
awk -v t=$((after - before)) -v hz="$hz" -v m="$messages" -v s="$server" -v r="$(echo $rates)" \
  'BEGIN { printf "%s: Msg/sec [%s], server CPU %.2f s, %.2f µs/message\n", s, r, t / hz, t / hz * 1e6 / m }'
