#!/usr/bin/env python3
"""Per-client limits of the `echo` example on loopback aliases (issue 8):
127.0.0.2, 127.0.0.3 and 127.0.0.4 are distinct clients to the server.

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/client_limits.py
The server must run with MAX_CONNECTIONS_PER_CLIENT=$MAX_CONN (default 2),
HANDSHAKES_PER_SECOND_PER_CLIENT=$RATE (default 2) and HANDSHAKE_BURST=$BURST
(default 4), as scripts/interop.sh starts `echo-limits`.
Checks:
- connections: A holds MAX_CONN WebSockets; its next handshake gets 429 with
  Retry-After while B still gets 101; A gets 101 again once one is closed.
- rate: C sends BURST + 2 handshakes at once; at least one gets 429 with
  Retry-After ("upgrade attempts"), and after the refill time (BURST / RATE
  seconds, plus one second of slack) C gets 101 again.
"""
import base64
import os
import socket
import sys
import time

NAME = "client_limits.py"
HOST, PORT = os.environ.get("ADDR", "127.0.0.1:3000").rsplit(":", 1)
PORT = int(PORT)
MAX_CONN = int(os.environ.get("MAX_CONN", "2"))
RATE = float(os.environ.get("RATE", "2"))
BURST = int(os.environ.get("BURST", "4"))


def handshake(source):
    """Opens a WebSocket from `source`; returns (socket, status, headers, body)."""
    sock = socket.create_connection((HOST, PORT), timeout=10, source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (f"GET /ws HTTP/1.1\r\nhost: {HOST}:{PORT}\r\nconnection: upgrade\r\n"
         f"upgrade: websocket\r\nsec-websocket-version: 13\r\n"
         f"sec-websocket-key: {key}\r\n\r\n").encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    body = rest
    if status != 101:
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    return sock, status, headers, body.decode(errors="replace")


class Failure(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise Failure(why)


def connections():
    a, b = "127.0.0.2", "127.0.0.3"
    held = []
    for i in range(MAX_CONN):
        sock, status, _, body = handshake(a)
        expect(status == 101, f"A's connection {i + 1} of {MAX_CONN}: {status} {body!r}")
        held.append(sock)
    sock, status, headers, body = handshake(a)
    sock.close()
    expect(status == 429, f"A over its limit: expected 429, got {status} {body!r}")
    expect(headers.get("retry-after", "").isdigit(), f"429 without Retry-After: {headers}")
    sock, status, _, body = handshake(b)
    expect(status == 101, f"B while A is at its limit: expected 101, got {status} {body!r}")
    sock.close()
    held.pop().close()
    # The server sees the close when it reads; give it up to 10 s.
    deadline = time.monotonic() + 10
    while True:
        sock, status, _, _ = handshake(a)
        sock.close()
        if status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(status == 101, f"A after closing one: expected 101, got {status}")
    for s in held:
        s.close()
    return f"A: {MAX_CONN} x 101 then 429 + Retry-After; B: 101; A again after a close: 101"


def rate():
    c = "127.0.0.4"
    statuses, limited = [], None
    for _ in range(BURST + 2):
        sock, status, headers, body = handshake(c)
        sock.close()
        statuses.append(status)
        if status == 429 and "attempts" in body:
            limited = headers
    expect(limited is not None, f"a burst of {BURST + 2}: no 429 for the rate ({statuses})")
    expect(limited.get("retry-after", "").isdigit(), f"429 without Retry-After: {limited}")
    time.sleep(BURST / RATE + 1)
    sock, status, _, body = handshake(c)
    sock.close()
    expect(status == 101, f"after the refill: expected 101, got {status} {body!r}")
    return f"burst statuses {statuses}, Retry-After {limited['retry-after']}; after {BURST / RATE + 1:g} s: 101"


def main():
    failed = 0
    for check in (connections, rate):
        try:
            print(f"ok {NAME}:{check.__name__}: {check()}", flush=True)
        except (Failure, OSError) as e:
            print(f"FAIL {NAME}:{check.__name__}: {e}", flush=True)
            failed += 1
    return failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
