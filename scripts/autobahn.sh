#!/usr/bin/env bash
# Runs the Autobahn TestSuite (wstest -m fuzzingclient) against the `echo`
# example once per message backend, and fails on any case whose behaviour is
# not OK, NON-STRICT or INFORMATIONAL, or whose close behaviour is not OK or
# INFORMATIONAL (a WRONG CODE fails).
#
#   scripts/autobahn.sh          # CI: cases 1-10 for the messages backend
#                                # (plain, and with permessage-deflate plus
#                                # 12.1 and 13.1) and for tungstenite
#   scripts/autobahn-full.sh     # all of 12 and 13, messages + deflate
#
# Each run starts the example on a free 127.0.0.1 port and stops it after.
# Reports: target/autobahn/<run>/index.html (and index.json).
# The last line is `autobahn: N passed, N failed` (one count per run).
#
# Env: CI=true           a missing wstest is a failure (otherwise exit 77)
#      WSTEST            wstest to use (default: scripts/install-autobahn.sh)
#      AUTOBAHN_PROFILE  ci (default) or full
#      AUTOBAHN_BUILD    cargo profile for the example (default dev, the build
#                        `cargo test --all-features` already made)
#      GATEWAY=1         the same cases through the `gateway` example (issue
#                        19) in front of `echo`: the messages backend, plain
#                        and with permessage-deflate (agreed between wstest
#                        and echo; the gateway relays bytes)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/target/autobahn"
profile="${AUTOBAHN_PROFILE:-ci}"
[ "${GATEWAY:-}" = 1 ] && profile=gateway
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

# --- the runs: label, echo's environment, cases --------------------------------
# Section 9 sends messages up to 16 MiB: the example's limit is raised for it.
big="WS_MAX_MESSAGE=$((32 << 20))"
case "$profile" in
  ci)
    runs=(
      "messages|WS_BACKEND=messages $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.*"
      "messages-deflate|WS_BACKEND=messages WS_DEFLATE=1 $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.* 12.1.* 13.1.*"
      "tungstenite|WS_BACKEND=tungstenite $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.*"
    ) ;;
  full)
    runs=("messages-deflate-full|WS_BACKEND=messages WS_DEFLATE=1 $big|12.* 13.*") ;;
  gateway)
    runs=(
      "gateway-messages|WS_BACKEND=messages $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.*"
      "gateway-messages-deflate|WS_BACKEND=messages WS_DEFLATE=1 $big|1.* 2.* 3.* 4.* 5.* 6.* 7.* 8.* 9.* 10.* 12.1.* 13.1.*"
    ) ;;
  *) echo "FAIL autobahn: unknown AUTOBAHN_PROFILE=$profile (ci or full)"; exit 1 ;;
esac

log "cargo build --profile $build --example echo --all-features"
cargo build -q --profile "$build" --example echo --example gateway --all-features || { echo "FAIL autobahn: build"; exit 1; }
bin="target/$([ "$build" = dev ] && echo debug || echo "$build")/examples/echo"

server_pid="" gateway_pid=""
stop_server() {
  if [ -n "$gateway_pid" ]; then
    kill "$gateway_pid" 2>/dev/null; wait "$gateway_pid" 2>/dev/null; gateway_pid=""
  fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
  fi
}
trap stop_server EXIT

passed=0 failed=0
for run in "${runs[@]}"; do
  IFS='|' read -r label envs cases <<<"$run"
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
  if [ "$profile" = gateway ]; then
    # echo trusts the gateway's X-Forwarded-* (its Origin check uses the
    # public host); wstest talks to the gateway.
    upstream="$port"
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
    # shellcheck disable=SC2086
    env ADDR="127.0.0.1:$upstream" RUST_LOG="${RUST_LOG:-warn}" TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded $envs "$bin" >"$dir/server.log" 2>&1 &
    server_pid=$!
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    env ADDR="127.0.0.1:$port" UPSTREAM="127.0.0.1:$upstream" RUST_LOG="${RUST_LOG:-warn}" "$(dirname "$bin")/gateway" >"$dir/gateway.log" 2>&1 &
    gateway_pid=$!
    for _ in $(seq 300); do
      (exec 3<>"/dev/tcp/127.0.0.1/$upstream") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
  fi
  python3 - "$dir" "$port" "$label" $cases <<'EOF'
import json, sys
outdir, port, label, cases = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
json.dump({"outdir": outdir, "servers": [{"agent": label, "url": f"ws://127.0.0.1:{port}/ws"}],
           "cases": cases, "exclude-cases": [], "exclude-agent-cases": {}},
          open(f"{outdir}/fuzzingclient.json", "w"), indent=2)
EOF
  log "$label: $envs; cases $cases"
  start=$SECONDS
  (cd "$dir" && timeout 1200 "$wstest" -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1)
  rc=$?
  stop_server
  if python3 - "$dir" "$label" "$((SECONDS - start))" "$rc" <<'EOF'
import collections, json, sys
outdir, label, secs, rc = sys.argv[1:]
try:
    results = json.load(open(f"{outdir}/index.json"))[label]
except Exception as e:
    print(f"FAIL autobahn:{label}: no report (wstest exit {rc}: {e}); see {outdir}/wstest.log")
    sys.exit(1)
passing = {"OK", "NON-STRICT", "INFORMATIONAL"}
counts = collections.Counter(r["behavior"] for r in results.values())
# Strict: a WRONG CODE (behaviorClose) fails the case too.
closing = {"OK", "INFORMATIONAL"}
bad = sorted((c for c, r in results.items()
              if r["behavior"] not in passing or r["behaviorClose"] not in closing),
             key=lambda c: [int(x) for x in c.split(".")])
summary = ", ".join(f"{n} {b}" for b, n in sorted(counts.items()))
print(f"# autobahn:{label}: {len(results)} cases in {secs} s: {summary}")
if bad or not results:
    detail = "; ".join(f"{c} {results[c]['behavior']}/{results[c]['behaviorClose']}" for c in bad[:10])
    print(f"FAIL autobahn:{label}: {len(bad)} cases failed: {detail}{' ...' if len(bad) > 10 else ''}")
    sys.exit(1)
print(f"ok autobahn:{label}")
EOF
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  log "report: $dir/index.html"
done

echo "autobahn: $passed passed, $failed failed"
[ "$failed" = 0 ]
