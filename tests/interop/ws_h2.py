#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) against the `echo` example, with the
Python `h2` package as the HTTP/2 client (prior knowledge, cleartext): the
crate's own WebSocket type on an extended CONNECT stream.

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/ws_h2.py
Env: EXPECT_DEFLATE=1 when echo runs with WS_DEFLATE=1: the client offers
permessage-deflate, and it must be agreed and used both ways.
Checks:
- settings:  the server's SETTINGS carry SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
             (RFC 8441 §3).
- connect:   CONNECT with :protocol websocket gets 200 (§5), with
             permessage-deflate in the answer when expected (RFC 7692 §5).
- echo:      text and binary messages, small, large (several DATA frames) and,
             with deflate, sent compressed, come back intact; with deflate a
             compressible echo comes back compressed (RSV1).
- lasting:   only when HTTP2_IDLE_TIMEOUT (seconds) is set, as the server's:
             a text message every 0.5 s for 3x that timeout is echoed, and no
             GOAWAY comes (issue 16: the stream counts as open while the
             WebSocket lives, whatever the handler does with the request).
- close:     our Close 1000 is answered with Close 1000 and the server ends
             its side of the stream (END_STREAM; an RST_STREAM(NO_ERROR) after
             it is accepted, RFC 9113 §8.1).
Prints `ok ws_h2.py:CHECK ...` or `FAIL ws_h2.py:CHECK: why`; exits 1 if any
failed, 77 if `h2` is missing (1 under CI=true).
"""
import os
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

NAME = "ws_h2.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)
DEFLATE = os.environ.get("EXPECT_DEFLATE") == "1"
TIMEOUT = 10.0

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: the Python h2 package is missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


class Failure(Exception):
    pass


def parse_frame(data):
    """One server frame at the start of `data`: (fin, rsv1, opcode, payload, length) or None."""
    if len(data) < 2:
        return None
    first, n = data[0], data[1] & 0x7F
    if data[1] & 0x80:
        raise Failure("the server masked a frame (RFC 6455 §5.1)")
    j = 2
    if n == 126:
        if len(data) < 4:
            return None
        n, j = struct.unpack("!H", data[2:4])[0], 4
    elif n == 127:
        if len(data) < 10:
            return None
        n, j = struct.unpack("!Q", data[2:10])[0], 10
    if len(data) < j + n:
        return None
    return bool(first & 0x80), bool(first & 0x40), first & 0x0F, data[j:j + n], j + n


class Client:
    def __init__(self):
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=TIMEOUT)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.stream = None
        self.data = b""
        self.ended = False
        self.reset = None
        self.remote_settings = {}
        self.response = None
        # RFC 7692 §7.2: raw deflate, context kept across messages unless
        # the server's answer says otherwise (no_client_context below).
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decompressor = zlib.decompressobj(-15)
        # Set when the server's answer has client_no_context_takeover
        # (RFC 7692 §7.1.1.2): then each message starts a new compressor.
        self.no_client_context = False

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Failure("the server closed the TCP connection")
        for event in self.conn.receive_data(chunk):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.remote_settings.update({k: v.new_value for k, v in event.changed_settings.items()})
            elif isinstance(event, h2.events.ResponseReceived):
                self.response = dict((k.decode(), v.decode()) for k, v in event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.data += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(event, h2.events.StreamReset):
                # RST_STREAM(NO_ERROR) after the server's END_STREAM only
                # says it reads no more (RFC 9113 §8.1); anything else fails.
                if event.error_code != 0 or not self.ended:
                    raise Failure(f"stream reset by the server (error {event.error_code})")
                self.reset = "RST_STREAM(NO_ERROR) after END_STREAM"
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise Failure(f"GOAWAY from the server (error {event.error_code})")
        self.flush()

    def send_ws(self, opcode, payload, compress=False):
        rsv1 = False
        if compress:
            if self.no_client_context:
                self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = self.compressor.compress(payload) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            assert payload.endswith(b"\x00\x00\xff\xff")
            payload, rsv1 = payload[:-4], True
        wire = wsraw.frame(opcode, payload, rsv1=rsv1)
        # h2 splits by the peer's frame size and flow-control window.
        while wire:
            while self.conn.local_flow_control_window(self.stream) == 0:
                self.pump()
            n = min(len(wire), self.conn.local_flow_control_window(self.stream), self.conn.max_outbound_frame_size)
            self.conn.send_data(self.stream, wire[:n])
            self.flush()
            wire = wire[n:]

    def recv_ws(self):
        """(rsv1, opcode, payload) of the next server message (one frame: the server does not fragment)."""
        while True:
            parsed = parse_frame(self.data)
            if parsed:
                fin, rsv1, opcode, payload, used = parsed
                self.data = self.data[used:]
                if not fin:
                    raise Failure("a fragmented server message (not expected from echo)")
                if rsv1:
                    payload = self.decompressor.decompress(payload + b"\x00\x00\xff\xff")
                return rsv1, opcode, payload
            if self.ended:
                raise Failure("the stream ended before a whole WebSocket frame")
            self.pump()


def main():
    results = []
    client = Client()

    def check(name, fn):
        try:
            results.append((name, True, fn()))
        except Exception as e:  # a crash of the check is a failure too
            why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            results.append((name, False, why))
            return False
        return True

    def settings():
        while h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL not in client.remote_settings:
            client.pump()
        value = client.remote_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        if value != 1:
            raise Failure(f"SETTINGS_ENABLE_CONNECT_PROTOCOL = {value}")
        return "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"

    def connect():
        client.stream = client.conn.get_next_available_stream_id()
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                   (":path", "/ws"), (":authority", ADDR), ("sec-websocket-version", "13")]
        if DEFLATE:
            headers.append(("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"))
        client.conn.send_headers(client.stream, headers)
        client.flush()
        while client.response is None:
            client.pump()
        status = client.response.get(":status")
        if status != "200":
            raise Failure(f"status {status}, headers {client.response}")
        extensions = client.response.get("sec-websocket-extensions", "")
        if DEFLATE and not extensions.startswith("permessage-deflate"):
            raise Failure(f"permessage-deflate not agreed: {extensions!r}")
        client.no_client_context = "client_no_context_takeover" in extensions
        if not DEFLATE and extensions:
            raise Failure(f"extensions agreed without an offer: {extensions!r}")
        return f"200, sec-websocket-extensions {extensions!r}"

    def echo():
        json = b'{"user":"ada","text":"hello over HTTP/2"}' * 50
        messages = [(0x1, b"hello"), (0x2, os.urandom(1000)), (0x1, json), (0x2, bytes(300_000)),
                    (0x2, os.urandom(200_000))]
        compressed_back = 0
        for opcode, payload in messages:
            compress = DEFLATE and len(payload) > 100
            client.send_ws(opcode, payload, compress=compress)
            rsv1, got_opcode, got = client.recv_ws()
            if (got_opcode, got) != (opcode, payload):
                raise Failure(f"sent opcode {opcode} with {len(payload)} bytes, got opcode {got_opcode} "
                              f"with {len(got)} bytes")
            compressed_back += rsv1
            if DEFLATE and payload in (json, bytes(300_000)) and not rsv1:
                raise Failure(f"a compressible {len(payload)}-byte echo came back uncompressed")
            if not DEFLATE and rsv1:
                raise Failure("RSV1 set without permessage-deflate")
        return f"{len(messages)} messages echoed intact, {compressed_back} of the echoes compressed"

    def lasting():
        idle = float(os.environ["HTTP2_IDLE_TIMEOUT"])
        start, sent = time.monotonic(), 0
        while time.monotonic() - start < 3 * idle:
            try:
                sent = lasting_one(start, sent)
            except Exception as e:
                why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
                raise Failure(f"after {sent} messages over {time.monotonic() - start:.1f} s "
                              f"(idle timeout {idle} s): {why}")
        return f"{sent} messages over {time.monotonic() - start:.1f} s (3 x the {idle} s idle timeout), no GOAWAY"

    def lasting_one(start, sent):
        payload = f"message {sent} at {time.monotonic() - start:.1f} s".encode()
        client.send_ws(0x1, payload)
        _, opcode, got = client.recv_ws()
        while opcode == 0x9:  # the server's keepalive Ping
            client.send_ws(0xA, got)
            _, opcode, got = client.recv_ws()
        if (opcode, got) != (0x1, payload):
            raise Failure(f"message {sent}: got opcode {opcode} {got[:40]!r}")
        time.sleep(0.5)
        return sent + 1

    def close():
        client.send_ws(0x8, struct.pack("!H", 1000) + b"done")
        rsv1, opcode, payload = client.recv_ws()
        while opcode == 0x9:  # a keepalive Ping sent before our Close arrived
            rsv1, opcode, payload = client.recv_ws()
        if opcode != 0x8 or wsraw.close_code(payload) != 1000:
            raise Failure(f"expected Close 1000, got opcode {opcode} payload {payload!r}")
        while not client.ended:
            client.pump()
        return f"Close 1000 answered, stream ended{', then ' + client.reset if client.reset else ''}"

    ok = check("settings", settings) and check("connect", connect) and check("echo", echo)
    if ok and os.environ.get("HTTP2_IDLE_TIMEOUT"):
        ok = check("lasting", lasting)
    if ok:
        check("close", close)
    client.sock.close()
    suffix = "+deflate" if DEFLATE else ""
    for name, passed, detail in results:
        print(f"{'ok' if passed else 'FAIL'} {NAME}:{name}{suffix}{' ' if passed else ': '}{detail}", flush=True)
    sys.exit(0 if all(p for _, p, _ in results) else 1)


if __name__ == "__main__":
    main()
