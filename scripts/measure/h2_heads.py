#!/usr/bin/env python3
"""Server memory per WebSocket-over-HTTP/2 stream (RFC 8441 extended
CONNECT) with large request heads, on one connection (issue 17). Not a
test: a measurement, run by hand (scripts/measure/h2_heads.sh runs every
variant against a fresh `echo` and keeps the output in benches/results/).

The layer keeps a bounded copy of each upgrade request's head (src/head.rs,
16 KiB by default); hyper's HTTP/2 server refuses a header list over 16 KiB
(SETTINGS_MAX_HEADER_LIST_SIZE, counted as RFC 9113 §6.5.2 counts: name +
value + 32 a field) and more than 200 concurrent streams. This opens one
HTTP/2 connection (prior knowledge, Python h2), one warm-up stream, then
STREAMS (190) extended CONNECT streams, each with the variant's headers,
each echoing one small message (so its buffers are in use), keeps them all
open and reads the server's VmRSS (/proc/PID/status). Then, past the
limits: one stream with a header list over the server's limit, and streams
past the concurrent-stream limit (the client's own check switched off);
then every stream reset and the RSS after.

Variants (--variant):
  small     only the headers extended CONNECT needs (what a stream costs
            without a large head)
  distinct  + 4 headers of VALUE (3,800) random bytes each, different on
            every stream and never indexed: the wire carries every byte
  indexed   + the same 4 x VALUE-byte header on every stream, sent once and
            then named by its HPACK dynamic-table index (RFC 7541): each
            later stream costs a few bytes on the wire for the same
            decoded head

Usage: ADDR=127.0.0.1:3000 SERVER_PID=1234 python3 scripts/measure/h2_heads.py --variant distinct
Prints `# ...` lines and one result line `h2_heads [LABEL] VARIANT: ...`.
The `echo` example's own backend (`messages`) frees the head when the
socket starts; WS_BACKEND=tungstenite keeps the `Upgraded`, and with it the
kept copy (h2_heads.sh runs both).
"""
import argparse
import os
import random
import socket
import string
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "interop"))
import wsraw  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    from h2.settings import SettingCodes
    from hpack import NeverIndexedHeaderTuple
except ImportError as e:
    print(f"h2_heads: the Python h2 package is missing ({e}); run scripts/install-peers.sh")
    sys.exit(1)

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HOST, PORT = ADDR.rsplit(":", 1)


def rss_kib(pid):
    return wsraw.rss_kib(pid)


def list_size(headers):
    """The header list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it."""
    return sum(len(n) + len(v) + 32 for n, v in headers)


class Stream:
    def __init__(self):
        self.status = None
        self.data = b""
        self.reset = None
        self.ended = False


class Client:
    def __init__(self):
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=30)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config)
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(16 << 20)
        self.streams = {}
        self.goaway = None
        self.settings = {}  # what the server's SETTINGS said
        self.flush()
        while not self.settings:
            self.pump()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)
        return len(out)

    def pump(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        for event in self.conn.receive_data(chunk):
            stream = self.streams.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings.update({k: v.new_value for k, v in event.changed_settings.items()})
            elif isinstance(event, h2.events.ResponseReceived) and stream:
                stream.status = dict(event.headers).get(":status")
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if stream:
                    stream.data += event.data
            elif isinstance(event, h2.events.StreamEnded) and stream:
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset) and stream:
                stream.reset = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event.error_code
        self.flush()

    def open(self, extra):
        """Sends one extended CONNECT; returns (stream id, wire bytes of its header block)."""
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = Stream()
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                   (":path", "/ws"), (":authority", ADDR), ("sec-websocket-version", "13")] + extra
        self.conn.send_headers(sid, headers)
        return sid, self.flush()

    def answered(self, sid):
        s = self.streams[sid]
        while s.status is None and s.reset is None and self.goaway is None:
            self.pump()
        return s

    def echo(self, sid, text):
        s = self.streams[sid]
        self.conn.send_data(sid, wsraw.frame(0x1, text))
        self.flush()
        want = 2 + len(text)  # an unmasked server frame under 126 bytes
        while len(s.data) < want and s.reset is None and self.goaway is None:
            self.pump()
        frames = wsraw.parse_frames(s.data)
        s.data = b""
        return frames and frames[0] == (0x1, text)


def big_headers(variant, value, n):
    if variant == "small":
        return []
    if variant == "indexed":
        v = "i" * value
        return [("x-big", v)] * n
    alphabet = string.ascii_letters + string.digits
    return [NeverIndexedHeaderTuple(f"x-big-{k}", "".join(random.choices(alphabet, k=value))) for k in range(n)]


def settle(pid):
    time.sleep(1.0)
    return rss_kib(pid)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--variant", choices=["small", "distinct", "indexed"], default="distinct")
    p.add_argument("--streams", type=int, default=190)
    p.add_argument("--value", type=int, default=3800, help="bytes of each large header's value")
    p.add_argument("--fields", type=int, default=4, help="large headers a stream")
    p.add_argument("--label", default="", help="a word for the result line (the server's backend)")
    args = p.parse_args()
    pid = int(os.environ["SERVER_PID"])

    client = Client()
    remote = client.settings
    limit_list = remote.get(SettingCodes.MAX_HEADER_LIST_SIZE)
    limit_streams = remote.get(SettingCodes.MAX_CONCURRENT_STREAMS)
    print(f"# server SETTINGS: ENABLE_CONNECT_PROTOCOL {remote.get(SettingCodes.ENABLE_CONNECT_PROTOCOL)}, "
          f"MAX_CONCURRENT_STREAMS {limit_streams}, MAX_HEADER_LIST_SIZE {limit_list}", flush=True)

    # Warm-up: one ordinary stream, echoed and kept, before the baseline.
    warm, _ = client.open([])
    if client.answered(warm).status != "200" or not client.echo(warm, b"warm-up"):
        print("h2_heads: the warm-up stream was not upgraded")
        return 1
    rss_before = settle(pid)

    wire, sizes, failed = [], [], 0
    for i in range(args.streams):
        extra = big_headers(args.variant, args.value, args.fields)
        sid, sent = client.open(extra)
        s = client.answered(sid)
        if s.status != "200" or not client.echo(sid, f"stream {i}".encode()):
            failed += 1
            print(f"# stream {sid}: status {s.status}, reset {s.reset}, goaway {client.goaway}")
            continue
        wire.append(sent)
        sizes.append(list_size([(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                                (":path", "/ws"), (":authority", ADDR), ("sec-websocket-version", "13")]
                               + [(str(n), str(v)) for n, v in extra]))
    rss_open = settle(pid)
    n = len(wire)
    growth = rss_open - rss_before
    print(f"h2_heads {args.label + ' ' if args.label else ''}{args.variant}: {n} of {args.streams} streams open ({failed} failed); "
          f"header list {min(sizes)}..{max(sizes)} B a stream (limit {limit_list}); "
          f"wire {sum(wire) / n:.0f} B a stream (first {wire[0]}, last {wire[-1]}); "
          f"server RSS {rss_before / 1024:.1f} -> {rss_open / 1024:.1f} MiB: "
          f"+{growth / n:.1f} KiB a stream", flush=True)

    # Past the header-list limit: a head of limit + 4 KiB.
    over = [("x-over", "o" * 3000)] * (((limit_list or 16384) + 4096) // 3043 + 1)
    sid, _ = client.open([NeverIndexedHeaderTuple(k, v) for k, v in over])
    s = client.answered(sid)
    alive = client.goaway is None and client.echo(warm, b"still here")
    print(f"# past the header-list limit ({list_size(over)} B of extra headers): status {s.status}, "
          f"RST_STREAM {s.reset}, GOAWAY {client.goaway}; the connection "
          f"{'still echoes' if alive else 'is gone'}", flush=True)

    # Past the concurrent-stream limit: switch h2's own check off.
    client.conn.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 1 << 20
    client.conn.remote_settings.acknowledge()
    opened, refused, other = 0, 0, []
    for _ in range(12):
        sid, _ = client.open([])
        s = client.answered(sid)
        if s.status == "200":
            opened += 1
        elif s.reset is not None:
            refused += 1
            last_reset = s.reset
        else:
            other.append(s.status)
    open_now = 1 + n + opened
    print(f"# past the concurrent-stream limit ({limit_streams}): 12 more streams with {1 + n} open: "
          f"{opened} upgraded (to {open_now} open), {refused} reset"
          f"{f' ({last_reset!r})' if refused else ''}{f', other {other}' if other else ''}; "
          f"GOAWAY {client.goaway}", flush=True)

    # Every stream reset: what stays.
    for sid, s in client.streams.items():
        if s.status == "200" and s.reset is None:
            try:
                client.conn.reset_stream(sid)
            except h2.exceptions.StreamClosedError:
                pass
    client.flush()
    time.sleep(2.0)
    rss_after = rss_kib(pid)
    print(f"# every stream reset: server RSS {rss_after / 1024:.1f} MiB 2 s later", flush=True)
    client.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
