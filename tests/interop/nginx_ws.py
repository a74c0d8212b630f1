#!/usr/bin/env python3
"""Python websockets through nginx (see nginx.sh), and a direct request with
a forged X-Forwarded-Host.

Env: NGINX_ADDR, ADDR (echo itself), MODE=trusted|untrusted, SERVER_LOG
(echo's log, where the handler logs the client's address).
"""
import asyncio
import os
import re
import sys
import time

NAME = "nginx_ws.py"
try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e})")
    sys.exit(1 if ci else 77)

NGINX = os.environ["NGINX_ADDR"]
DIRECT = os.environ["ADDR"]
MODE = os.environ.get("MODE", "trusted")
LOG = os.environ.get("SERVER_LOG")
CLIENT_IP = "127.0.0.2"


class Failure(Exception):
    pass


async def status_of(uri, origin, headers=None):
    """Opens a WebSocket from CLIENT_IP; returns 101 after an echo, or the refusal's status."""
    try:
        async with connect(uri, origin=origin, additional_headers=headers or {},
                           open_timeout=10, local_addr=(CLIENT_IP, 0)) as ws:
            await ws.send("through nginx")
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != "through nginx":
                raise Failure(f"echoed {got!r}")
            return 101
    except InvalidStatus as e:
        return e.response.status_code


async def through_nginx():
    # The page's origin is nginx's address: what a browser on it sends.
    status = await status_of(f"ws://{NGINX}/ws", f"http://{NGINX}")
    want = 101 if MODE == "trusted" else 403
    if status != want:
        raise Failure(f"{MODE}: expected {want}, got {status}")
    if MODE == "trusted" and LOG:
        # The handler logs the client it sees: nginx's X-Forwarded-For.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(LOG, errors="replace") as f:
                log = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
            if f"echo: connected client=Some({CLIENT_IP})" in log:
                return f"101 and echo; the handler saw client {CLIENT_IP} (X-Forwarded-For)"
            time.sleep(0.1)
        raise Failure(f"the handler never logged client {CLIENT_IP} (see {LOG})")
    return f"{status}"


async def forged_direct():
    # Straight to echo, from an address that is not a trusted proxy, with
    # X-Forwarded-Host matching a foreign Origin: the header is not believed.
    status = await status_of(f"ws://{DIRECT}/ws", "http://evil.example",
                             {"X-Forwarded-Host": "evil.example"})
    if status != 403:
        raise Failure(f"expected 403, got {status}")
    return "403"


async def main():
    failed = 0
    for check in (through_nginx, forged_direct):
        try:
            print(f"ok {NAME}:{MODE}:{check.__name__}: {await check()}", flush=True)
        except (Failure, OSError, asyncio.TimeoutError) as e:
            print(f"FAIL {NAME}:{MODE}:{check.__name__}: {e!r}", flush=True)
            failed += 1
    return failed


sys.exit(1 if asyncio.run(main()) else 0)
