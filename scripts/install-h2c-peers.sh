#!/usr/bin/env bash
# Installs the peers of the h2c interop checks only (scripts/install-peers.sh
# installs these and the rest):
#   apt:  curl (built with HTTP/2, as Debian's is), nghttp2-client (nghttp, h2load)
#   pip:  h2, pinned in tests/interop/requirements.txt
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

need=()
command -v curl   >/dev/null || need+=(curl)
command -v nghttp >/dev/null || need+=(nghttp2-client)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-h2c-peers: apt-get install ${need[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! python3 -c 'import h2' 2>/dev/null || [ "$(python3 -c 'import h2; print(h2.__version__)')" != \
    "$(sed -n 's/^h2==//p' "$root/tests/interop/requirements.txt")" ]; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    "$(grep '^h2==' "$root/tests/interop/requirements.txt")" \
    "$(grep '^hpack==' "$root/tests/interop/requirements.txt")" \
    "$(grep '^hyperframe==' "$root/tests/interop/requirements.txt")"
fi
curl --version | grep -qw HTTP2 || { echo "install-h2c-peers: curl lacks HTTP/2"; exit 1; }
echo "install-h2c-peers: $(curl --version | head -1 | cut -d' ' -f1-2), $(nghttp --version | head -1)," \
  "h2 $(python3 -c 'import h2; print(h2.__version__)')"
