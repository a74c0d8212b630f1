#!/usr/bin/env bash
# curl against the `h2c` example: `--http2` sends `Upgrade: h2c`, so
# `%{http_version}` must print 2 and the body must be the bytes HTTP/1.1 and
# prior knowledge get.
# Usage: ADDR=127.0.0.1:3000 bash tests/interop/h2c_curl.sh
# Prints `ok <check>` / `FAIL <check>: reason`; exits 1 on a failure, 77 when
# curl is missing outside CI.
set -uo pipefail
ADDR="${ADDR:-127.0.0.1:3000}"
NAME=h2c_curl.sh
HELLO=$'hello from tower-upgrade\n'
failed=0

if ! command -v curl >/dev/null; then
  [ "${CI:-}" = true ] && { echo "FAIL $NAME: curl is not installed"; exit 1; }
  echo "skip $NAME: curl is not installed"; exit 77
fi
if ! curl --version | grep -qw HTTP2; then
  echo "FAIL $NAME: this curl has no HTTP/2 ($(curl --version | head -1))"; exit 1
fi

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# check NAME WANT_VERSION WANT_BODY_FILE CURL_ARGS...
check() {
  local name="$1" want_version="$2" want="$3"; shift 3
  local version
  if ! version="$(curl -sS --max-time 20 -o "$tmp/body" -w '%{http_version}' "$@" 2>"$tmp/err")"; then
    echo "FAIL $NAME: $name: curl failed: $(tr '\n' ' ' <"$tmp/err")"; failed=1; return
  fi
  if [ "$version" != "$want_version" ]; then
    echo "FAIL $NAME: $name: http_version $version, want $want_version"; failed=1; return
  fi
  if ! cmp -s "$tmp/body" "$want"; then
    echo "FAIL $NAME: $name: body differs ($(wc -c <"$tmp/body") bytes, want $(wc -c <"$want"))"; failed=1; return
  fi
  echo "ok $NAME: $name"
}

printf '%s' "$HELLO" >"$tmp/hello"
head -c 50000 /dev/urandom | base64 -w 76 >"$tmp/post"   # ~67 KB: over the h2c bound
head -c 30000 /dev/urandom >"$tmp/post_small"

check "GET / over HTTP/1.1" 1.1 "$tmp/hello" --http1.1 "http://$ADDR/"
check "GET / with Upgrade: h2c" 2 "$tmp/hello" --http2 "http://$ADDR/"
check "GET / with prior knowledge" 2 "$tmp/hello" --http2-prior-knowledge "http://$ADDR/"
check "POST /echo with Upgrade: h2c (body on stream 1)" 2 "$tmp/post_small" --http2 --data-binary "@$tmp/post_small" "http://$ADDR/echo"
check "POST /echo over the body bound stays on HTTP/1.1" 1.1 "$tmp/post" --http2 --data-binary "@$tmp/post" "http://$ADDR/echo"
check "POST /echo with prior knowledge" 2 "$tmp/post" --http2-prior-knowledge --data-binary "@$tmp/post" "http://$ADDR/echo"

exit "$failed"
