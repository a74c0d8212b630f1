#!/usr/bin/env bash
# Runs the Autobahn TestSuite (wstest -m fuzzingclient) against the `echo`
# example once per message backend and counts the results with
# scripts/autobahn-report.py.
#
# Counting: a `strict` run passes a case only if its behaviour is OK,
# NON-STRICT or INFORMATIONAL *and* its close behaviour is OK or
# INFORMATIONAL (a WRONG CODE fails). A `lenient` run (compatibility backends
# whose close codes this crate does not own) counts the behaviour only and
# lists close-code failures as known.
#
#   scripts/autobahn.sh          # CI: the runs of the `ci` profile below
#   scripts/autobahn-full.sh     # all of 12 and 13 with deflate (not in CI)
#
# Each run starts the example on a free 127.0.0.1 port and stops it after.
# Reports: target/autobahn/<run>/index.html (and index.json, failed.txt).
# Per run: a table of behaviour x close behaviour and the failing case ids.
# The last line is `autobahn: N passed, N failed` (one count per run).
#
# Env: CI=true           a missing wstest is a failure (otherwise exit 77)
#      WSTEST            wstest to use (default: scripts/install-autobahn.sh)
#      AUTOBAHN_PROFILE  ci (default) or full
#      AUTOBAHN_RUNS     only the runs with these labels (space-separated)
#      AUTOBAHN_BUILD    cargo profile for the example (default dev, the build
#                        `cargo test --all-features` already made)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/target/autobahn"
profile="${AUTOBAHN_PROFILE:-ci}"
build="${AUTOBAHN_BUILD:-dev}"
mkdir -p "$out"
log() { echo "# autobahn: $*"; }

# --- wstest ------------------------------------------------------------------
wstest="${WSTEST:-}"
if [ -z "$wstest" ]; then
  wstest="$(bash scripts/install-autobahn.sh | tail -n 1)" || wstest=""
fi
if [ -z "$wstest" ] || ! "$wstest" --autobahnversion >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL autobahn: wstest not available (scripts/install-autobahn.sh failed)"; exit 1
  fi
  echo "skip autobahn: wstest not available; run scripts/install-autobahn.sh"; exit 77
fi

# --- the runs: label, counting, echo's environment, cases ----------------------
# Section 9 sends messages up to 16 MiB: the example's limit is raised for it.
big="WS_MAX_MESSAGE=$((32 << 20))"
case "$profile" in
  ci)
    runs=(
      "tungstenite|strict|WS_BACKEND=tungstenite $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.*"
      "yawc-deflate|lenient|WS_BACKEND=yawc WS_DEFLATE=1 $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.* 12.1.* 13.1.*"
    ) ;;
  full)
    runs=("yawc-deflate-full|lenient|WS_BACKEND=yawc WS_DEFLATE=1 $big|12.* 13.*") ;;
  *) echo "FAIL autobahn: unknown AUTOBAHN_PROFILE=$profile (ci or full)"; exit 1 ;;
esac

log "cargo build --profile $build --example echo --all-features"
cargo build -q --profile "$build" --example echo --all-features || { echo "FAIL autobahn: build"; exit 1; }
bin="target/$([ "$build" = dev ] && echo debug || echo "$build")/examples/echo"

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
  fi
}
trap stop_server EXIT

passed=0 failed=0
for run in "${runs[@]}"; do
  IFS='|' read -r label mode envs cases <<<"$run"
  if [ -n "${AUTOBAHN_RUNS:-}" ] && [[ " $AUTOBAHN_RUNS " != *" $label "* ]]; then continue; fi
  dir="$out/$label"; rm -rf "$dir"; mkdir -p "$dir"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # shellcheck disable=SC2086
  env ADDR="127.0.0.1:$port" RUST_LOG="${RUST_LOG:-warn}" $envs "$bin" >"$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL autobahn:$label: echo did not start; $dir/server.log:"; tail -n 5 "$dir/server.log"
    failed=$((failed + 1)); server_pid=""; continue
  fi
  python3 - "$dir" "$port" "$label" $cases <<'EOF'
import json, sys
outdir, port, label, cases = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
json.dump({"outdir": outdir, "servers": [{"agent": label, "url": f"ws://127.0.0.1:{port}/ws"}],
           "cases": cases, "exclude-cases": [], "exclude-agent-cases": {}},
          open(f"{outdir}/fuzzingclient.json", "w"), indent=2)
EOF
  log "$label ($mode): $envs; cases $cases"
  start=$SECONDS
  (cd "$dir" && timeout 1200 "$wstest" -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1)
  rc=$?
  stop_server
  if python3 scripts/autobahn-report.py "$dir" "$label" "$mode" "$((SECONDS - start))" "$rc"
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  log "report: $dir/index.html"
done

echo "autobahn: $passed passed, $failed failed"
[ "$failed" = 0 ]
