#!/usr/bin/env bash
# The whole of Autobahn sections 12 and 13 (permessage-deflate: every offer
# and every message size) against `echo` with the messages backend and
# WS_DEFLATE=1, built in release (AUTOBAHN_BUILD=dev to change it: a debug
# echo was measured at ~50 of the 216 cases in 10 minutes, so it meets the
# 1,200 s limit of wstest). Not run in CI: it takes about 11
# minutes (216 cases; the Python side of wstest is then the slow part). The CI subset
# (1-10 for each backend, 12.1 and 13.1 with deflate) is scripts/autobahn.sh.
#
# Reports: target/autobahn/messages-deflate-full/index.html
exec env AUTOBAHN_PROFILE=full AUTOBAHN_BUILD="${AUTOBAHN_BUILD:-release}" bash "$(dirname "${BASH_SOURCE[0]}")/autobahn.sh" "$@"
