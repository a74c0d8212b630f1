#!/usr/bin/env bash
# Apache httpd in front of the `echo` example (issue 17), the third proxy
# after nginx and HAProxy. Started here as the current user, in the
# foreground, from a config written under target/ (no system file is read
# or touched: /usr/sbin/apache2 -f, with its own ServerRoot, PidFile and
# ErrorLog), on a free loopback port. Configured as docs/deployment.md
# shows: `ProxyPass ... upgrade=websocket` (mod_proxy_http, 2.4.47+),
# ProxyPreserveHost off (the upstream's name in Host, like nginx.sh's
# `$proxy_host`), Apache's own X-Forwarded-For/-Host/-Server, plus
# `RequestHeader set X-Forwarded-Proto` and `RequestHeader unset Forwarded`
# (Apache sets neither by itself; see the doc for why both matter).
#
# A second upstream, a Python http.server that answers with the request
# headers it got, sits behind `/headers` so tests/interop/apache_ws.py can
# check which forwarding headers Apache sets, appends to and passes.
#
# Usage: ADDR=<echo's address> SERVER_LOG=<echo's log> bash scripts/apache.sh trusted|untrusted
#   trusted:   echo runs with TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded (Apache's address)
#              and WS_DEFLATE=1 (tests/interop/apache_ws.py lists the checks).
#   untrusted: echo trusts nobody: a WebSocket through Apache gets 403.
# Env: APACHE_KEEP=1 keeps the generated config and logs (target/apache-*).
# Exits 77 when apache2 is missing (1 under CI=true).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:?trusted or untrusted}"
NAME=apache.sh
apache2="$(command -v apache2 || echo /usr/sbin/apache2)"
modules=/usr/lib/apache2/modules
if [ ! -x "$apache2" ] || [ ! -f "$modules/mod_proxy_http.so" ]; then
  if [ "${CI:-}" = true ]; then echo "FAIL $NAME: apache2 missing; run scripts/install-peers.sh"; exit 1; fi
  echo "skip $NAME: apache2 missing; run scripts/install-peers.sh"; exit 77
fi
mkdir -p "$root/target"
prefix="$(mktemp -d "$root/target/apache-XXXXXX")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)" dump_port="$(free_port)"

# Apache started as root switches its children to User/Group; as anyone
# else it stays who it is and the directives are ignored.
user_lines=""
[ "$(id -u)" = 0 ] && user_lines=$'User nobody\nGroup nogroup'
cat >"$prefix/httpd.conf" <<CONF
ServerRoot "$prefix"
DefaultRuntimeDir "$prefix"
PidFile "$prefix/httpd.pid"
ErrorLog "$prefix/error.log"
LogLevel warn
Listen 127.0.0.1:$port
ServerName 127.0.0.1
$user_lines
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule headers_module $modules/mod_headers.so
LoadModule proxy_module $modules/mod_proxy.so
LoadModule proxy_http_module $modules/mod_proxy_http.so
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
LogFormat "%a %r %>s" short
CustomLog "$prefix/access.log" short

# Apache does not set X-Forwarded-Proto, and passes a client's own
# Forwarded header through untouched: both would reach the server as if
# Apache had said them.
RequestHeader set X-Forwarded-Proto expr=%{REQUEST_SCHEME}
RequestHeader unset Forwarded

# Longer than the WebSocket ping interval (30 s), so an idle but healthy
# connection is never cut by Apache (a tunnel idle for the larger of
# Timeout, 60 s here, and ProxyTimeout is closed).
ProxyTimeout 75
ProxyPass /headers http://127.0.0.1:$dump_port/headers
ProxyPass / http://$ADDR/ upgrade=websocket
ProxyPassReverse / http://$ADDR/
CONF

dump_pid="" apache_pid=""
cleanup() {
  [ -n "$apache_pid" ] && kill "$apache_pid" 2>/dev/null && wait "$apache_pid" 2>/dev/null
  [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
  [ "${APACHE_KEEP:-}" = 1 ] || rm -rf "$prefix"
}
trap cleanup EXIT

# The header-dump upstream: each request's headers back as JSON lists of
# [name, value], in the order they came.
python3 - "$dump_port" >"$prefix/dump.log" 2>&1 <<'PY' &
import http.server, json, sys
class Dump(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(list(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Dump).serve_forever()
PY
dump_pid=$!

if ! "$apache2" -t -f "$prefix/httpd.conf" >"$prefix/check.log" 2>&1; then
  echo "FAIL $NAME: apache2 rejects the generated config:"; sed 's/^/#   /' "$prefix/check.log"; exit 1
fi
"$apache2" -f "$prefix/httpd.conf" -DFOREGROUND >"$prefix/stdout.log" 2>&1 &
apache_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$dump_port") 2>/dev/null && break
  kill -0 $apache_pid 2>/dev/null || { echo "FAIL $NAME: apache2 exited:"; sed 's/^/#   /' "$prefix/stdout.log" "$prefix/error.log" 2>/dev/null; apache_pid=""; exit 1; }
  sleep 0.1
done
echo "# $NAME ($mode): $("$apache2" -v | head -1 | sed 's/^Server version: //') on 127.0.0.1:$port -> echo on $ADDR (config $prefix/httpd.conf)"
status=0
APACHE_ADDR="127.0.0.1:$port" MODE="$mode" python3 "$root/tests/interop/apache_ws.py" || status=1
if [ "$status" != 0 ]; then
  echo "# apache error.log:"; tail -n 20 "$prefix/error.log" 2>/dev/null | sed 's/^/#   /'
fi
exit $status
