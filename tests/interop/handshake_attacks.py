#!/usr/bin/env python3
"""Attacks on upgrades that are still in progress (issue 8), with the
server's resident memory read from /proc/SERVER_PID/status.

Usage: ADDR=127.0.0.1:3000 SERVER_PID=1234 python3 tests/interop/handshake_attacks.py CHECK...
Checks:
- h2c_burst:   BURST_CONNS (3000) h2c upgrades (`Upgrade: h2c`, the h2c
               example) that declare a 65,534-byte body and send all but its
               last byte, held BURST_HOLD_S (10) seconds, then closed. Prints
               the server's RSS before, at the peak and BURST_AFTER_S (3)
               seconds after; fails past RSS_LIMIT_MIB (peak) or
               AFTER_LIMIT_MIB (after).
- slow_bodies: SLOW_CONNS (2000) upgrades from ATTACKER_IP (127.0.0.2)
               that declare `Content-Length: 65536` and send one byte a
               second for SLOW_S (10) seconds. The server must refuse past
               its limit on handshakes in progress (503/429), a normal client
               from 127.0.0.1 must still upgrade meanwhile, and RSS stays
               under RSS_LIMIT_MIB. UPGRADE=websocket|h2c picks the request.
- oversized_fields: WebSocket upgrades to /ws (the echo or chat example)
               whose `Connection`, `Upgrade`, `Sec-WebSocket-Protocol` or
               `Sec-WebSocket-Extensions` is 64 KiB, or 4097 bytes split
               across two lines: each must get `431` naming the field (RFC
               6585 §5), never a 101; the same request with the field at
               4096 bytes still switches (issue 17).
- slow_body_408: a WebSocket upgrade declaring a 10-byte body and sending
               2: the server must answer `408` with `Connection: close` and
               close (RFC 9110 §15.5.9) once its handshake timeout
               (HANDSHAKE_TIMEOUT_S, 10) passes, within SLACK_S (10) more.
Prints `ok handshake_attacks.py:CHECK ...` or `FAIL handshake_attacks.py:CHECK: why`.
"""
import asyncio
import base64
import os
import resource
import sys
import time

NAME = "handshake_attacks.py"
HOST, PORT = os.environ.get("ADDR", "127.0.0.1:3000").rsplit(":", 1)
PORT = int(PORT)
RSS_LIMIT_KIB = int(os.environ.get("RSS_LIMIT_MIB", "256")) * 1024
AFTER_LIMIT_KIB = int(os.environ.get("AFTER_LIMIT_MIB", "256")) * 1024


def rss_kib():
    pid = os.environ.get("SERVER_PID")
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def mib(kib):
    return "?" if kib is None else f"{kib / 1024:.1f} MiB"


def request(kind, length, path):
    if kind == "h2c":
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {HOST}:{PORT}\r\n"
            "connection: upgrade, http2-settings\r\nupgrade: h2c\r\n"
            "http2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
        )
    else:
        key = base64.b64encode(os.urandom(16)).decode()
        head = (
            f"GET {path} HTTP/1.1\r\nhost: {HOST}:{PORT}\r\n"
            "connection: upgrade\r\nupgrade: websocket\r\n"
            f"sec-websocket-version: 13\r\nsec-websocket-key: {key}\r\n"
        )
    if length is not None:
        head += f"content-length: {length}\r\n"
    return (head + "\r\n").encode()


async def status_line(reader, timeout):
    line = await asyncio.wait_for(reader.readline(), timeout)
    return line.decode(errors="replace").strip()


class Watch:
    """Samples the server's RSS every 20 ms while running; keeps the peak."""

    def __init__(self):
        self.peak = rss_kib() or 0
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self):
        while True:
            now = rss_kib()
            if now:
                self.peak = max(self.peak, now)
            await asyncio.sleep(0.02)

    def stop(self):
        self.task.cancel()


async def open_conn(local=None):
    kwargs = {"local_addr": (local, 0)} if local else {}
    return await asyncio.open_connection(HOST, PORT, **kwargs)


async def h2c_burst():
    conns = int(os.environ.get("BURST_CONNS", "3000"))
    hold = float(os.environ.get("BURST_HOLD_S", "10"))
    after_s = float(os.environ.get("BURST_AFTER_S", "3"))
    before = rss_kib()
    watch = Watch()
    body = b"x" * 65533
    opened, answered = [], {}

    async def one():
        try:
            reader, writer = await open_conn()
        except OSError as e:
            answered[f"connect: {e.strerror}"] = answered.get(f"connect: {e.strerror}", 0) + 1
            return
        opened.append(writer)
        try:
            writer.write(request("h2c", 65534, "/echo") + body)
            await writer.drain()
            line = await status_line(reader, hold)
            answered[line] = answered.get(line, 0) + 1
        except (asyncio.TimeoutError, OSError):
            pass

    tasks = [asyncio.create_task(one()) for _ in range(conns)]
    await asyncio.sleep(hold)
    for w in opened:
        w.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(after_s)
    after = rss_kib()
    peak = watch.peak
    watch.stop()
    summary = ", ".join(f"{n}x {k!r}" for k, n in sorted(answered.items())) or "no answer"
    print(f"# h2c_burst: {conns} conns, {len(opened)} opened; answers before close: {summary}")
    print(f"# h2c_burst: RSS before {mib(before)}, peak {mib(peak)}, {after_s:g} s after {mib(after)}")
    if peak > RSS_LIMIT_KIB:
        return f"peak RSS {mib(peak)} over {mib(RSS_LIMIT_KIB)}"
    if after is not None and after > AFTER_LIMIT_KIB:
        return f"RSS {mib(after)} after the burst, over {mib(AFTER_LIMIT_KIB)}"
    return None


async def slow_bodies():
    conns = int(os.environ.get("SLOW_CONNS", "2000"))
    duration = float(os.environ.get("SLOW_S", "10"))
    attacker = os.environ.get("ATTACKER_IP", "127.0.0.2")
    kind = os.environ.get("UPGRADE", "websocket")
    path = os.environ.get("UPGRADE_PATH", "/ws" if kind == "websocket" else "/")
    watch = Watch()
    before = rss_kib()
    refused, waiting, failed = {}, [], []

    async def one():
        try:
            reader, writer = await open_conn(attacker)
        except OSError as e:
            failed.append(e.strerror)
            return
        try:
            writer.write(request(kind, 65536, path))
            await writer.drain()
            read = asyncio.create_task(reader.readline())
            waiting.append(writer)
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                done, _ = await asyncio.wait({read}, timeout=1)
                if done:
                    line = read.result().decode(errors="replace").strip() or "closed"
                    refused[line] = refused.get(line, 0) + 1
                    waiting.remove(writer)
                    return
                writer.write(b"x")
                await writer.drain()
            read.cancel()
        except OSError:
            if writer in waiting:
                waiting.remove(writer)
        finally:
            writer.close()

    tasks = [asyncio.create_task(one()) for _ in range(conns)]
    await asyncio.sleep(min(3, duration / 2))
    # A normal client, from another address, during the attack.
    normal = "no answer"
    try:
        reader, writer = await open_conn("127.0.0.1")
        writer.write(request(kind, None, path))
        await writer.drain()
        normal = await status_line(reader, 5)
        writer.close()
    except (OSError, asyncio.TimeoutError) as e:
        normal = f"error: {e!r}"
    held = len(waiting)
    await asyncio.gather(*tasks, return_exceptions=True)
    watch.stop()
    summary = ", ".join(f"{n}x {k!r}" for k, n in sorted(refused.items()))
    print(f"# slow_bodies: {conns} conns from {attacker}; held by the server: {held}; "
          f"answered: {summary or 'none'}; connect errors: {len(failed)}")
    print(f"# slow_bodies: normal client from 127.0.0.1: {normal!r}")
    print(f"# slow_bodies: RSS before {mib(before)}, peak {mib(watch.peak)}")
    if " 101 " not in normal + " ":
        return f"the normal client got {normal!r} during the attack"
    limited = sum(n for k, n in refused.items() if " 503 " in k + " " or " 429 " in k + " ")
    if limited == 0:
        return "no attacking connection was refused with 503/429: nothing bounded them"
    if watch.peak > RSS_LIMIT_KIB:
        return f"peak RSS {mib(watch.peak)} over {mib(RSS_LIMIT_KIB)}"
    return None


async def exchange(raw, timeout=10):
    """Sends `raw` on a new connection; returns (status, head, body) as
    read until the server closes or `timeout` passes."""
    reader, writer = await open_conn()
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        head = head.decode(errors="replace")
        status = int(head.split(" ", 2)[1])
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, v = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(v.strip())
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return status, head.lower(), body.decode(errors="replace")
    finally:
        writer.close()


def ws_upgrade(fields):
    """A WebSocket upgrade to /ws with `fields` ([(name, value)]) in place of
    the defaults of the same names."""
    key = base64.b64encode(os.urandom(16)).decode()
    defaults = [("host", f"{HOST}:{PORT}"), ("connection", "upgrade"), ("upgrade", "websocket"),
                ("sec-websocket-version", "13"), ("sec-websocket-key", key)]
    names = {n for n, _ in fields}
    lines = [f"{n}: {v}" for n, v in defaults if n not in names] + [f"{n}: {v}" for n, v in fields]
    return ("GET /ws HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode()


async def oversized_fields():
    bound = 4096
    fields = [("connection", "upgrade", "Connection"), ("upgrade", "websocket", "Upgrade"),
              ("sec-websocket-protocol", "chat", "Sec-WebSocket-Protocol"),
              ("sec-websocket-extensions", "permessage-deflate", "Sec-WebSocket-Extensions")]
    problems = []
    for name, useful, words in fields:
        def pad(total):
            return f"{useful}, " + "x" * (total - len(useful) - 2)
        cases = [
            ("64 KiB", [(name, pad(64 * 1024))], 431),
            ("4097 bytes on two lines", [(name, pad(2048)), (name, pad(2049))], 431),
            ("4096 bytes", [(name, pad(bound))], 101),
        ]
        for label, lines, want in cases:
            try:
                status, _, body = await exchange(ws_upgrade(lines))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                problems.append(f"{name} {label}: {type(e).__name__} {e}")
                continue
            if status != want:
                problems.append(f"{name} {label}: {status}, want {want} ({body[:80]!r})")
            elif want == 431 and words not in body:
                problems.append(f"{name} {label}: the 431 does not name the field: {body!r}")
    print(f"# oversized_fields: {len(fields) * 3} upgrades, {len(problems)} wrong")
    return "; ".join(problems) or None


async def slow_body_408():
    timeout = float(os.environ.get("HANDSHAKE_TIMEOUT_S", "10"))
    slack = float(os.environ.get("SLACK_S", "10"))
    raw = ws_upgrade([("content-length", "10")]) + b"ab"
    reader, writer = await open_conn()
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout + slack)
        head = head.decode(errors="replace").lower()
        # Whatever follows, the server must close: EOF within the slack.
        rest = await asyncio.wait_for(reader.read(), slack)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        return f"no 408 and close within {timeout + slack:g} s: {type(e).__name__} {e}"
    finally:
        writer.close()
    print(f"# slow_body_408: {head.splitlines()[0]!r}, then {len(rest)} bytes and EOF")
    if not head.startswith("http/1.1 408 "):
        return f"got {head.splitlines()[0]!r}, want 408"
    if "\r\nconnection: close" not in head:
        return "the 408 has no `Connection: close`"
    return None


async def main(checks):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    failed = 0
    for check in checks:
        fn = {"h2c_burst": h2c_burst, "slow_bodies": slow_bodies,
              "oversized_fields": oversized_fields, "slow_body_408": slow_body_408}.get(check)
        if fn is None:
            print(f"FAIL {NAME}:{check}: no such check")
            failed += 1
            continue
        why = await fn()
        if why:
            print(f"FAIL {NAME}:{check}: {why}")
            failed += 1
        else:
            print(f"ok {NAME}:{check}")
    return failed


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main(sys.argv[1:] or ["slow_bodies"])) else 0)
