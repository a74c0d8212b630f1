#!/usr/bin/env python3
"""Clients of the gateway example (tests/interop/gateway.sh, issue 19),
against the Python upstream of gateway_upstream.py behind it.

Usage: ADDR=gateway MODE=up|down|silent python3 tests/interop/gateway.py
Checks, MODE=up:
- ws_echo:     Python `websockets` through the gateway: text and binary
               (64 KiB) echo; the subprotocol the upstream chose (`chat`,
               offered second) reaches the client; permessage-deflate, which
               client and upstream both offer, is agreed between them.
- h2_echo:     an HTTP/2 extended CONNECT (RFC 8441) with the `h2` package:
               200 with the upstream's subprotocol, no Sec-WebSocket-Accept,
               and a masked text frame echoed (the upstream speaks HTTP/1.1).
- refused:     the upstream's 403 on /refuse reaches the client with its
               body and Content-Type.
MODE=down:   the upstream is not there: 502.
MODE=silent: the upstream accepts TCP and never answers: 504 within
             ANSWER_TIMEOUT_S (the gateway's) plus 3 s.
Prints `ok gateway.py:CHECK` or `FAIL gateway.py:CHECK: why`; exits 1 if
any failed, 77 if a package is missing (1 under CI=true).
"""
import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

NAME = "gateway.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
MODE = os.environ.get("MODE", "up")
try:
    import h2.config
    import h2.connection
    import h2.events
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
    import wsraw
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: a Python package is missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


class Failure(Exception):
    pass


async def ws_echo():
    async with connect(f"ws://{ADDR}/ws", subprotocols=["other", "chat"], open_timeout=10) as ws:
        if ws.subprotocol != "chat":
            raise Failure(f"subprotocol {ws.subprotocol!r}, not the upstream's 'chat'")
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if not extensions.startswith("permessage-deflate"):
            raise Failure(f"permessage-deflate not agreed with the upstream: {extensions!r}")
        await ws.send("hello through the gateway")
        if await asyncio.wait_for(ws.recv(), 10) != "hello through the gateway":
            raise Failure("text not echoed")
        blob = os.urandom(65536)
        await ws.send(blob)
        if await asyncio.wait_for(ws.recv(), 10) != blob:
            raise Failure("binary not echoed")
    return f"subprotocol chat, {extensions}"


def h2_echo():
    sock = socket.create_connection((HOST, int(PORT)), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                               (":path", "/ws"), (":authority", ADDR), ("sec-websocket-version", "13"),
                               ("sec-websocket-protocol", "other, chat")])
    sock.sendall(conn.data_to_send())
    response, data = None, b""
    sent = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            raise Failure("the gateway closed the connection")
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.ResponseReceived):
                response = dict((k.decode(), v.decode()) for k, v in event.headers)
                if response.get(":status") != "200":
                    raise Failure(f"status {response.get(':status')}: {response}")
                if response.get("sec-websocket-protocol") != "chat":
                    raise Failure(f"subprotocol {response.get('sec-websocket-protocol')!r}")
                if "sec-websocket-accept" in response:
                    raise Failure("Sec-WebSocket-Accept over HTTP/2")
            elif isinstance(event, h2.events.DataReceived):
                data += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise Failure(f"{type(event).__name__}")
        if response is not None and not sent:
            conn.send_data(stream, wsraw.frame(0x1, b"over h2"))
            sent = True
        sock.sendall(conn.data_to_send())
        # The echo: an unmasked text frame of 7 bytes.
        if len(data) >= 9:
            if data[:9] != b"\x81\x07over h2":
                raise Failure(f"unexpected frame {data[:16]!r}")
            sock.close()
            return "200, subprotocol chat, frame echoed"
    raise Failure("no echo in time")


async def refused():
    try:
        async with connect(f"ws://{ADDR}/refuse", open_timeout=10):
            raise Failure("the upgrade succeeded")
    except InvalidStatus as e:
        r = e.response
        if r.status_code != 403:
            raise Failure(f"status {r.status_code}")
        if r.headers.get("Content-Type") != "application/json":
            raise Failure(f"Content-Type {r.headers.get('Content-Type')!r}")
        if r.body != b'{"error":"the upstream says no"}\n':
            raise Failure(f"body {r.body!r}")
        return "403 with the upstream's body"


async def status_of(path="/ws"):
    try:
        async with connect(f"ws://{ADDR}{path}", open_timeout=30):
            raise Failure("the upgrade succeeded")
    except InvalidStatus as e:
        return e.response.status_code


async def down():
    status = await status_of()
    if status != 502:
        raise Failure(f"status {status}")
    return "502"


async def silent():
    limit = float(os.environ.get("ANSWER_TIMEOUT_S", "1")) + 3
    start = time.monotonic()
    status = await status_of()
    took = time.monotonic() - start
    if status != 504:
        raise Failure(f"status {status}")
    if took > limit:
        raise Failure(f"504 after {took:.1f} s, more than {limit} s")
    return f"504 after {took:.1f} s"


def main():
    checks = {
        "up": [("ws_echo", ws_echo), ("h2_echo", h2_echo), ("refused", refused)],
        "down": [("down_502", down)],
        "silent": [("silent_504", silent)],
    }[MODE]
    failed = 0
    for name, fn in checks:
        try:
            result = asyncio.run(fn()) if asyncio.iscoroutinefunction(fn) else fn()
            print(f"ok {NAME}:{name} {result}")
        except Exception as e:
            failed += 1
            why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            print(f"FAIL {NAME}:{name}: {why}")
    sys.exit(1 if failed else 0)


main()
