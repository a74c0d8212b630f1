#!/usr/bin/env python3
"""Drain under load, h2c part (issue 10): DRAIN_CONNS (default 50, the CI
size; the issue's size is 200) connections upgraded with h2c to the `h2c`
example, each with a `POST /echo` whose body is half sent; then SIGINT to
the server (the example stops on ctrl-c). Every client must see GOAWAY
naming its stream as processed (RFC 9113 §6.8, code NO_ERROR), send the
rest of its body after it, and get the whole body echoed with 200; then
the server closes the connection. The server must exit within EXIT_S
(default 35: the serve default shutdown timeout of 30 s, plus slack).

Usage: ADDR=127.0.0.1:3000 SERVER_PID=1234 python3 tests/interop/h2c_drain.py
Prints a table and `ok h2c_drain.py ...` or `FAIL h2c_drain.py: why`.
"""
import os
import signal
import socket
import struct
import sys
import threading
import time

try:
    import hpack
except ImportError:
    if os.environ.get("CI") == "true":
        print("FAIL h2c_drain.py: the Python hpack package (with h2) is missing")
        sys.exit(1)
    print("skip h2c_drain.py: the Python hpack package is missing")
    sys.exit(77)

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
CONNS = int(os.environ.get("DRAIN_CONNS", "50"))
EXIT_S = float(os.environ.get("EXIT_S", "35"))
GOAWAY, HEADERS, DATA, SETTINGS, CONTINUATION, PING = 0x7, 0x1, 0x0, 0x4, 0x9, 0x6
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(kind, flags, stream, payload=b""):
    return struct.pack("!I", len(payload))[1:] + bytes([kind, flags]) + struct.pack("!I", stream) + payload


class Conn:
    def __init__(self, i):
        self.i = i
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=60)
        self.buf = b""
        self.decoder = hpack.Decoder()
        self.encoder = hpack.Encoder()
        self.goaway = None
        self.streams = {}  # id -> {"status", "data", "done"}

    def read_frame(self):
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    head, payload = self.buf[:9], self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def handle(self, f):
        kind, flags, stream, payload = f
        if kind == SETTINGS and not flags & ACK:
            self.sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.sock.sendall(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            self.goaway = struct.unpack("!II", payload[:8])
            self.goaway = (self.goaway[0] & 0x7FFFFFFF, self.goaway[1])
        elif kind in (HEADERS, CONTINUATION, DATA) and stream:
            s = self.streams.setdefault(stream, {"status": None, "data": b"", "done": False, "block": b""})
            if kind == DATA:
                s["data"] += payload
                if payload:
                    # Keep the windows open (RFC 9113 §6.9).
                    inc = struct.pack("!I", len(payload))
                    self.sock.sendall(frame(0x8, 0, 0, inc) + frame(0x8, 0, stream, inc))
            else:
                s["block"] += payload if kind == CONTINUATION else strip_headers(flags, payload)
                if flags & END_HEADERS:
                    for name, value in self.decoder.decode(s["block"]):
                        if name == ":status":
                            s["status"] = int(value)
                    s["block"] = b""
            if flags & END_STREAM and kind != CONTINUATION:
                s["done"] = True

    def until(self, done):
        while not done():
            f = self.read_frame()
            if f is None:
                return False
            self.handle(f)
        return True

    def upgrade(self):
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                          b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("closed during the upgrade")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"not switched: {head[:40]!r}")
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
        if not self.until(lambda: self.streams.get(1, {}).get("done")):
            raise RuntimeError("closed before stream 1 ended")

    def start_post(self):
        self.first = f"first half of {self.i};".encode()
        self.second = f"second half of {self.i}".encode()
        block = self.encoder.encode([(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                                     (":path", "/echo")])
        self.sock.sendall(frame(HEADERS, END_HEADERS, 3, block) + frame(DATA, 0, 3, self.first))

    def finish(self):
        if not self.until(lambda: self.goaway is not None):
            return "closed without GOAWAY"
        last, code = self.goaway
        if last < 3 or code != 0:
            return f"GOAWAY last stream {last} code {code}"
        self.sock.sendall(frame(DATA, END_STREAM, 3, self.second))
        if not self.until(lambda: self.streams.get(3, {}).get("done")):
            return "closed before the response ended"
        s = self.streams[3]
        if s["status"] != 200 or s["data"] != self.first + self.second:
            return f"status {s['status']} body {s['data'][:60]!r}"
        self.until(lambda: False)  # reads until the server closes
        return None


def strip_headers(flags, payload):
    """A HEADERS payload without padding and priority (RFC 9113 §6.2)."""
    pad = 0
    if flags & 0x8:
        pad, payload = payload[0], payload[1:]
    if flags & 0x20:
        payload = payload[5:]
    return payload[: len(payload) - pad]


def main():
    pid = int(os.environ["SERVER_PID"])
    conns, errors = [], []
    for i in range(CONNS):
        try:
            c = Conn(i)
            c.upgrade()
            c.start_post()
            conns.append(c)
        except Exception as e:
            errors.append(f"setup {i}: {e}")
    if errors:
        print(f"FAIL h2c_drain.py: {len(errors)} connections not set up: {errors[:3]}")
        sys.exit(1)
    time.sleep(0.5)  # the POSTs have reached the handler
    signalled = time.monotonic()
    os.kill(pid, signal.SIGINT)
    results = [None] * len(conns)

    def run(k):
        try:
            results[k] = conns[k].finish()
        except Exception as e:
            results[k] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clients_done = time.monotonic() - signalled
    exited = None
    while time.monotonic() - signalled < EXIT_S:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            state = "gone"
        if state in ("Z", "X", "gone"):
            exited = time.monotonic() - signalled
            break
        time.sleep(0.05)
    failures = [r for r in results if r]
    completed = len(results) - len(failures)
    print("| h2c connections | POSTs in flight at SIGINT | completed after GOAWAY | failed | clients done | server exited |")
    print("|---|---|---|---|---|---|")
    print(f"| {CONNS} | {len(conns)} | {completed} | {len(failures)} | {clients_done:.2f} s | "
          f"{'%.2f s' % exited if exited is not None else 'no'} |")
    if failures:
        print(f"FAIL h2c_drain.py: {len(failures)} of {len(conns)} in-flight requests failed: {failures[:3]}")
        sys.exit(1)
    if exited is None:
        print(f"FAIL h2c_drain.py: the server did not exit within {EXIT_S:.0f} s of SIGINT")
        sys.exit(1)
    print(f"ok h2c_drain.py {completed} of {CONNS} in-flight POSTs completed after GOAWAY; "
          f"server exited {exited:.2f} s after SIGINT")


if __name__ == "__main__":
    main()
