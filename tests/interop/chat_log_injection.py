#!/usr/bin/env python3
"""Issue 9, defect 14: the `chat` example logged the room name from the
URL as is, so `?room=lobby%0A<timestamp> ERROR ...` wrote a line of the
attacker's choosing into the server log. The fix logs it with `?` (escaped).

Joins a room whose name holds a line break and a forged log line, waits for
the server to log the join, and reads the server's log (SERVER_LOG, set by
scripts/interop.sh): no line may start with the forged text, and the name
must appear escaped (so the check saw the join at all).

Usage: ADDR=127.0.0.1:3000 SERVER_LOG=target/interop/chat.log python3 tests/interop/chat_log_injection.py
Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
`websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import re
import sys
import time
import urllib.parse

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
LOG = os.environ.get("SERVER_LOG", "")
NAME = "chat_log_injection.py"
TIMEOUT = 5.0
# A bound on waiting for the server to write its line, not a measured time.
SETTLE = 10.0

try:
    from websockets.asyncio.client import connect
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)

if not LOG or not os.path.exists(LOG):
    print(f"FAIL {NAME}: SERVER_LOG={LOG!r} is not the server's log file")
    sys.exit(1)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
marker = f"FORGED-{os.getpid()}"
forged = f"2026-01-01T00:00:00Z ERROR {marker} root login"
room = f"lobby\n{forged}"


def log_lines():
    with open(LOG, encoding="utf-8", errors="replace") as f:
        return [ANSI.sub("", line) for line in f]


async def main():
    url = f"ws://{ADDR}/ws?room={urllib.parse.quote(room, safe='')}"
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        await asyncio.wait_for(ws.recv(), TIMEOUT)  # the join was handled
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        lines = [line for line in log_lines() if marker in line]
        if any("left" in line for line in lines) or any(line.startswith(forged) for line in lines):
            break
        await asyncio.sleep(0.2)
    lines = [line for line in log_lines() if marker in line]
    forgeries = [line.rstrip("\n") for line in lines if line.startswith(forged)]
    if forgeries:
        print(f"FAIL {NAME}:no_forged_line: the server log has a line the client wrote: {forgeries[0]!r}")
        return 1
    if not any("\\n" + forged in line for line in lines):
        print(f"FAIL {NAME}:no_forged_line: the join of room {room!r} never reached {LOG} escaped")
        return 1
    print(f"ok {NAME}:no_forged_line")
    return 0


try:
    sys.exit(asyncio.run(main()))
except (OSError, asyncio.TimeoutError) as e:
    print(f"FAIL {NAME}:run: {type(e).__name__}: {e}")
    sys.exit(1)
