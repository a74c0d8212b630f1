#!/usr/bin/env python3
"""Issue 16 against the `echo` example started with WS_PUSH_ROUTES=1 (the
`/ticker` and `/split-echo` routes of examples/support/push.rs), short
keepalive (WS_PING_MS) and a short write timeout (WS_WRITE_TIMEOUT_MS).

Usage: ADDR=127.0.0.1:3000 SERVER_LOG=path WS_PING_MS=500 WS_WRITE_TIMEOUT_MS=500 \
       python3 tests/interop/ws_push.py [CHECK...]
Checks (all by default):
- ticker_keepalive:   a raw client on /ticker that answers every Ping and sends
                      nothing else stays open through 10 ping intervals, sees
                      the server's Pings and a tick every 500 ms (the handler
                      only sends; it never polls its Receiver).
- split_write_timeout: a raw client on /split-echo that sends 64 KiB messages
                      and never reads is closed within the write timeout
                      (+ 5 s): the handler's halves work apart.
- abnormal_closure_logged: a client of /ws that drops TCP without a Close: the
                      handler's recv() reports the abnormal closure (1006),
                      which the layer logs as the handler's error in SERVER_LOG.
Prints `ok ws_push.py:CHECK ...` or `FAIL ws_push.py:CHECK: why`; exits 1 if any failed.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

NAME = "ws_push.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
PING_S = int(os.environ.get("WS_PING_MS", "500")) / 1000
WRITE_TIMEOUT_S = int(os.environ.get("WS_WRITE_TIMEOUT_MS", "500")) / 1000


class Failure(Exception):
    pass


def read_frames(sock, buf, until):
    """Reads what arrives before `until` (monotonic); returns (frames, rest, eof)."""
    frames = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            return frames, buf, True
        buf += chunk
        parsed = wsraw.parse_frames(buf)
        used = 0
        for op, payload in parsed:
            n = len(payload)
            used += 2 + (0 if n < 126 else 2 if n < 1 << 16 else 8) + n
        frames += parsed
        buf = buf[used:]
    return frames, buf, False


def ticker_keepalive():
    sock, _ = wsraw.handshake(ADDR, path="/ticker")
    buf, pings, ticks = b"", 0, 0
    end = time.monotonic() + 10 * PING_S
    while time.monotonic() < end:
        frames, buf, eof = read_frames(sock, buf, min(end, time.monotonic() + 0.1))
        for op, payload in frames:
            if op == 0x9:
                pings += 1
                sock.sendall(wsraw.frame(0xA, payload))
            elif op == 0x1:
                ticks += 1
            elif op == 0x8:
                raise Failure(f"Close {wsraw.close_code(payload)} after {pings} Pings and {ticks} ticks")
        if eof:
            raise Failure(f"EOF after {pings} Pings and {ticks} ticks")
    sock.close()
    want_ticks = int(10 * PING_S / 0.5) - 2
    if ticks < want_ticks or pings < 3:
        raise Failure(f"{ticks} ticks (want >= {want_ticks}) and {pings} Pings in 10 ping intervals "
                      f"({10 * PING_S:.1f} s)")
    return f"open through 10 ping intervals ({10 * PING_S:.1f} s): {ticks} ticks, {pings} Pings answered"


def split_write_timeout():
    sock, _ = wsraw.handshake(ADDR, path="/split-echo")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    message = wsraw.frame(0x2, os.urandom(64 * 1024))
    start, sent = time.monotonic(), 0
    bound = WRITE_TIMEOUT_S + 5
    sock.settimeout(0.5)
    while time.monotonic() - start < bound + 10:
        state = wsraw.closed_by_server(sock.fileno())
        if state and state.startswith("FIN"):
            break
        try:
            sock.sendall(message)
            sent += 1
        except socket.timeout:
            pass  # the server stopped reading too
        except OSError as e:  # reset: the server dropped the connection
            state = f"{type(e).__name__}"
            break
    else:
        raise Failure(f"still open {time.monotonic() - start:.1f} s after the client stopped reading "
                      f"({sent} messages sent; write timeout {WRITE_TIMEOUT_S} s)")
    took = time.monotonic() - start
    sock.close()
    if took > bound:
        raise Failure(f"closed ({state}) only after {took:.1f} s; write timeout {WRITE_TIMEOUT_S} s")
    return f"closed ({state}) {took:.1f} s after the client stopped reading ({sent} messages sent)"


def abnormal_closure_logged():
    log = os.environ.get("SERVER_LOG")
    if not log:
        raise Failure("SERVER_LOG is not set")
    before = os.path.getsize(log)
    sock, _ = wsraw.handshake(ADDR)
    sock.sendall(wsraw.frame(0x1, b"hello"))
    frames, buf, until = [], b"", time.monotonic() + 2
    while (0x1, b"hello") not in frames and time.monotonic() < until:
        more, buf, _ = read_frames(sock, buf, min(until, time.monotonic() + 0.05))
        frames += more
    if (0x1, b"hello") not in frames:
        raise Failure(f"no echo: {frames!r}")
    sock.close()  # FIN, no Close frame
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(before)
            new = f.read().decode(errors="replace")
        lines = [line for line in new.splitlines() if "1006" in line or "without a close frame" in line]
        if lines:
            return f"logged: {lines[0].strip()[-120:]}"
        time.sleep(0.1)
    raise Failure("a TCP drop without a Close left no trace in the server log (recv() ended with None, "
                  "as for a clean close)")


CHECKS = {f.__name__: f for f in (ticker_keepalive, split_write_timeout, abnormal_closure_logged)}


def main():
    failed = False
    for name in sys.argv[1:] or CHECKS:
        try:
            print(f"ok {NAME}:{name} {CHECKS[name]()}", flush=True)
        except Exception as e:
            failed = True
            why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            print(f"FAIL {NAME}:{name}: {why}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
