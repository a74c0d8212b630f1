#!/usr/bin/env python3
"""Attacks on the `echo` example, with the server's resident memory watched
from /proc/SERVER_PID/status (sampled every 20 ms; the peak counts).

Usage: ADDR=127.0.0.1:3000 SERVER_PID=1234 python3 tests/interop/ws_attacks.py [CHECK...]
Checks (default: all that fit the server):
- bomb:        (EXPECT_DEFLATE=1 only) one permessage-deflate message that
               inflates to BOMB_MIB MiB of zeros; the server must close with
               1009 (RFC 6455 §7.4.1) and stay under RSS_LIMIT_MIB.
- slow_reader: a client that sends SLOW_READER_MB MB of 64 KiB binary
               messages to echo and never reads; the server must stop reading
               (backpressure) and stay under RSS_LIMIT_MIB. Prints how much it
               accepted before it stopped and the RSS it grew by.
- ping_flood:  PING_FLOOD_MB MB of empty Pings, never reading the Pongs; the
               server must stay under RSS_LIMIT_MIB (with EXPECT_DEFLATE=1 the
               client offers permessage-deflate and it must be agreed).
Sizes default to the CI ones (seconds on a debug build): BOMB_MIB=1024 (the
issue's size already: it travels as ~1 MiB), SLOW_READER_MB=20,
PING_FLOOD_MB=10. The issue's sizes, on a release build:
  SLOW_READER_MB=100 PING_FLOOD_MB=250
RSS_LIMIT_MIB defaults to 64. A sender "stalls" when the server has not taken
a byte for STALL_S seconds (default 2): that is the backpressure working.
Prints `ok ws_attacks.py:CHECK ...` or `FAIL ws_attacks.py:CHECK: why`.
"""
import os
import socket
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

NAME = "ws_attacks.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
DEFLATE = os.environ.get("EXPECT_DEFLATE") == "1"
RSS_LIMIT_KIB = int(os.environ.get("RSS_LIMIT_MIB", "64")) * 1024
STALL_S = float(os.environ.get("STALL_S", "2"))
OFFER = "permessage-deflate; client_max_window_bits"


class Failure(Exception):
    pass


def server_pid():
    pid = os.environ.get("SERVER_PID")
    if not pid or not os.path.exists(f"/proc/{pid}"):
        raise Failure(f"SERVER_PID={pid!r} is not a running process (interop.sh sets it)")
    return int(pid)


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def open_ws(deflate):
    sock, head = wsraw.handshake(ADDR, OFFER if deflate else None)
    if deflate and "permessage-deflate" not in head:
        raise Failure("the server did not agree to permessage-deflate")
    return sock


def push(sock, chunk, total):
    """Sends `chunk` repeatedly until `total` bytes or a stall; returns bytes sent."""
    sock.settimeout(STALL_S)
    sent = 0
    view = memoryview(chunk)
    while sent < total:
        n = min(len(chunk), total - sent)
        try:
            # sendall would hide how much of a partial send went through.
            off = 0
            while off < n:
                off += sock.send(view[off:n])
            sent += n
        except socket.timeout:
            return sent + off, "stalled"
        except (BrokenPipeError, ConnectionResetError):
            return sent + off, "closed by the server"
    return sent, "all sent"


def read_close(sock, timeout=10.0):
    """Reads until a Close frame or EOF; the close code (None on EOF)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        for opcode, payload in wsraw.parse_frames(data):
            if opcode == 0x8:
                return wsraw.close_code(payload)
    return None


def bomb():
    pid = server_pid()
    size = int(os.environ.get("BOMB_MIB", "1024")) << 20
    # RFC 7692 §7.2.1: raw deflate, the trailing 00 00 ff ff dropped. A full
    # flush resets the window and ends byte-aligned, so one compressed 16 MiB
    # block repeated is a valid stream (compressing 1 GiB would take ~30 s).
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = min(size, 16 << 20)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    payload = (block * (size // chunk))[:-4]
    assert zlib.decompressobj(-15).decompress(block) == bytes(chunk)
    sock = open_ws(True)
    watch = wsraw.RssWatch(pid)
    sent, how = push(sock, wsraw.frame(0x2, payload, rsv1=True), len(payload) + 14)
    code = read_close(sock)
    peak = watch.stop()
    sock.close()
    detail = (f"{size >> 20} MiB of zeros in a {len(payload) >> 10} KiB message, sent {sent >> 10} KiB ({how}); "
              f"close {code}; server RSS {mib(watch.start)} -> peak {mib(peak)}")
    if code != 1009:
        raise Failure(f"expected Close 1009: {detail}")
    if peak > RSS_LIMIT_KIB:
        raise Failure(f"RSS over {mib(RSS_LIMIT_KIB)}: {detail}")
    return detail


def slow_reader():
    pid = server_pid()
    total = int(os.environ.get("SLOW_READER_MB", "20")) * 1_000_000
    sock = open_ws(DEFLATE)
    # Random bytes: with deflate agreed they do not shrink, so the echo is as big.
    message = wsraw.frame(0x2, os.urandom(64 << 10))
    watch = wsraw.RssWatch(pid)
    sent, how = push(sock, message * 16, total)
    time.sleep(0.5)  # let the server settle at what it holds
    peak = watch.stop()
    sock.close()
    detail = (f"sent {sent / 1e6:.1f} of {total / 1e6:.0f} MB ({how}); server RSS {mib(watch.start)} -> "
              f"peak {mib(peak)} (+{mib(peak - watch.start)})")
    if peak > RSS_LIMIT_KIB:
        raise Failure(f"RSS over {mib(RSS_LIMIT_KIB)}: {detail}")
    return detail


def ping_flood():
    pid = server_pid()
    total = int(os.environ.get("PING_FLOOD_MB", "10")) * 1_000_000
    sock = open_ws(DEFLATE)
    ping = wsraw.frame(0x9)
    chunk = ping * ((1 << 20) // len(ping))
    watch = wsraw.RssWatch(pid)
    sent, how = push(sock, chunk, total)
    time.sleep(0.5)
    peak = watch.stop()
    sock.close()
    detail = (f"{sent / 1e6:.1f} of {total / 1e6:.0f} MB of empty Pings ({sent // len(ping)} Pings, {how}); "
              f"server RSS {mib(watch.start)} -> peak {mib(peak)}")
    if peak > RSS_LIMIT_KIB:
        raise Failure(f"RSS over {mib(RSS_LIMIT_KIB)}: {detail}")
    return detail


CHECKS = {"bomb": bomb, "slow_reader": slow_reader, "ping_flood": ping_flood}


def main():
    wanted = sys.argv[1:] or [c for c in CHECKS if c != "bomb" or DEFLATE]
    failed = 0
    suffix = "+deflate" if DEFLATE else ""
    for name in wanted:
        start = time.monotonic()
        try:
            detail = CHECKS[name]()
            print(f"ok {NAME}:{name}{suffix} ({time.monotonic() - start:.1f} s) {detail}", flush=True)
        except Exception as e:  # a crash of the check is a failure too
            failed += 1
            print(f"FAIL {NAME}:{name}{suffix}: {type(e).__name__ + ': ' if not isinstance(e, Failure) else ''}{e}",
                  flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
