#!/usr/bin/env bash
# The h2c interop checks alone: builds the examples, starts `h2c` on a free
# loopback port, and runs curl (--http2), nghttp -u, h2load and the Python
# h2 client of tests/interop/ against it (see scripts/interop.sh, which runs
# them with the rest).
# Prerequisite: scripts/install-peers.sh.
# Last line: `interop-h2c: N passed, N failed`; exits 1 if anything failed.
# With CI=true a missing tool is a failure, not a skip.
exec env EXAMPLES=h2c INTEROP_LABEL=interop-h2c bash "$(dirname "${BASH_SOURCE[0]}")/interop.sh" "$@"
