#!/usr/bin/env python3
"""Timeout attacks (issue 8) against an example served by `tower_upgrade::serve`.

Opens, all at once, TIMEOUT_CONNECTIONS (300) connections of each kind:
- `silent`: sends nothing;
- `half_head`: sends half an HTTP/1.1 request head, a byte every 100 ms;
- `preface`: sends the first 16 bytes of the HTTP/2 preface, then nothing;
- `http2_idle` (h2c only): sends the whole preface and SETTINGS, opens no
  stream (the HTTP/2 idle timeout).
Each must be closed by the server no earlier than half its deadline and no
later than the deadline plus TIMEOUT_SLACK (8 s, generous for a loaded CI
machine; an idle HTTP/2 connection that never answers the PING of its
GOAWAY gets 5 s more), and a normal client (HTTP/1.1 GET for h2c, a WebSocket echo for
echo) must still be served while they are all open.

Usage: ADDR=127.0.0.1:3000 HEADER_READ_TIMEOUT=2 [HTTP2_IDLE_TIMEOUT=2] \
       python3 tests/interop/timeouts.py h2c|echo
The deadlines must be the ones the example was started with.
Prints `ok <check>` / `FAIL <check>: reason`; exits 1 if any failed.
"""
import asyncio
import os
import resource
import statistics
import sys

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
TARGET = sys.argv[1] if len(sys.argv) > 1 else "h2c"
NAME = f"timeouts.py {TARGET}"
N = int(os.environ.get("TIMEOUT_CONNECTIONS", "300"))
SLACK = float(os.environ.get("TIMEOUT_SLACK", "8"))
HEADER = float(os.environ.get("HEADER_READ_TIMEOUT", "30"))
IDLE = float(os.environ.get("HTTP2_IDLE_TIMEOUT", "60"))

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # empty SETTINGS frame
HALF_HEAD = b"GET / HTTP/1.1\r\nHost: " + ADDR.encode() + b"\r\nUser-Agent: slow"

# After an idle GOAWAY the server waits up to this long for the PING that
# ends a graceful shutdown (RFC 9113 §6.8) before it closes; these
# connections never answer it.
IDLE_CLOSE_GRACE = 5

failures = 0


def deadline_of(kind):
    return IDLE + IDLE_CLOSE_GRACE if kind == "http2_idle" else HEADER


def report(ok, check, detail):
    global failures
    if ok:
        print(f"ok {NAME}: {check}: {detail}", flush=True)
    else:
        failures += 1
        print(f"FAIL {NAME}: {check}: {detail}", flush=True)


async def hold(kind, ready):
    """Opens one connection of `kind`; returns seconds until the server closed
    it, or None if it was still open at the bound."""
    loop = asyncio.get_running_loop()
    # Before the connect: the server's deadline starts at its accept, later.
    start = loop.time()
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    bound = deadline_of(kind) + SLACK
    trickle = None
    if kind == "preface":
        writer.write(PREFACE[:16])
    elif kind == "http2_idle":
        writer.write(PREFACE + SETTINGS)
    elif kind == "half_head":
        async def send_slowly():
            for byte in HALF_HEAD:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.1)
        trickle = asyncio.create_task(send_slowly())
    ready.release()
    try:
        while True:
            left = bound - (loop.time() - start)
            data = await asyncio.wait_for(reader.read(4096), timeout=max(left, 0.01))
            if not data:
                break
    except (ConnectionError, OSError):
        pass
    except asyncio.TimeoutError:
        return None
    finally:
        if trickle:
            trickle.cancel()
        writer.close()
    return loop.time() - start


async def normal_client():
    """A client that is served while the attack holds its connections."""
    if TARGET == "echo":
        from websockets.asyncio.client import connect
        async with connect(f"ws://{ADDR}/ws", open_timeout=10) as ws:
            await ws.send("still served")
            got = await asyncio.wait_for(ws.recv(), 10)
            return got == "still served", f"WebSocket echo got {got!r}"
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    writer.write(f"GET / HTTP/1.1\r\nHost: {ADDR}\r\nConnection: close\r\n\r\n".encode())
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return response.startswith(b"HTTP/1.1 200"), f"GET / answered {response[:40]!r}"


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 5 * N + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    kinds = ["silent", "half_head", "preface"] + (["http2_idle"] if TARGET == "h2c" else [])
    ready = asyncio.Semaphore(0)
    tasks = {kind: [asyncio.create_task(hold(kind, ready)) for _ in range(N)] for kind in kinds}
    for _ in range(N * len(kinds)):
        await ready.acquire()
    try:
        ok, detail = await normal_client()
    except Exception as e:  # noqa: BLE001: any failure of the normal client is the finding
        ok, detail = False, f"{type(e).__name__}: {e}"
    report(ok, f"a normal client is served while {N * len(kinds)} attack connections are open", detail)
    for kind in kinds:
        deadline = deadline_of(kind)
        try:
            times = await asyncio.gather(*tasks[kind])
        except OSError as e:
            report(False, kind, f"connecting failed: {e}")
            continue
        open_ = sum(t is None for t in times)
        closed = sorted(t for t in times if t is not None)
        first = IDLE if kind == "http2_idle" else HEADER
        early = sum(t < first / 2 for t in closed)
        detail = (f"{len(closed)}/{N} closed by the server (deadline {deadline:g} s), "
                  + (f"median {statistics.median(closed):.2f} s, max {closed[-1]:.2f} s" if closed else "none"))
        if open_:
            detail += f"; {open_} still open after {deadline + SLACK:g} s"
        if early:
            detail += f"; {early} closed before half the deadline"
        report(open_ == 0 and early == 0, kind, detail)


asyncio.run(main())
sys.exit(1 if failures else 0)
