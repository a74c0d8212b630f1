#!/usr/bin/env python3
"""Interop client for the `h2c` example, built on the Python `h2` package
(hyper-h2), which performs the HTTP/1.1 -> HTTP/2 upgrade itself
(RFC 7540 §3.2): the HTTP2-Settings value comes from h2's
`initiate_upgrade_connection`, and h2 checks every frame the server sends.

Then offers the server must not switch (bad HTTP2-Settings, `Upgrade: h2`,
a body over the bound, a chunked body) are checked to be answered in full
over HTTP/1.1, and a bad client preface to end only its own connection, with a GOAWAY
that says why.

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/h2c_client.py
Prints `ok <check>` or `FAIL <check>: reason` per check; exits 1 if any failed.
"""
import base64
import os
import socket
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError:
    if os.environ.get("CI") == "true":
        print("FAIL h2c_client.py: the Python h2 package is missing (pip install -r tests/interop/requirements.txt)")
        sys.exit(1)
    print("skip h2c_client.py: the Python h2 package is missing")
    sys.exit(77)

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
TIMEOUT = 10.0
HELLO = b"hello from tower-upgrade\n"


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


class Conn:
    def __init__(self):
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=TIMEOUT)
        self.buf = b""

    def recv(self, what):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Failure(f"timed out after {TIMEOUT}s waiting for {what}")
        return chunk

    def head(self):
        """Reads an HTTP/1.1 response head: (status, {name: value}), keeps the rest in buf."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.recv("the response head")
            expect(chunk, f"closed before the response head; have {self.buf!r}")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        expect(lines[0].startswith("HTTP/1.1 "), f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(lines[0].split()[1]), headers

    def http1_body(self, headers):
        expect("content-length" in headers, f"no content-length in {headers}")
        n = int(headers["content-length"])
        while len(self.buf) < n:
            chunk = self.recv("the HTTP/1.1 body")
            expect(chunk, "closed inside the HTTP/1.1 body")
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return body


def upgrade_request(method, target, settings, body=b"", extra=""):
    return (
        f"{method} {target} HTTP/1.1\r\nHost: {ADDR}\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        f"Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class H2Upgrade:
    """An h2 client connection that upgrades from HTTP/1.1."""

    def __init__(self, method, target, body=b""):
        self.conn = Conn()
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        settings = self.h2.initiate_upgrade_connection().decode()
        self.conn.sock.sendall(upgrade_request(method, target, settings, body))
        status, headers = self.conn.head()
        expect(status == 101, f"expected 101, got {status} {headers}")
        expect(headers.get("upgrade", "").lower() == "h2c", f"Upgrade header {headers.get('upgrade')!r}")
        self.conn.sock.sendall(self.h2.data_to_send())
        self.streams = {}
        self.events = []
        if self.conn.buf:
            self.feed(self.conn.buf)

    def feed(self, data):
        for event in self.h2.receive_data(data):
            self.events.append(event)
            s = self.streams.setdefault(getattr(event, "stream_id", 0), {"headers": {}, "body": b"", "done": False})
            if isinstance(event, h2.events.ResponseReceived):
                s["headers"] = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h2.events.DataReceived):
                s["body"] += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                s["done"] = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise Failure(f"server ended the connection: {event}")
        self.conn.sock.sendall(self.h2.data_to_send())

    def wait(self, stream_id):
        while not self.streams.get(stream_id, {}).get("done"):
            data = self.conn.recv(f"stream {stream_id}")
            expect(data, f"connection closed before stream {stream_id} ended")
            self.feed(data)
        return self.streams[stream_id]

    def request(self, method, path, body=b""):
        sid = self.h2.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":authority", ADDR), (":path", path)]
        self.h2.send_headers(sid, headers, end_stream=not body)
        size = self.h2.max_outbound_frame_size
        for i in range(0, len(body), size):
            self.h2.send_data(sid, body[i : i + size], end_stream=i + size >= len(body))
        self.conn.sock.sendall(self.h2.data_to_send())
        return sid


def check_get_upgrade():
    c = H2Upgrade("GET", "/")
    s = c.wait(1)
    expect(s["headers"].get(":status") == "200", f"stream 1 status {s['headers']}")
    expect(s["body"] == HELLO, f"stream 1 body {s['body']!r}")
    sid = c.request("GET", "/")
    expect(sid == 3, f"h2 chose stream {sid} after the upgrade")
    expect(c.wait(sid)["body"] == HELLO, "stream 3 body")
    acks = [e for e in c.events if isinstance(e, h2.events.SettingsAcknowledged)]
    expect(len(acks) == 1, f"{len(acks)} SETTINGS ACKs for one SETTINGS frame")


def check_post_upgrade():
    body = bytes(range(256)) * 200  # 51,200 bytes: four DATA frames on stream 1
    c = H2Upgrade("POST", "/echo", body)
    s = c.wait(1)
    expect(s["headers"].get(":status") == "200", f"stream 1 status {s['headers']}")
    expect(s["body"] == body, f"stream 1 echoed {len(s['body'])} of {len(body)} bytes")


def check_concurrent_streams():
    c = H2Upgrade("GET", "/")
    c.wait(1)
    # All ten requests are sent before any response is read; together they
    # stay within the default 65,535-byte windows this client keeps to.
    sent = {c.request("POST", "/echo", f"body {i} ".encode() * (i * 100 + 1)): i for i in range(10)}
    for sid, i in sent.items():
        expect(c.wait(sid)["body"] == f"body {i} ".encode() * (i * 100 + 1), f"stream {sid} body")


def check_options_star_upgrade():
    # nghttp2 upgrades with `OPTIONS *`; :path is `*` on stream 1 (RFC 9113 §8.3.1).
    c = H2Upgrade("OPTIONS", "*")
    s = c.wait(1)
    expect(s["headers"].get(":status") == "204", f"stream 1 status {s['headers']}")
    expect("GET" in s["headers"].get("allow", ""), f"stream 1 Allow {s['headers']}")
    expect(c.wait(c.request("GET", "/"))["body"] == HELLO, "stream 3 body")


def settings_b64(pairs):
    raw = b"".join(i.to_bytes(2, "big") + v.to_bytes(4, "big") for i, v in pairs)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def http1_answer(raw, expect_body=HELLO):
    c = Conn()
    c.sock.sendall(raw)
    status, headers = c.head()
    expect(status == 200, f"expected the HTTP/1.1 answer 200, got {status} {headers}")
    expect("upgrade" not in headers, f"Upgrade in a non-switched answer: {headers}")
    body = c.http1_body(headers)
    expect(body == expect_body, f"HTTP/1.1 body {body[:60]!r}")


GOOD = settings_b64([(3, 100), (4, 65535)])
NOT_SWITCHED = {
    "padding": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {base64.urlsafe_b64encode(bytes(6)).decode()}=\r\n",
    "plain base64": "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP//\r\n",
    "partial setting": "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQ\r\n",
    "ENABLE_PUSH=2": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {settings_b64([(2, 2)])}\r\n",
    "MAX_FRAME_SIZE=100": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {settings_b64([(5, 100)])}\r\n",
    "INITIAL_WINDOW_SIZE=2^31": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {settings_b64([(4, 1 << 31)])}\r\n",
    "two HTTP2-Settings": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {GOOD}\r\nHTTP2-Settings: {GOOD}\r\n",
    "no HTTP2-Settings": "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n",
    "Connection lacks HTTP2-Settings": f"Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: {GOOD}\r\n",
    "Upgrade: h2": f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2\r\nHTTP2-Settings: {GOOD}\r\n",
}


def check_not_switched(extra):
    http1_answer(f"GET / HTTP/1.1\r\nHost: {ADDR}\r\n{extra}Connection-Close-Marker: 1\r\n\r\n".encode())


def check_body_over_bound():
    body = b"x" * 70_000
    http1_answer(upgrade_request("POST", "/echo", GOOD, body), expect_body=body)


def check_chunked_body():
    raw = (
        f"POST /echo HTTP/1.1\r\nHost: {ADDR}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        f"HTTP2-Settings: {GOOD}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ).encode()
    http1_answer(raw, expect_body=b"hello")


def check_bad_preface():
    c = Conn()
    c.sock.sendall(upgrade_request("GET", "/", GOOD))
    status, _ = c.head()
    expect(status == 101, f"expected 101, got {status}")
    c.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    received = c.buf
    while True:
        try:
            chunk = c.sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise Failure("the server kept a connection with a bad preface open")
        if not chunk:
            break
        received += chunk
    expect(b"hello" not in received, "stream 1 was answered after a bad preface")
    # RFC 7540 §3.5: PROTOCOL_ERROR; the GOAWAY says why.
    goaway, rest = None, received
    while len(rest) >= 9:
        length = int.from_bytes(rest[:3], "big")
        if rest[3] == 7:
            goaway = rest[9 : 9 + length]
        rest = rest[9 + length :]
    expect(goaway is not None, f"no GOAWAY in {received!r}")
    expect(goaway[4:8] == b"\x00\x00\x00\x01", f"GOAWAY error code {goaway[4:8]!r}")
    expect(goaway[8:] == b"invalid connection preface", f"GOAWAY reason {goaway[8:]!r}")
    # The server is otherwise undisturbed.
    check_get_upgrade()


CHECKS = [
    ("upgrade GET, stream 1 and 3", check_get_upgrade),
    ("upgrade POST with body on stream 1", check_post_upgrade),
    ("concurrent streams after the switch", check_concurrent_streams),
    ("upgrade with OPTIONS *, answered on stream 1", check_options_star_upgrade),
    *[(f"not switched: {name}", lambda extra=extra: check_not_switched(extra)) for name, extra in NOT_SWITCHED.items()],
    ("not switched: body over the bound, answered in full", check_body_over_bound),
    ("not switched: chunked body", check_chunked_body),
    ("bad preface: GOAWAY(PROTOCOL_ERROR) with the reason, only that connection closed", check_bad_preface),
]


def main():
    failed = 0
    for name, check in CHECKS:
        try:
            check()
            print(f"ok h2c_client.py: {name}")
        except (Failure, OSError, h2.exceptions.ProtocolError) as e:
            print(f"FAIL h2c_client.py: {name}: {e}")
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    import h2.exceptions

    main()
