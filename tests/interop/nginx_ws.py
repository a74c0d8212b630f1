#!/usr/bin/env python3
"""Python websockets through nginx (see nginx.sh), and a direct request with
a forged X-Forwarded-Host.

In trusted mode echo runs with CLIENT_SOURCE=x-forwarded and
MAX_CONNECTIONS_PER_CLIENT=2 (issue 17), and what a client writes itself
must not count:
- forwarded_does_not_count: one client (127.0.0.3) opens three connections,
  each with its own `Forwarded: for=198.51.100.N` (which nginx passes
  through): the third gets 429.
- malformed_xff_counted_apart: two clients (127.0.0.4, 127.0.0.5) each send
  `X-Forwarded-For: not-an-address` (nginx appends the real address): while
  the first holds both its places (its third gets 429), the second connects.
- legit_client_with_forwarded: a client that also sends a `Forwarded` header
  (with another host) gets 101: nginx's X-Forwarded-Host still counts.

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


async def open_ws(client_ip, headers):
    """A WebSocket through nginx from `client_ip`, held open; or the refusal's status."""
    try:
        return await connect(f"ws://{NGINX}/ws", origin=f"http://{NGINX}",
                             additional_headers=headers, open_timeout=10,
                             local_addr=(client_ip, 0))
    except InvalidStatus as e:
        return e.response.status_code


async def hold(client_ip, headers_each):
    """Opens one connection per headers dict; returns (held sockets, statuses)."""
    held, statuses = [], []
    for headers in headers_each:
        ws = await open_ws(client_ip, headers)
        if isinstance(ws, int):
            statuses.append(ws)
        else:
            held.append(ws)
            statuses.append(101)
    return held, statuses


async def close_all(held):
    for ws in held:
        await ws.close()


async def forwarded_does_not_count():
    held, statuses = await hold("127.0.0.3", [
        {"Forwarded": f"for=198.51.100.{n}"} for n in (1, 2, 3)])
    await close_all(held)
    if statuses != [101, 101, 429]:
        raise Failure(f"expected [101, 101, 429], got {statuses}")
    return "3 connections, each with its own Forwarded: for=198.51.100.N: [101, 101, 429]"


async def malformed_xff_counted_apart():
    bad = {"X-Forwarded-For": "not-an-address"}
    first, first_statuses = await hold("127.0.0.4", [bad, bad, bad])
    try:
        second, second_statuses = await hold("127.0.0.5", [bad])
        await close_all(second)
    finally:
        await close_all(first)
    if first_statuses != [101, 101, 429] or second_statuses != [101]:
        raise Failure(f"first client {first_statuses}, second {second_statuses}: "
                      "expected [101, 101, 429] and [101]")
    return ("X-Forwarded-For: not-an-address from two clients: the first "
            "[101, 101, 429], the second [101] while the first holds its places")


async def legit_client_with_forwarded():
    status = await status_of(f"ws://{NGINX}/ws", f"http://{NGINX}",
                             {"Forwarded": "for=192.0.2.1;host=elsewhere.example;proto=https"})
    if status != 101:
        raise Failure(f"expected 101, got {status}")
    return "101 and echo (X-Forwarded-Host from nginx still counts)"


async def main():
    failed = 0
    checks = [through_nginx, forged_direct]
    if MODE == "trusted":
        checks += [forwarded_does_not_count, malformed_xff_counted_apart, legit_client_with_forwarded]
    for check in checks:
        try:
            print(f"ok {NAME}:{MODE}:{check.__name__}: {await check()}", flush=True)
        except (Failure, OSError, asyncio.TimeoutError) as e:
            print(f"FAIL {NAME}:{MODE}:{check.__name__}: {e!r}", flush=True)
            failed += 1
    return failed


sys.exit(1 if asyncio.run(main()) else 0)
