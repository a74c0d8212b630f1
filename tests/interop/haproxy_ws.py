#!/usr/bin/env python3
"""WebSockets through HAProxy with PROXY protocol (see haproxy.sh ws), in
front of `echo` run with PROXY_PROTOCOL=1 and no trusted proxy (issue 17):
the client address comes from the PROXY header, and forwarding headers the
client sends are ignored.

- forged_headers_ignored: a client bound to 127.0.0.7 sends
  `X-Forwarded-For`, `Forwarded` and `X-Real-IP` naming 198.51.100.x; it gets
  101 and its echo, and the handler logs client 127.0.0.7 (from the PROXY
  header), never 198.51.100.x.

Env: FRONT (HAProxy's address), SERVER_LOG (echo's log).
Prints `ok haproxy_ws.py:CHECK ...` or `FAIL ...`; exits 1 on a failure.
"""
import asyncio
import os
import re
import sys
import time

NAME = "haproxy_ws.py"
try:
    from websockets.asyncio.client import connect
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e})")
    sys.exit(1 if ci else 77)

FRONT = os.environ["FRONT"]
LOG = os.environ["SERVER_LOG"]
CLIENT_IP = "127.0.0.7"
FORGED = {
    "X-Forwarded-For": "198.51.100.1",
    "Forwarded": "for=198.51.100.2",
    "X-Real-IP": "198.51.100.3",
}


def log_text():
    with open(LOG, errors="replace") as f:
        return re.sub(r"\x1b\[[0-9;]*m", "", f.read())


async def forged_headers_ignored():
    async with connect(f"ws://{FRONT}/ws", origin=f"http://{FRONT}", additional_headers=FORGED,
                       open_timeout=10, local_addr=(CLIENT_IP, 0)) as ws:
        await ws.send("through haproxy")
        got = await asyncio.wait_for(ws.recv(), 10)
        if got != "through haproxy":
            return f"echoed {got!r}"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = log_text()
        if "198.51.100." in log:
            return "the handler logged a forged address: " + re.findall(r"client=\S+", log)[-1]
        if f"echo: connected client=Some({CLIENT_IP})" in log:
            return None
        time.sleep(0.1)
    return f"the handler never logged client {CLIENT_IP}: " + " ".join(re.findall(r"client=\S+", log_text())[-3:])


async def main():
    why = await forged_headers_ignored()
    if why:
        print(f"FAIL {NAME}:forged_headers_ignored: {why}", flush=True)
        return 1
    print(f"ok {NAME}:forged_headers_ignored: 101 and echo; the handler saw {CLIENT_IP} from the "
          f"PROXY header, not the X-Forwarded-For, Forwarded or X-Real-IP the client sent", flush=True)
    return 0


sys.exit(asyncio.run(main()))
