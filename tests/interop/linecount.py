#!/usr/bin/env python3
"""Interop client for the `custom_protocol` example (Upgrade: linecount/1), raw sockets only.

After the 101 response the server answers each `\\n`-terminated line with its
length in bytes and a `\\n`, and closes the connection after the line `quit`.

`linecount/2` is the same protocol with a handshake of its own, written on
the crate's public `Protocol` trait: the request must carry
`Linecount-Max-Line: N` (1 to 65536); a bad or missing value gets 400 with
the reason, a good one is echoed in the 101, and a line longer than N ends
the session with `error: line too long`. Anything that is not an upgrade
gets 426 with `Upgrade` listing both versions (the endpoint form).

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/linecount.py
Prints `ok <check>` or `FAIL <check>: reason` per check; exits 1 if any failed.
"""
import os
import socket
import sys

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
TIMEOUT = 5.0
NAME = "linecount.py"
UPGRADE = f"GET / HTTP/1.1\r\nHost: {ADDR}\r\nConnection: Upgrade\r\nUpgrade: linecount/1\r\n\r\n".encode()
MULTIBYTE = "héllo wörld ✓ 🦀"  # 22 bytes in UTF-8, 15 characters


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


class Conn:
    def __init__(self):
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=TIMEOUT)
        self.buf = b""

    def fill(self, what):
        try:
            chunk = self.sock.recv(4096)
        except socket.timeout:
            raise Failure(f"timed out after {TIMEOUT}s waiting for {what}; have {self.buf!r}")
        if not chunk:
            raise Failure(f"connection closed while waiting for {what}; have {self.buf!r}")
        self.buf += chunk

    def read_until(self, sep, what):
        while sep not in self.buf:
            self.fill(what)
        out, _, self.buf = self.buf.partition(sep)
        return out

    def response_head(self):
        """Reads the HTTP response head; returns (status, {lower-case name: [values]})."""
        lines = self.read_until(b"\r\n\r\n", "the HTTP response").decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        expect(len(parts) >= 2 and parts[0] == "HTTP/1.1" and parts[1].isdigit(), f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        return int(parts[1]), headers

    def expect_upgraded(self):
        status, headers = self.response_head()
        expect(status == 101, f"expected HTTP/1.1 101, got {status}")
        upgrade = [v.lower() for v in headers.get("upgrade", [])]
        expect(upgrade == ["linecount/1"], f"expected header 'upgrade: linecount/1', got {headers.get('upgrade')}")
        conn = [t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")]
        expect("upgrade" in conn, f"expected header 'connection: upgrade', got {headers.get('connection')}")

    def line(self, text: str):
        self.sock.sendall(text.encode() + b"\n")
        want = str(len(text.encode())).encode()
        got = self.read_until(b"\n", f"the count for {text!r}")
        expect(got == want, f"sent {text!r}: expected {want.decode()!r}, got {got!r}")

    def quit(self):
        self.sock.sendall(b"quit\n")
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
        except socket.timeout:
            raise Failure(f"server did not close the connection within {TIMEOUT}s after 'quit'")
        except ConnectionResetError:
            pass  # closed, if not gracefully
        expect(self.buf == b"", f"expected EOF after 'quit', got {self.buf!r} first")

    def close(self):
        self.sock.close()


def upgrade_and_count():
    c = Conn()
    try:
        c.sock.sendall(UPGRADE)
        c.expect_upgraded()
        c.line("hello")
        c.line("")
        c.line(MULTIBYTE)
        c.line("x" * 1000)
        c.quit()
    finally:
        c.close()


def pipelined():
    # Request head and the first protocol bytes in one write: the server must
    # hand the bytes it read past the head to the upgraded protocol.
    c = Conn()
    try:
        c.sock.sendall(UPGRADE + b"hello\n" + MULTIBYTE.encode() + b"\n")
        c.expect_upgraded()
        for want in [b"5", str(len(MULTIBYTE.encode())).encode()]:
            got = c.read_until(b"\n", "the count of a pipelined line")
            expect(got == want, f"pipelined line: expected {want!r}, got {got!r}")
        c.quit()
    finally:
        c.close()


def split_writes():
    # A line arriving in pieces must be counted once, whole.
    c = Conn()
    try:
        c.sock.sendall(UPGRADE)
        c.expect_upgraded()
        for piece in [b"hel", b"lo wo", b"rld\n"]:
            c.sock.sendall(piece)
        got = c.read_until(b"\n", "the count of a line sent in three writes")
        expect(got == b"11", f"line sent in three writes: expected b'11', got {got!r}")
        c.quit()
    finally:
        c.close()


def wrong_protocol():
    c = Conn()
    try:
        c.sock.sendall(UPGRADE.replace(b"linecount/1", b"linecount/2"))
        status, _ = c.response_head()
        expect(status != 101, "Upgrade: linecount/2 must not be accepted, got 101")
    finally:
        c.close()


def upgrade_v2(max_line):
    head = UPGRADE.replace(b"linecount/1", b"linecount/2")
    if max_line is not None:
        head = head.replace(b"\r\n\r\n", f"\r\nLinecount-Max-Line: {max_line}\r\n\r\n".encode())
    return head


def v2_agrees_on_the_line_length():
    c = Conn()
    try:
        c.sock.sendall(upgrade_v2(8))
        status, headers = c.response_head()
        expect(status == 101, f"expected 101, got {status}")
        expect(headers.get("upgrade") == ["linecount/2"], f"upgrade: {headers.get('upgrade')}")
        agreed = headers.get("linecount-max-line")
        expect(agreed == ["8"], f"expected 'linecount-max-line: 8' in the 101, got {agreed}")
        c.line("12345678")
        c.sock.sendall(b"123456789\n")
        got = c.read_until(b"\n", "the answer to a line over the agreed length")
        expect(got == b"error: line too long", f"a 9-byte line with max 8: got {got!r}")
    finally:
        c.close()


def v2_refuses_a_bad_max_line():
    for value in [None, "0", "65537", "ten", "8, 9"]:
        c = Conn()
        try:
            c.sock.sendall(upgrade_v2(value))
            status, headers = c.response_head()
            expect(status == 400, f"Linecount-Max-Line {value!r}: expected 400, got {status}")
            expect("upgrade" not in headers, f"a 400 must not carry Upgrade: {headers}")
            length = int(headers.get("content-length", ["0"])[0])
            while len(c.buf) < length:
                c.fill("the 400's reason")
            reason = c.buf[:length].decode()
            expect("Linecount-Max-Line" in reason, f"Linecount-Max-Line {value!r}: reason {reason!r}")
        finally:
            c.close()


def not_an_upgrade_gets_426():
    # RFC 9110 §15.5.22: a 426 names the protocols in Upgrade.
    c = Conn()
    try:
        c.sock.sendall(f"GET / HTTP/1.1\r\nHost: {ADDR}\r\n\r\n".encode())
        status, headers = c.response_head()
        expect(status == 426, f"expected 426 to a plain GET, got {status}")
        offered = [t.strip() for v in headers.get("upgrade", []) for t in v.split(",")]
        expect(offered == ["linecount/1", "linecount/2"], f"426 Upgrade: {headers.get('upgrade')}")
    finally:
        c.close()


def main():
    print(f"# {NAME} against {ADDR}", flush=True)
    failed = 0
    checks = [upgrade_and_count, pipelined, split_writes, wrong_protocol]
    checks += [v2_agrees_on_the_line_length, v2_refuses_a_bad_max_line, not_an_upgrade_gets_426]
    for check in checks:
        name = f"{NAME}:{check.__name__}"
        try:
            check()
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every error is a failed check
            failed += 1
            reason = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            print(f"FAIL {name}: {reason}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
