#!/usr/bin/env python3
"""Keepalive of the `echo` example, started with short intervals
(WS_PING_MS, WS_PONG_TIMEOUT_MS; interop.sh passes the same values here).

Usage: ADDR=127.0.0.1:3000 WS_PING_MS=500 WS_PONG_TIMEOUT_MS=500 python3 tests/interop/ws_keepalive.py
Checks:
- silent_websockets: Python `websockets` with its own pings off, which then
  stops reading (a hung peer: its TCP stays up, nothing answers), is closed
  by the server within ping interval + pong timeout (+ KEEPALIVE_MARGIN_MS,
  default 1000, for a debug build on a busy machine).
- silent_raw: a raw socket that completes the handshake and never reads,
  same bound.
- answering_raw: a raw socket that answers every Ping with its Pong stays
  open through 5 intervals, sees at least 4 Pings, and still gets an echo.
- answering_websockets: Python `websockets` (pings off; it answers the
  server's) stays open through 5 intervals and still gets an echo.
"Closed" is read from the kernel without reading the socket: a Close frame
queued for the client (MSG_PEEK) or the server's FIN (TCP_INFO state
CLOSE_WAIT).
Prints `ok ws_keepalive.py:CHECK ...` or `FAIL ws_keepalive.py:CHECK: why`.
Exits 77 if `websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

NAME = "ws_keepalive.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
URL = f"ws://{ADDR}/ws"

try:
    from websockets.asyncio.client import connect
    from websockets.protocol import State
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


class Failure(Exception):
    pass


def env_ms(name):
    value = os.environ.get(name)
    if not value:
        raise Failure(f"{name} is not set: start echo with it and pass it here")
    return int(value) / 1000


def settings():
    interval, pong = env_ms("WS_PING_MS"), env_ms("WS_PONG_TIMEOUT_MS")
    margin = int(os.environ.get("KEEPALIVE_MARGIN_MS", "1000")) / 1000
    return interval, pong, margin


async def wait_closed_by_server(fd, start):
    """How the server closed and when (s after `start`), or a Failure at the bound."""
    interval, pong, margin = settings()
    bound = interval + pong
    while time.monotonic() - start < bound + margin:
        how = wsraw.closed_by_server(fd)
        if how:
            return f"{how} after {time.monotonic() - start:.2f} s (bound {bound:.2f} s)"
        await asyncio.sleep(0.05)
    raise Failure(f"still open {bound + margin:.2f} s after it went silent "
                  f"(ping interval {interval} s + pong timeout {pong} s + margin {margin} s)")


async def silent_websockets():
    async with connect(URL, ping_interval=None, close_timeout=1) as ws:
        start = time.monotonic()
        ws.transport.pause_reading()
        return await wait_closed_by_server(ws.transport.get_extra_info("socket").fileno(), start)


async def silent_raw():
    sock, _ = wsraw.handshake(ADDR)
    try:
        return await wait_closed_by_server(sock.fileno(), time.monotonic())
    finally:
        sock.close()


async def answering_raw():
    interval, _, _ = settings()
    sock, _ = wsraw.handshake(ADDR)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    pings, data, end = 0, b"", time.monotonic() + 5 * interval
    try:
        while time.monotonic() < end:
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), end - time.monotonic())
            except asyncio.TimeoutError:
                break
            if not chunk:
                raise Failure(f"server closed the connection after {pings} Pings")
            data += chunk
            frames = wsraw.parse_frames(data)
            data = data[sum(len(wsraw.frame(op, p)) - 4 for op, p in frames):]
            for opcode, payload in frames:
                if opcode == 0x9:
                    pings += 1
                    await loop.sock_sendall(sock, wsraw.frame(0xA, payload))
                elif opcode == 0x8:
                    raise Failure(f"server sent Close {wsraw.close_code(payload)} after {pings} Pings")
        if pings < 4:
            raise Failure(f"{pings} Pings in {5 * interval:.1f} s (5 intervals of {interval} s)")
        await loop.sock_sendall(sock, wsraw.frame(0x1, b"still here"))
        got = b""
        while not [p for op, p in wsraw.parse_frames(got) if op == 0x1]:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            if not chunk:
                raise Failure("closed instead of echoing after 5 intervals")
            got += chunk
        return f"open through 5 intervals ({5 * interval:.1f} s), answered {pings} Pings, echo ok"
    finally:
        sock.close()


async def answering_websockets():
    interval, _, _ = settings()
    async with connect(URL, ping_interval=None, close_timeout=1) as ws:
        await asyncio.sleep(5 * interval)
        if ws.state is not State.OPEN:
            raise Failure(f"state {ws.state.name} after 5 intervals (close code {ws.close_code})")
        await ws.send("still here")
        got = await asyncio.wait_for(ws.recv(), 5)
        if got != "still here":
            raise Failure(f"echo {got!r}")
        return f"open through 5 intervals ({5 * interval:.1f} s), echo ok"


async def main():
    failed = 0
    checks = [silent_websockets, silent_raw, answering_raw, answering_websockets]
    results = await asyncio.gather(*(c() for c in checks), return_exceptions=True)
    for check, result in zip(checks, results):
        if isinstance(result, BaseException):
            failed += 1
            why = str(result) if isinstance(result, Failure) else f"{type(result).__name__}: {result}"
            print(f"FAIL {NAME}:{check.__name__}: {why}")
        else:
            print(f"ok {NAME}:{check.__name__} {result}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
