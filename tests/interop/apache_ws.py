#!/usr/bin/env python3
"""Real clients through Apache httpd (see scripts/apache.sh) to the `echo`
example.

Env: APACHE_ADDR, ADDR (echo itself), MODE=trusted|untrusted, SERVER_LOG
(echo's log, where the handler logs the client's address).

trusted (echo: TRUSTED_PROXIES=127.0.0.1 CLIENT_SOURCE=x-forwarded WS_DEFLATE=1):
- echo:             Python websockets without compression: text and binary
                    echoed; the handler saw the client (127.0.0.2), not Apache.
- deflate:          websockets' default offer: permessage-deflate agreed end
                    to end through Apache; a 256 KiB compressible text echoed.
- plain:            GET / (no upgrade) through Apache: 200 and the page.
- spoofed_xff:      a client's own `X-Forwarded-For: 203.0.113.9` (Apache
                    appends to it): the handler sees the real client.
- forged_forwarded: a client's `Forwarded: for=203.0.113.10;host=evil.example`
                    with Origin http://evil.example: 403; with the right
                    Origin: 101, and the handler sees the real client.
- forged_xfh:       a client's `X-Forwarded-Host: evil.example` (Apache
                    appends its own) with Origin http://evil.example: 403.
- bad_version:      Sec-WebSocket-Version: 8: the server's 426 with
                    `Sec-WebSocket-Version: 13` comes back through Apache.
- missing_key:      no Sec-WebSocket-Key: the server's 400 comes back.
- headers:          what Apache sends upstream (a header-dump server behind
                    /headers) when the client sends its own X-Forwarded-*
                    and Forwarded: printed, and checked against what
                    docs/deployment.md says.
untrusted (echo trusts nobody): a WebSocket through Apache gets 403; GET / 200.

Prints `ok apache_ws.py:MODE:CHECK: ...` or `FAIL ...`; exits 1 if any failed,
77 when websockets is missing (1 under CI=true).
"""
import asyncio
import http.client
import json
import os
import re
import socket
import sys
import time

NAME = "apache_ws.py"
try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e})")
    sys.exit(1 if ci else 77)

APACHE = os.environ["APACHE_ADDR"]
MODE = os.environ.get("MODE", "trusted")
LOG = os.environ.get("SERVER_LOG")
ORIGIN = f"http://{APACHE}"


class Failure(Exception):
    pass


async def open_ws(source, *, origin=ORIGIN, headers=None, compression=None):
    """A WebSocket through Apache from `source`: the client, or the refusal's status."""
    try:
        return await connect(f"ws://{APACHE}/ws", origin=origin, additional_headers=headers or {},
                             compression=compression, open_timeout=10, local_addr=(source, 0)), None
    except InvalidStatus as e:
        return None, e.response.status_code


async def roundtrip(ws, message):
    await ws.send(message)
    got = await asyncio.wait_for(ws.recv(), 10)
    if got != message:
        raise Failure(f"echoed {len(got)} bytes, not the {len(message)} sent")


def server_log():
    if not LOG:
        raise Failure("SERVER_LOG is not set")
    with open(LOG, errors="replace") as f:
        return re.sub(r"\x1b\[[0-9;]*m", "", f.read())


def handler_saw(client, spoof=None):
    """Waits (5 s at most) for the handler's `connected client=Some(client)`
    line; fails if it logged `spoof` as a client instead."""
    deadline = time.monotonic() + 5
    while True:
        log = server_log()
        if spoof and f"client=Some({spoof})" in log:
            raise Failure(f"the handler believed the client's own header: client={spoof}")
        if f"echo: connected client=Some({client})" in log:
            return
        if time.monotonic() > deadline:
            raise Failure(f"the handler never logged client {client} (see {LOG})")
        time.sleep(0.1)


def raw(request_lines, source="127.0.0.2"):
    """Sends a hand-written request through Apache; (status, headers) of the answer."""
    host, port = APACHE.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as s:
        s.sendall(("\r\n".join(request_lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        raise Failure(f"no HTTP answer: {head[:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers


def ws_request(*extra, key=True, version="13"):
    lines = ["GET /ws HTTP/1.1", f"Host: {APACHE}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Version: {version}", f"Origin: {ORIGIN}"]
    if key:
        lines.append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    return lines + list(extra)


async def echo():
    ws, status = await open_ws("127.0.0.2")
    if ws is None:
        raise Failure(f"expected 101, got {status}")
    async with ws:
        if ws.response.headers.get("Sec-WebSocket-Extensions"):
            raise Failure(f"an extension agreed without an offer: {ws.response.headers['Sec-WebSocket-Extensions']}")
        await roundtrip(ws, "through apache")
        await roundtrip(ws, bytes(range(256)) * 4)
    handler_saw("127.0.0.2")
    return "101, text and binary echoed; the handler saw client 127.0.0.2 (X-Forwarded-For)"


async def deflate():
    ws, status = await open_ws("127.0.0.2", compression="deflate")
    if ws is None:
        raise Failure(f"expected 101, got {status}")
    async with ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if "permessage-deflate" not in agreed:
            raise Failure(f"permessage-deflate not agreed through Apache (answer: {agreed!r})")
        await roundtrip(ws, "deflate through apache " * 11_400)
    return f"agreed ({agreed}); 256 KiB of text echoed compressed"


def plain():
    host, port = APACHE.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    if response.status != 200 or "echo server" not in body:
        raise Failure(f"GET / through Apache: {response.status} {body[:60]!r}")
    return "GET / through Apache: 200 and the page"


async def spoofed_xff():
    ws, status = await open_ws("127.0.0.3", headers={"X-Forwarded-For": "203.0.113.9"})
    if ws is None:
        raise Failure(f"expected 101, got {status}")
    async with ws:
        await roundtrip(ws, "spoof")
    handler_saw("127.0.0.3", spoof="203.0.113.9")
    return "101; Apache appended to the client's X-Forwarded-For and the handler saw 127.0.0.3, not 203.0.113.9"


async def forged_forwarded():
    forged = {"Forwarded": "for=203.0.113.10;host=evil.example"}
    ws, status = await open_ws("127.0.0.4", origin="http://evil.example", headers=forged)
    if ws is not None:
        await ws.close()
        raise Failure("a foreign Origin was accepted with the client's own Forwarded: host=")
    if status != 403:
        raise Failure(f"foreign Origin: expected 403, got {status}")
    ws, status = await open_ws("127.0.0.4", headers=forged)
    if ws is None:
        raise Failure(f"right Origin: expected 101, got {status}")
    async with ws:
        await roundtrip(ws, "forwarded")
    handler_saw("127.0.0.4", spoof="203.0.113.10")
    return "foreign Origin 403; right Origin 101 and the handler saw 127.0.0.4, not 203.0.113.10"


async def forged_xfh():
    ws, status = await open_ws("127.0.0.2", origin="http://evil.example",
                               headers={"X-Forwarded-Host": "evil.example"})
    if ws is not None:
        await ws.close()
        raise Failure("a foreign Origin was accepted with the client's own X-Forwarded-Host")
    if status != 403:
        raise Failure(f"expected 403, got {status}")
    return "403 (the server takes the last X-Forwarded-Host, the one Apache appended)"


def bad_version():
    status, headers = raw(ws_request(version="8"))
    if status != 426 or headers.get("sec-websocket-version") != "13":
        raise Failure(f"expected 426 with Sec-WebSocket-Version: 13, got {status} {headers}")
    return "426 with Sec-WebSocket-Version: 13 through Apache"


def missing_key():
    status, _ = raw(ws_request(key=False))
    if status != 400:
        raise Failure(f"expected 400, got {status}")
    return "400 through Apache"


def headers():
    host, port = APACHE.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=("127.0.0.2", 0))
    conn.request("GET", "/headers", headers={
        "X-Forwarded-For": "198.51.100.1",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "Forwarded": "for=198.51.100.2;host=evil.example;proto=https",
    })
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise Failure(f"GET /headers: {response.status}")
    got = {}
    for name, value in json.loads(body):
        got.setdefault(name.lower(), []).append(value)
    seen = "; ".join(f"{n}: {', '.join(v)}" for n, v in got.items()
                     if n.startswith("x-forwarded") or n in ("forwarded", "host", "via"))
    want = {
        "x-forwarded-for": ["198.51.100.1, 127.0.0.2"],
        "x-forwarded-host": [f"evil.example, {APACHE}"],
        "x-forwarded-server": ["127.0.0.1"],
        "x-forwarded-proto": ["http"],
    }
    wrong = [f"{n}: {got.get(n)} (want {v})" for n, v in want.items() if got.get(n) != v]
    if "forwarded" in got:
        wrong.append(f"Forwarded reached the upstream: {got['forwarded']}")
    if wrong:
        raise Failure(f"{'; '.join(wrong)} [upstream saw: {seen}]")
    return f"upstream saw: {seen}"


async def refused():
    ws, status = await open_ws("127.0.0.2")
    if ws is not None:
        await ws.close()
        raise Failure("expected 403, got 101")
    if status != 403:
        raise Failure(f"expected 403, got {status}")
    return "403: Apache is not trusted, so the Origin does not match the Host it sends"


CHECKS = {
    "trusted": [echo, deflate, plain, spoofed_xff, forged_forwarded, forged_xfh, bad_version, missing_key,
                headers],
    "untrusted": [refused, plain],
}


async def main():
    failed = 0
    for check in CHECKS[MODE]:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            print(f"ok {NAME}:{MODE}:{check.__name__}: {result}", flush=True)
        except (Failure, OSError, asyncio.TimeoutError, ValueError) as e:
            print(f"FAIL {NAME}:{MODE}:{check.__name__}: {e}", flush=True)
            failed += 1
    return failed


sys.exit(1 if asyncio.run(main()) else 0)
