#!/usr/bin/env python3
"""The upstream of the gateway's interop checks (tests/interop/gateway.sh),
on the Python `websockets` package: an echo server that offers the
subprotocol `chat` (and permessage-deflate, the library's default), and
refuses `/refuse` with 403 and a body of its own.

Usage: python3 tests/interop/gateway_upstream.py PORT          # WebSocket echo
       python3 tests/interop/gateway_upstream.py PORT --silent # accepts TCP, never answers
"""
import asyncio
import socket
import sys
import time

PORT = int(sys.argv[1])

if "--silent" in sys.argv:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", PORT))
    server.listen(64)
    held = []
    while True:
        held.append(server.accept())

from websockets.asyncio.server import serve  # noqa: E402
from websockets.datastructures import Headers  # noqa: E402
from websockets.http11 import Response  # noqa: E402

REFUSAL = b'{"error":"the upstream says no"}\n'


def process_request(connection, request):
    if request.path.startswith("/refuse"):
        return Response(403, "Forbidden", Headers([
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(REFUSAL))),
            ("Connection", "close"),
            ("X-Upstream", "python-websockets"),
        ]), REFUSAL)
    return None


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", PORT, subprotocols=["chat"], process_request=process_request,
                     max_size=2**24):
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
