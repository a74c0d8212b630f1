#!/usr/bin/env bash
# Issue 19: the `gateway` example against third-party peers, all on
# 127.0.0.1 (free ports):
#
#   python    the Python `websockets` upstream of gateway_upstream.py behind
#             the gateway; tests/interop/gateway.py as clients (Python
#             websockets, h2 extended CONNECT, the upstream's 403 + body),
#             then the upstream down (502) and silent (504).
#   echo      the `echo` example behind the gateway (trusting it for
#             X-Forwarded-*, as behind any proxy): the echo example's own
#             clients through the gateway (Python websockets, Node ws, h2).
#   autobahn  the Autobahn TestSuite through the gateway to `echo`: strict,
#             plain and permessage-deflate (scripts/autobahn.sh, GATEWAY=1).
#   drain     SIGTERM to the gateway under 200 echoing clients
#             (scripts/drain.sh GATEWAY=1): the gateway sends each upstream
#             a Close 1001 at a client frame boundary, and the upstream's
#             last echoes and its Close 1001 reach the clients.
#   chat      the `chat` example behind the gateway: headless Chromium on
#             its page through the gateway (tests/interop/chat_browser.mjs).
#
# Usage: tests/interop/gateway.sh [python] [echo] [autobahn] [drain] [chat]
#        (default: python echo)
# Env: CI=true  a missing peer is a failure, not a skip.
# Prints `ok/FAIL/skip` lines, then `gateway: N passed, N failed`; exits 1
# if anything failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1
out="$root/target/interop/gateway"
mkdir -p "$out"
passed=0 failed=0 skipped=0 pids=()

fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=(); }
trap stop_all EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_port PORT NAME: 30 s at most.
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$2" "not listening on 127.0.0.1:$1 after 30 s; log tail:"
  tail -n 20 "$out/$2.log" | sed 's/^/#   /'
  return 1
}

# start NAME CMD...: in the background, logging to $out/NAME.log; sets $pid.
start() {
  local name="$1"; shift
  "$@" >"$out/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
}

# run_client LABEL ADDR CMD...
run_client() {
  local label="$1" addr="$2" file="$out/$1.out" rc ok fails skips; shift 2
  ADDR="$addr" timeout "${CLIENT_TIMEOUT:-180}" "$@" 2>&1 | tee "$file"
  rc=${PIPESTATUS[0]}
  ok=$(grep -c '^ok ' "$file"); fails=$(grep -c '^FAIL ' "$file"); skips=$(grep -c '^skip ' "$file")
  passed=$((passed + ok)); failed=$((failed + fails)); skipped=$((skipped + skips))
  if [ "$rc" = 77 ] && [ "$fails" = 0 ]; then
    [ "$skips" -gt 0 ] || { echo "skip $label: exited 77"; skipped=$((skipped + 1)); }
  elif [ "$rc" != 0 ] && [ "$fails" = 0 ]; then
    fail "$label" "exited with status $rc"
  elif [ "$rc" = 0 ] && [ "$ok" = 0 ]; then
    fail "$label" "exited 0 but reported no check"
  fi
}

# gateway NAME UPSTREAM [ENV=...]: starts the gateway example; sets $gw.
gateway() {
  local name="$1" upstream="$2" port; shift 2
  port="$(free_port)"; gw="127.0.0.1:$port"
  start "$name" env ADDR="$gw" UPSTREAM="$upstream" RUST_LOG="${RUST_LOG:-info}" "$@" target/debug/examples/gateway
  wait_port "$port" "$name"
}

echo "# cargo build --examples --all-features"
cargo build --examples --all-features || { fail build "cargo build --examples --all-features"; exit 1; }

for mode in ${@:-python echo}; do
  case "$mode" in
    python)
      if ! python3 -c 'import websockets, h2' 2>/dev/null; then
        if [ "${CI:-}" = true ]; then fail python "Python websockets/h2 missing (scripts/install-peers.sh)"; else echo "skip python: Python websockets/h2 missing"; skipped=$((skipped + 1)); fi
        continue
      fi
      up_port="$(free_port)"
      start upstream-python python3 tests/interop/gateway_upstream.py "$up_port"
      wait_port "$up_port" upstream-python || continue
      gateway gateway-python "127.0.0.1:$up_port" && run_client gateway.py "$gw" python3 tests/interop/gateway.py
      stop_all
      # Nothing listens on a port just freed: 502.
      gateway gateway-down "127.0.0.1:$(free_port)" && MODE=down run_client gateway_down "$gw" python3 tests/interop/gateway.py
      stop_all
      silent_port="$(free_port)"
      start upstream-silent python3 tests/interop/gateway_upstream.py "$silent_port" --silent
      wait_port "$silent_port" upstream-silent || continue
      gateway gateway-silent "127.0.0.1:$silent_port" UPSTREAM_ANSWER_TIMEOUT_MS=1000 &&
        MODE=silent ANSWER_TIMEOUT_S=1 run_client gateway_silent "$gw" python3 tests/interop/gateway.py
      stop_all ;;
    echo)
      echo_port="$(free_port)"
      start echo-upstream env ADDR="127.0.0.1:$echo_port" TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded target/debug/examples/echo
      wait_port "$echo_port" echo-upstream || continue
      if gateway gateway-echo "127.0.0.1:$echo_port"; then
        run_client ws_echo.py "$gw" python3 tests/interop/ws_echo.py
        run_client ws_echo.mjs "$gw" node tests/interop/ws_echo.mjs
        run_client ws_h2.py "$gw" python3 tests/interop/ws_h2.py
      fi
      stop_all ;;
    chat)
      chat_port="$(free_port)"
      # The gateway sends the upstream's own Host: the page's origin comes
      # from its X-Forwarded-Host, as behind any proxy.
      start chat-upstream env ADDR="127.0.0.1:$chat_port" TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded target/debug/examples/chat
      wait_port "$chat_port" chat-upstream || continue
      if gateway gateway-chat "127.0.0.1:$chat_port"; then
        INTEROP_OUT="$out" run_client chat_browser.mjs "$gw" node tests/interop/chat_browser.mjs
      fi
      stop_all ;;
    autobahn)
      run_client autobahn "" env GATEWAY=1 bash scripts/autobahn.sh ;;
    drain)
      run_client drain "" env GATEWAY=1 bash scripts/drain.sh ;;
    *) fail "$mode" "unknown mode" ;;
  esac
done

echo "gateway: $passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
[ "$failed" = 0 ]
