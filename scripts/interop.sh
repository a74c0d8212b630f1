#!/usr/bin/env bash
# Builds the examples, starts each on a free loopback port and runs the
# third-party interop clients of tests/interop/ against it.
# Prerequisite: scripts/install-peers.sh. (Autobahn has its own runner: scripts/autobahn.sh.)
#
# Clients get ADDR, SERVER_PID (for checks that read the server's RSS) and
# SERVER_LOG (the server's log file).
# Every check prints `ok <name>`, `FAIL <name>: reason` or `skip <name>: reason`;
# the last line is `interop: N passed, N failed` (`, N skipped` if any were).
# Exits 1 if anything failed.
#
# Env: CI=true        a missing peer tool is a failure, not a skip
#      EXAMPLES="echo chat"   run only these examples (`echo-deflate` is `echo`
#                             with WS_DEFLATE=1: permessage-deflate, messages backend;
#                             `echo-keepalive` is `echo` with short keepalive intervals;
#                             `echo-push` is `echo` with the push routes of issue 16)
#      KEEPALIVE_PING_MS=500 KEEPALIVE_PONG_MS=500   the intervals of `echo-keepalive`
#      INTEROP_SERVER="cmd"   start `cmd NAME` instead of the built example (no cargo build)
#      INTEROP_LABEL=name     the word before the closing counts (default `interop`)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
export INTEROP_OUT="$root/target/interop"
mkdir -p "$INTEROP_OUT"
passed=0 failed=0 skipped=0 server_pid="" addr=""
keepalive_ping="${KEEPALIVE_PING_MS:-500}" keepalive_pong="${KEEPALIVE_PONG_MS:-500}"

fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
  fi
}
trap stop_server EXIT

# start_server NAME: runs the example on a free port, sets $addr; waits <= 30 s.
start_server() {
  local name="$1" port cmd bin="$1" envs=()
  case "$name" in
    echo-deflate) bin=echo envs=(WS_DEFLATE=1) ;;
    echo-keepalive) bin=echo envs=(WS_PING_MS="$keepalive_ping" WS_PONG_TIMEOUT_MS="$keepalive_pong") ;;
    # Per-client limits (issue 8); client_limits.py knows these numbers.
    echo-limits) bin=echo envs=(MAX_CONNECTIONS_PER_CLIENT=2 HANDSHAKES_PER_SECOND_PER_CLIENT=2 HANDSHAKE_BURST=4) ;;
    echo-inprogress) bin=echo envs=(MAX_HANDSHAKES_IN_PROGRESS=256 MAX_HANDSHAKES_IN_PROGRESS_PER_CLIENT=128) ;;
    # Behind nginx on 127.0.0.1 (tests/interop/nginx.sh): trusted or not.
    echo-nginx-trusted) bin=echo envs=(TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded MAX_CONNECTIONS_PER_CLIENT=2) ;;
    echo-nginx-untrusted) bin=echo envs=(TRUSTED_PROXIES=) ;;
    # Issue 8: HAProxy in front (PROXY protocol v2); the handler logs peers.
    h2c-proxy) bin=h2c envs=(PROXY_PROTOCOL=1 RUST_LOG=info,h2c=debug) ;;
    # Issue 17: echo behind HAProxy with PROXY protocol; no proxy trusted,
    # so no forwarding header is read.
    echo-haproxy) bin=echo envs=(PROXY_PROTOCOL=1 CLIENT_SOURCE=peer) ;;
    # Issue 8: timeout attacks, with deadlines short enough for CI.
    h2c-timeouts) bin=h2c envs=(HEADER_READ_TIMEOUT=2 HTTP2_IDLE_TIMEOUT=2) ;;
    echo-timeouts) bin=echo envs=(HEADER_READ_TIMEOUT=2) ;;
    # Issue 16: the push routes (split halves apart), short keepalive and
    # write timeout, a 2 s HTTP/2 idle timeout.
    echo-push) bin=echo envs=(WS_PUSH_ROUTES=1 WS_PING_MS=500 WS_PONG_TIMEOUT_MS=500 WS_WRITE_TIMEOUT_MS=500 HTTP2_IDLE_TIMEOUT=2) ;;
  esac
  if [ -n "${INTEROP_SERVER:-}" ]; then
    read -r -a cmd <<<"$INTEROP_SERVER"; cmd+=("$bin")
  else
    cmd=("target/debug/examples/$bin")
    [ -x "${cmd[0]}" ] || { fail "$name" "example binary ${cmd[0]} was not built"; return 1; }
  fi
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  addr="127.0.0.1:$port"
  env ADDR="$addr" RUST_LOG="${RUST_LOG:-info}" "${envs[@]}" "${cmd[@]}" >"$INTEROP_OUT/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "# $name: listening on $addr (pid $server_pid, log $INTEROP_OUT/$name.log)"
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      wait "$server_pid"; fail "$name" "server exited ($?) before listening on $addr; log:"
      tail -n 20 "$INTEROP_OUT/$name.log" | sed 's/^/#   /'
      server_pid=""; return 1
    fi
    sleep 0.1
  done
  fail "$name" "server not listening on $addr after 30 s"; stop_server; return 1
}

# run_client LABEL CMD...: runs one client ($CLIENT_TIMEOUT s at most, default 120) and tallies its lines.
run_client() {
  local label="$1" out="$INTEROP_OUT/$1.out" rc ok fails skips limit="${CLIENT_TIMEOUT:-120}"; shift
  ADDR="$addr" SERVER_PID="$server_pid" SERVER_LOG="$INTEROP_OUT/$example.log" timeout "$limit" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  ok=$(grep -c '^ok ' "$out"); fails=$(grep -c '^FAIL ' "$out"); skips=$(grep -c '^skip ' "$out")
  passed=$((passed + ok)); failed=$((failed + fails)); skipped=$((skipped + skips))
  if [ "$rc" = 77 ] && [ "$fails" = 0 ]; then
    [ "$skips" -gt 0 ] || { echo "skip $label: exited 77"; skipped=$((skipped + 1)); }
  elif [ "$rc" != 0 ] && [ "$fails" = 0 ]; then
    fail "$label" "exited with status $rc$([ "$rc" = 124 ] && echo " (timed out after $limit s)")"
  elif [ "$rc" = 0 ] && [ "$ok" = 0 ]; then
    fail "$label" "exited 0 but reported no check"
  fi
}

if [ -z "${INTEROP_SERVER:-}" ]; then
  echo "# cargo build --examples --all-features"
  cargo build --examples --all-features || fail build "cargo build --examples --all-features"
fi

for example in ${EXAMPLES:-echo echo-deflate echo-keepalive echo-limits echo-inprogress echo-nginx-trusted echo-nginx-untrusted custom_protocol chat h2c h2c-proxy echo-haproxy h2c-timeouts echo-timeouts echo-push}; do
  start_server "$example" || continue
  case "$example" in
    echo)
      run_client ws_echo.py python3 tests/interop/ws_echo.py
      run_client ws_echo.mjs node tests/interop/ws_echo.mjs
      # The same socket over HTTP/2 extended CONNECT (RFC 8441), Python h2.
      run_client ws_h2.py python3 tests/interop/ws_h2.py
      # Slow reader and Ping flood, server RSS from /proc (CI sizes; see the script).
      run_client ws_attacks.py python3 tests/interop/ws_attacks.py
      # Over-long negotiation headers (431) and a stalled body (408), issue 17.
      run_client handshake_fields python3 tests/interop/handshake_attacks.py oversized_fields slow_body_408
      # curl scrapes /metrics around a run of clients (issue 11).
      run_client metrics_scrape.py python3 tests/interop/metrics_scrape.py ;;
    echo-deflate)
      # Python websockets and Node ws offer permessage-deflate by default.
      EXPECT_DEFLATE=1 run_client ws_echo_deflate.py python3 tests/interop/ws_echo.py
      EXPECT_DEFLATE=1 run_client ws_echo_deflate.mjs node tests/interop/ws_echo.mjs
      EXPECT_DEFLATE=1 run_client ws_h2_deflate.py python3 tests/interop/ws_h2.py
      # Decompression bomb (1 GiB of zeros), slow reader and ping flood with
      # compression agreed.
      EXPECT_DEFLATE=1 run_client ws_attacks_deflate.py python3 tests/interop/ws_attacks.py
      run_client deflate_browser.mjs node tests/interop/deflate_browser.mjs ;;
    echo-keepalive)
      # A silent peer (Python websockets with its pings off, a raw socket) is
      # closed within ping interval + pong timeout; a peer that answers stays
      # open through 5 intervals; Chromium through 3.
      WS_PING_MS="$keepalive_ping" WS_PONG_TIMEOUT_MS="$keepalive_pong" \
        run_client ws_keepalive.py python3 tests/interop/ws_keepalive.py
      WS_PING_MS="$keepalive_ping" run_client ws_keepalive_browser.mjs node tests/interop/ws_keepalive_browser.mjs ;;
    # Loopback aliases 127.0.0.2-4 as distinct clients: 429 + Retry-After
    # for one while another connects; a burst over the rate, then refill.
    echo-limits) run_client client_limits.py python3 tests/interop/client_limits.py ;;
    # 2,000 upgrades trickling a 64 KiB body a byte a second, from 127.0.0.2,
    # for 10 s: refused past the in-progress limits (128 per client, 256 in
    # all); a normal client still upgrades; server RSS under 64 MiB.
    echo-inprogress) RSS_LIMIT_MIB=64 run_client handshake_attacks.py python3 tests/interop/handshake_attacks.py slow_bodies ;;
    echo-nginx-trusted | echo-nginx-untrusted)
      SERVER_LOG="$INTEROP_OUT/$example.log" run_client "nginx-${example#echo-nginx-}" bash tests/interop/nginx.sh "${example#echo-nginx-}" ;;
    custom_protocol) run_client linecount.py python3 tests/interop/linecount.py ;;
    chat)
      # First, on the fresh server: every documented series at 0 (issue 17).
      EXPECT_FRESH=1 run_client metrics_scrape_fresh.py python3 tests/interop/metrics_scrape.py
      run_client chat_browser.mjs node tests/interop/chat_browser.mjs
      # Room and server counts live over the page's WebSocket; /stats screenshot.
      run_client chat_live.mjs node tests/interop/chat_live.mjs
      run_client chat_log_injection.py python3 tests/interop/chat_log_injection.py
      run_client metrics_scrape_chat.py python3 tests/interop/metrics_scrape.py ;;
    h2c)
      run_client h2c_curl.sh bash tests/interop/h2c_curl.sh
      run_client h2c_nghttp.sh bash tests/interop/h2c_nghttp.sh
      run_client h2c_client.py python3 tests/interop/h2c_client.py
      # 3,000 h2c upgrades one byte short of a 65,534-byte body, held 5 s:
      # bounded by max_handshakes_in_progress (1,024; the rest get 503).
      # Debug build, measured: peak 180 MiB, 160 MiB 3 s after (glibc keeps
      # freed arenas; docs/deployment.md). Before the limit: 576 / 418 MiB.
      BURST_HOLD_S=5 RSS_LIMIT_MIB=320 AFTER_LIMIT_MIB=320 CLIENT_TIMEOUT=120 \
        run_client h2c_burst python3 tests/interop/handshake_attacks.py h2c_burst ;;
    h2c-proxy) SERVER_LOG="$INTEROP_OUT/$example.log" run_client haproxy.sh bash tests/interop/haproxy.sh h2c ;;
    echo-haproxy) SERVER_LOG="$INTEROP_OUT/$example.log" run_client haproxy_ws bash tests/interop/haproxy.sh ws ;;
    h2c-timeouts) HEADER_READ_TIMEOUT=2 HTTP2_IDLE_TIMEOUT=2 run_client timeouts_h2c.py python3 tests/interop/timeouts.py h2c ;;
    echo-timeouts) HEADER_READ_TIMEOUT=2 run_client timeouts_echo.py python3 tests/interop/timeouts.py echo ;;
    echo-push)
      # A push-only handler keeps a pinging client through 10 intervals; a
      # client that never reads a split echo is closed by the write
      # timeout; a TCP drop without Close is logged as 1006.
      WS_PING_MS=500 WS_WRITE_TIMEOUT_MS=500 run_client ws_push.py python3 tests/interop/ws_push.py
      # WebSocket over HTTP/2 (Python h2), a message every 0.5 s through
      # 3 x the idle timeout.
      HTTP2_IDLE_TIMEOUT=2 run_client ws_h2_idle.py python3 tests/interop/ws_h2.py ;;
    *) fail "$example" "no interop client for this example" ;;
  esac
  if ! kill -0 "$server_pid" 2>/dev/null; then
    fail "$example" "server died during the run; log tail:"; tail -n 20 "$INTEROP_OUT/$example.log" | sed 's/^/#   /'
  fi
  stop_server
done

echo "${INTEROP_LABEL:-interop}: $passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
[ "$failed" = 0 ]
