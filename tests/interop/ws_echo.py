#!/usr/bin/env python3
"""Interop client for the `echo` example, using the Python `websockets` library.

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/ws_echo.py
Env: EXPECT_DEFLATE=1 when the server negotiates permessage-deflate (websockets
offers it by default; a server without it must not answer the offer).
Prints `ok <check>` or `FAIL <check>: reason` per check; exits 1 if any failed,
77 if `websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import socket
import sys
import urllib.request

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
URL = f"ws://{ADDR}/ws"
TIMEOUT = 5.0
NAME = "ws_echo.py"

try:
    import websockets
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def ws_connect(**kw):
    return connect(URL, open_timeout=TIMEOUT, close_timeout=TIMEOUT, **kw)


async def roundtrip(ws, msg):
    await asyncio.wait_for(ws.send(msg), TIMEOUT)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    expect(type(got) is type(msg), f"sent {type(msg).__name__}, got {type(got).__name__} back")
    if got != msg:
        at = next((i for i, (x, y) in enumerate(zip(msg, got)) if x != y), min(len(msg), len(got)))
        raise Failure(f"sent {len(msg)}-long {msg[:20]!r}, got {len(got)}-long {got[:20]!r} back (first difference at {at})")


async def text():
    async with ws_connect() as ws:
        for msg in ["hello", "", "héllo wörld ✓ 🦀 " * 10]:
            await roundtrip(ws, msg)


async def binary():
    async with ws_connect() as ws:
        await roundtrip(ws, bytes(range(256)))
        await roundtrip(ws, b"")


async def lengths():
    # 7-bit, 16-bit and 64-bit payload length encodings on both sides.
    async with ws_connect(max_size=None) as ws:
        for n in [125, 126, 65535, 65536, 300_000]:
            await roundtrip(ws, bytes(i % 251 for i in range(n)))


async def close():
    ws = await ws_connect()
    await roundtrip(ws, "bye")
    await asyncio.wait_for(ws.close(), 2 * TIMEOUT)
    expect(ws.close_code == 1000, f"close handshake: server sent close code {ws.close_code} (1006 = no close frame)")


async def subprotocol_echo():
    async with ws_connect(subprotocols=["echo"]) as ws:
        expect(ws.subprotocol == "echo", f"offered 'echo', server selected {ws.subprotocol!r}")
        await roundtrip(ws, "with subprotocol")


async def subprotocol_other():
    async with ws_connect(subprotocols=["other"]) as ws:
        expect(ws.subprotocol is None, f"offered only 'other', server selected {ws.subprotocol!r}")
        await roundtrip(ws, "no subprotocol")


async def origin_rejected():
    try:
        async with ws_connect(origin="http://evil.example"):
            pass
    except InvalidStatus as e:
        status = e.response.status_code
        expect(status == 403, f"Origin http://evil.example: expected HTTP 403, got {status}")
        return
    raise Failure("Origin http://evil.example: handshake was accepted, expected HTTP 403")


def raw_request(req: bytes) -> tuple[int, dict, bytes]:
    """Sends `req` on a fresh TCP connection; returns (status, headers, body so far)."""
    with socket.create_connection((HOST, int(PORT)), timeout=TIMEOUT) as s:
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise Failure(f"connection closed before a full response head; got {buf!r}")
            buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    expect(len(parts) >= 2 and parts[0].startswith("HTTP/1.") and parts[1].isdigit(), f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(parts[1]), headers, rest


async def version_8():
    req = (
        f"GET /ws HTTP/1.1\r\nHost: {ADDR}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
    ).encode()
    status, headers, _ = await asyncio.to_thread(raw_request, req)
    expect(status == 426, f"Sec-WebSocket-Version: 8: expected 426, got {status}")
    versions = [v.strip() for vs in headers.get("sec-websocket-version", []) for v in vs.split(",")]
    expect("13" in versions, f"426 response must carry Sec-WebSocket-Version: 13, got {headers.get('sec-websocket-version')}")


async def index():
    def get():
        with urllib.request.urlopen(f"http://{ADDR}/", timeout=TIMEOUT) as r:
            return r.status, r.headers.get("content-type"), r.read()

    status, ctype, body = await asyncio.to_thread(get)  # urlopen raises on non-2xx
    expect(status == 200, f"GET /: expected 200, got {status}")
    expect(body, "GET /: empty body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(f"GET /: body is not UTF-8 text (content-type {ctype})")


async def deflate():
    expected = os.environ.get("EXPECT_DEFLATE") == "1"
    async with ws_connect() as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        if expected:
            expect(agreed and agreed.startswith("permessage-deflate"), f"expected permessage-deflate, server answered {agreed!r}")
            # JSON-like text that compresses, across several messages (context takeover).
            for i in range(5):
                await roundtrip(ws, '{"id": %d, "items": [%s]}' % (i, ", ".join('{"n": %d, "name": "item"}' % n for n in range(500))))
            await roundtrip(ws, os.urandom(100_000))
        else:
            expect(agreed is None, f"this server must not negotiate extensions, it answered {agreed!r}")


CHECKS = [deflate, text, binary, lengths, close, subprotocol_echo, subprotocol_other, origin_rejected, version_8, index]


async def main():
    failed = 0
    for check in CHECKS:
        name = f"{NAME}:{check.__name__}"
        try:
            await asyncio.wait_for(check(), 4 * TIMEOUT)
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every error is a failed check
            failed += 1
            reason = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e or 'timed out'}"
            print(f"FAIL {name}: {reason}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    print(f"# {NAME}: websockets {websockets.__version__} against {URL}", flush=True)
    sys.exit(asyncio.run(main()))
