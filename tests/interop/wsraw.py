"""Raw WebSocket client pieces for the attack and keepalive checks: a
handshake over a plain socket, frame building, masking, and what the kernel
knows about a socket the client does not read (TCP state, bytes queued).

Also the server's resident memory from /proc, for the RSS bounds.
"""
import base64
import os
import socket
import struct
import threading
import time

TCP_CLOSE_WAIT = 8  # include/net/tcp_states.h: the peer sent FIN


def handshake(addr, extensions=None, timeout=5.0, path="/ws", options=()):
    """Opens ws://addr{path} on a blocking socket; returns (sock, response head).
    `options`: (level, name, value) socket options set before the connect
    (a receive buffer or an MSS only takes effect then)."""
    host, port = addr.rsplit(":", 1)
    sock = socket.socket()
    for level, name, value in options:
        sock.setsockopt(level, name, value)
    sock.settimeout(timeout)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    ext = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed during the handshake after {head!r}")
        head += chunk
    text = head.decode("latin-1")
    if not text.startswith("HTTP/1.1 101"):
        raise ConnectionError(f"not switched: {text.splitlines()[0]!r}")
    return sock, text.lower()


def mask_bytes(payload, key):
    """Client-to-server masking (RFC 6455 §5.3), a machine word at a time."""
    if not payload:
        return b""
    n = len(payload)
    reps = key * (n // 4 + 1)
    return (int.from_bytes(payload, "little") ^ int.from_bytes(reps[:n], "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv1=False, key=b"\x11\x22\x33\x44"):
    """A masked client frame."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + key + mask_bytes(payload, key)


def parse_frames(data):
    """Server frames (unmasked) at the start of `data`: [(opcode, payload)];
    a trailing partial frame is left out."""
    frames, i = [], 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            if j + 2 > len(data):
                break
            n, j = struct.unpack("!H", data[j : j + 2])[0], j + 2
        elif n == 127:
            if j + 8 > len(data):
                break
            n, j = struct.unpack("!Q", data[j : j + 8])[0], j + 8
        if j + n > len(data):
            break
        frames.append((opcode, data[j : j + n]))
        i = j + n
    return frames


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def tcp_state(fd):
    """The kernel's TCP state of a socket (tcpi_state, the first byte of TCP_INFO)."""
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    finally:
        s.close()


def peek(fd, limit=1 << 20):
    """What is queued for reading on fd, without reading it."""
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.recv(limit, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return b""
    finally:
        s.close()


def closed_by_server(fd):
    """None while the server keeps the connection; otherwise what it did:
    a Close frame queued for us (with its code) or its FIN."""
    data = peek(fd)
    closes = [p for op, p in parse_frames(data) if op == 0x8]
    if closes:
        return f"Close {close_code(closes[0])}"
    if tcp_state(fd) == TCP_CLOSE_WAIT:
        return "FIN without a Close frame"
    return None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssWatch:
    """Samples a process's VmRSS every 20 ms in a thread; .peak is the most seen."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, rss_kib(pid), threading.Event()
        self.start = self.peak
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, RuntimeError):
                return
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak
