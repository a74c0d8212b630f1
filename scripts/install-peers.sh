#!/usr/bin/env bash
# Installs the third-party peers the interop clients (tests/interop/) talk to:
#   apt:  chromium, nghttp2-client (nghttp, h2load), curl, netcat-openbsd, nginx,
#         haproxy (PROXY protocol interop, tests/interop/haproxy.sh),
#         apache2 (the third proxy, scripts/apache.sh; run as /usr/sbin/apache2),
#         redis-server (the Redis backplane's tests, tests/redis_backplane.rs,
#         and the chat cluster of tests/interop/chat_cluster.sh)
#   pip:  tests/interop/requirements.txt (websockets, h2)
#   npm:  tests/interop/node/package-lock.json (ws, playwright-core), via `npm ci`
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

# --- Debian packages --------------------------------------------------------
need=()
command -v chromium >/dev/null || need+=(chromium fonts-liberation)
command -v nghttp   >/dev/null || need+=(nghttp2-client)
command -v curl     >/dev/null || need+=(curl)
command -v nc       >/dev/null || need+=(netcat-openbsd)
command -v node     >/dev/null || need+=(nodejs)
command -v nginx    >/dev/null || need+=(nginx)
command -v haproxy  >/dev/null || need+=(haproxy)
# Not on a normal user's PATH (/usr/sbin); its modules must be there too.
[ -f /usr/lib/apache2/modules/mod_proxy_http.so ] || need+=(apache2)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-peers: apt-get install ${need[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- Python packages (no-op without network when already satisfied) --------
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$root/tests/interop/requirements.txt"

# --- Node packages: npm ci only when the lock file changed -------------------
node_dir="$root/tests/interop/node"
stamp="$node_dir/node_modules/.installed-lock.sha256"
want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-peers: npm ci in tests/interop/node"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

echo "install-peers: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), $(nghttp --version | head -1)," \
  "websockets $(python3 -c 'import websockets; print(websockets.__version__)'), node $(node --version)," \
  "haproxy $(haproxy -v | head -1 | awk '{print $3}'), $(/usr/sbin/apache2 -v | head -1 | sed 's/^Server version: //'), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
