#!/usr/bin/env bash
# nghttp2's clients against the `h2c` example:
#   nghttp -u          the h2c upgrade with GET (stream 1 answers it);
#   nghttp -u -d FILE  the upgrade rides on `OPTIONS *`, the POST follows on a new stream;
#   h2load             prior knowledge, many streams on a few connections.
# nghttp exits 0 even when the upgrade fails, so its output is checked for
# `HTTP Upgrade success`.
# Usage: ADDR=127.0.0.1:3000 bash tests/interop/h2c_nghttp.sh
# Prints `ok <check>` / `FAIL <check>: reason`; exits 1 on a failure, 77 when
# the tools are missing outside CI.
set -uo pipefail
ADDR="${ADDR:-127.0.0.1:3000}"
NAME=h2c_nghttp.sh
HELLO='hello from tower-upgrade'
failed=0

for tool in nghttp h2load; do
  if ! command -v "$tool" >/dev/null; then
    [ "${CI:-}" = true ] && { echo "FAIL $NAME: $tool is not installed (apt nghttp2-client)"; exit 1; }
    echo "skip $NAME: $tool is not installed (apt nghttp2-client)"; exit 77
  fi
done

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL $NAME: $1: $2"; failed=1; }

# GET with the upgrade.
if ! timeout 20 nghttp -uv "http://$ADDR/" >"$tmp/get" 2>&1; then
  fail "nghttp -u GET" "nghttp exited non-zero: $(tail -3 "$tmp/get" | tr '\n' ' ')"
elif ! grep -q 'HTTP Upgrade success' "$tmp/get"; then
  fail "nghttp -u GET" "no 'HTTP Upgrade success' in the output"
elif ! grep -q "^$HELLO\$" "$tmp/get"; then
  fail "nghttp -u GET" "the body is not there"
else
  echo "ok $NAME: nghttp -u GET / (stream 1)"
fi

# POST with the upgrade: nghttp sends `OPTIONS *` to upgrade, then the POST.
printf 'posted through OPTIONS * %s' "$(date +%s%N)" >"$tmp/data"
if ! timeout 20 nghttp -uv -d "$tmp/data" "http://$ADDR/echo" >"$tmp/post" 2>&1; then
  fail "nghttp -u -d" "nghttp exited non-zero: $(tail -3 "$tmp/post" | tr '\n' ' ')"
elif ! grep -q 'OPTIONS \* HTTP/1.1' "$tmp/post"; then
  fail "nghttp -u -d" "nghttp did not upgrade with OPTIONS *"
elif ! grep -q 'HTTP Upgrade success' "$tmp/post"; then
  fail "nghttp -u -d" "no 'HTTP Upgrade success' in the output"
elif ! grep -qF "$(cat "$tmp/data")" "$tmp/post"; then
  fail "nghttp -u -d" "the echoed body is not there"
else
  echo "ok $NAME: nghttp -u -d FILE POST /echo (OPTIONS * upgrade)"
fi

# Prior knowledge under load: 2000 requests, 4 connections, 10 streams each.
if ! timeout 60 h2load -n 2000 -c 4 -m 10 "http://$ADDR/" >"$tmp/load" 2>&1; then
  fail "h2load" "h2load exited non-zero: $(tail -3 "$tmp/load" | tr '\n' ' ')"
elif ! grep -q 'requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed' "$tmp/load"; then
  fail "h2load" "$(grep '^requests:' "$tmp/load")"
elif ! grep -q 'status codes: 2000 2xx' "$tmp/load"; then
  fail "h2load" "$(grep '^status codes:' "$tmp/load")"
else
  echo "ok $NAME: h2load prior knowledge, 2000 requests ($(grep -o 'finished in.*' "$tmp/load"))"
fi

exit "$failed"
