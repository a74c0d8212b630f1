#!/usr/bin/env python3
"""Issue 18: one client that never reads, in a topic with 1,000 that do.

Against the `echo` example's `/topic` (scripts/interop.sh starts it with
WS_TOPIC_POLICY=<policy>, WS_MAX_MESSAGE=16384 and WS_MAX_WRITE_BUFFER=262144):
FAST Python `websockets` clients subscribe, and one of them publishes a
MSG_BYTES message RATE times a second. Phase 1 runs without the slow client;
phase 2 adds a raw socket with a 4 KiB receive buffer and a 1460-byte MSS
that reads nothing,
and lasts until the server has dealt with it (its counters say so) plus
PHASE_S. Both phases measure the fast clients' deliveries per second and
the server's RSS (/proc/SERVER_PID); they are printed side by side.

Checks:
  fast_clients_complete   every fast client got every message of both
                          phases, and none was closed
  slow_client_<policy>    drop: the server dropped messages for it
                          (tower_upgrade_topic_dropped_total) and, once it
                          reads, its connection is still open with fewer
                          messages than were published;
                          close / wait: the server closed it
                          (tower_upgrade_topic_slow_consumers_closed_total 1)
                          and, once it reads, it finds Close 1013 after
                          fewer messages than were published (the server
                          drops the queue of a subscriber it closes: what
                          comes first is what the kernel held)
  rate_unchanged          deliveries/s with it >= half of without (a
                          generous bound: the machine is shared)
  memory_unchanged        RSS peak with it <= peak without + 32 MiB

Usage: ADDR=127.0.0.1:3000 SERVER_PID=<echo's pid> python3 tests/interop/slow_consumer.py drop|close|wait
Env: FAST (1000), RATE (5 a second), MSG_BYTES (16000), PHASE_S (5).
Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
`websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

POLICY = sys.argv[1] if len(sys.argv) > 1 else "drop"
NAME = f"slow_consumer.py:{POLICY}"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
PID = int(os.environ["SERVER_PID"]) if os.environ.get("SERVER_PID") else None
FAST = int(os.environ.get("FAST", "1000"))
RATE = float(os.environ.get("RATE", "5"))
MSG_BYTES = int(os.environ.get("MSG_BYTES", "16000"))
PHASE_S = float(os.environ.get("PHASE_S", "5"))
TIMEOUT = 10.0
# Bounds on waiting, not measured times.
DEAL_WITH_S = 20.0
DRAIN_S = 10.0

try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)

failures = 0


def check(name, ok, why=""):
    global failures
    if ok:
        print(f"ok {NAME}:{name}")
    else:
        failures += 1
        print(f"FAIL {NAME}:{name}: {why}")


def counters():
    """The topic counters of the server's /metrics."""
    with urllib.request.urlopen(f"http://{ADDR}/metrics", timeout=TIMEOUT) as r:
        text = r.read().decode()
    found = {}
    for name in ("dropped", "slow_consumers_closed", "published"):
        m = re.search(rf"^tower_upgrade_topic_{name}_total(?:{{}})? (\S+)$", text, re.M)
        found[name] = float(m.group(1)) if m else 0.0
    return found


def rss_mib():
    return wsraw.rss_kib(PID) / 1024 if PID else float("nan")


class Fast:
    """The fast clients: they read everything and count it."""

    def __init__(self):
        self.sockets, self.counts, self.closed = [], [], {}

    async def open(self, n):
        limit = asyncio.Semaphore(50)

        async def one():
            async with limit:
                return await connect(
                    f"ws://{ADDR}/topic", compression=None, ping_interval=None,
                    open_timeout=TIMEOUT, close_timeout=2, max_size=1 << 20)

        self.sockets = await asyncio.gather(*(one() for _ in range(n)))
        self.counts = [0] * n
        self.tasks = [asyncio.create_task(self.read(i, ws)) for i, ws in enumerate(self.sockets)]

    async def read(self, i, ws):
        try:
            async for _ in ws:
                self.counts[i] += 1
        except ConnectionClosed as e:
            self.closed[i] = e.rcvd.code if e.rcvd else None
        else:
            self.closed[i] = ws.close_code

    def total(self):
        return sum(self.counts)

    async def drained(self, published):
        """Waits until every open fast client has `published` messages."""
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            if all(c >= published for i, c in enumerate(self.counts) if i not in self.closed):
                return True
            await asyncio.sleep(0.1)
        return False


async def publish_for(publisher, seconds, state, until=None):
    """Publishes RATE messages a second for `seconds` (after `until()` is
    true, if given); samples the server's RSS. Returns (elapsed, RSS samples)."""
    samples, start, n = [], time.monotonic(), 0
    done_at = None if until else start + seconds
    while True:
        now = time.monotonic()
        if done_at is None and (until() or now - start > DEAL_WITH_S):
            done_at = now + seconds
        if done_at is not None and now >= done_at:
            break
        state["seq"] += 1
        head = f"{state['seq']:08d} "
        await publisher.send(head + "x" * (MSG_BYTES - len(head)))
        samples.append(rss_mib())
        n += 1
        await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
    return time.monotonic() - start, samples


def slow_client():
    """A raw WebSocket on /topic with a small receive buffer, never read."""
    # An Ethernet-sized MSS: Linux sizes the server's send buffer from it,
    # about 4 MB with loopback's 64 KiB MSS and about 100 KB with this, as
    # for a client across a real network.
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096), (socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)]
    sock, _ = wsraw.handshake(ADDR, timeout=TIMEOUT, path="/topic", options=options)
    return sock


def wake(sock):
    """Reads what the slow client was sent: (text messages, close code or
    None, whether the server ended the connection)."""
    sock.settimeout(2.0)
    data, texts, code = b"", 0, None
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            return texts, code, False
        if not chunk:
            return texts, code, True
        data += chunk
        frames = wsraw.parse_frames(data)
        used = 0
        for opcode, payload in frames:
            used += len(payload) + (2 if len(payload) < 126 else 4 if len(payload) < 1 << 16 else 10)
            if opcode == 0x1:
                texts += 1
            elif opcode == 0x8:
                code = wsraw.close_code(payload)
        data = data[used:]
        if code is not None:
            return texts, code, True


def summary(samples):
    samples = [s for s in samples if s == s] or [float("nan")]
    return sum(samples) / len(samples), max(samples)


async def main():
    fast = Fast()
    t0 = time.monotonic()
    await fast.open(FAST)
    print(f"# {NAME}: {FAST} fast clients on ws://{ADDR}/topic in {time.monotonic() - t0:.1f} s; "
          f"{MSG_BYTES}-byte messages, {RATE:g} a second")
    publisher, state = fast.sockets[0], {"seq": 0}
    base = counters()

    # Phase 1: the fast clients only.
    before = fast.total()
    took1, rss1 = await publish_for(publisher, PHASE_S, state)
    got1 = fast.total() - before
    published1 = state["seq"]
    drained1 = await fast.drained(published1)

    # Phase 2: with the slow client, until the server dealt with it, then PHASE_S.
    slow = await asyncio.to_thread(slow_client)
    key = "dropped" if POLICY == "drop" else "slow_consumers_closed"
    dealt = {"done": False, "last": 0.0}

    def dealt_with():
        now = time.monotonic()
        if not dealt["done"] and now - dealt["last"] > 0.5:
            dealt["last"] = now
            dealt["done"] = counters()[key] > base[key]
        return dealt["done"]

    before = fast.total()
    took2, rss2 = await publish_for(publisher, PHASE_S, state, until=dealt_with)
    got2 = fast.total() - before
    published2 = state["seq"] - published1
    drained2 = await fast.drained(state["seq"])
    after = counters()

    rate1, rate2 = got1 / took1, got2 / took2
    (mean1, peak1), (mean2, peak2) = summary(rss1), summary(rss2)
    print("# phase               seconds  published  deliveries/s  server RSS mean/peak MiB")
    print(f"# without slow client  {took1:7.1f}  {published1:9d}  {rate1:12.0f}  {mean1:.1f} / {peak1:.1f}")
    print(f"# with slow client     {took2:7.1f}  {published2:9d}  {rate2:12.0f}  {mean2:.1f} / {peak2:.1f}")
    print(f"# server counters during the run: dropped {after['dropped'] - base['dropped']:.0f}, "
          f"slow consumers closed {after['slow_consumers_closed'] - base['slow_consumers_closed']:.0f}")

    short = [(i, c) for i, c in enumerate(fast.counts) if c < state["seq"]]
    check("fast_clients_complete", drained1 and drained2 and not fast.closed and not short,
          f"{len(fast.closed)} fast clients closed ({sorted(set(fast.closed.values()))}), "
          f"{len(short)} short of {state['seq']} messages (first: {short[:3]})")

    texts, code, ended = await asyncio.to_thread(wake, slow)
    print(f"# the slow client, once it read: {texts} of the {published2} messages of phase 2, "
          f"close code {code}, connection {'ended' if ended else 'open'}")
    closed = after["slow_consumers_closed"] - base["slow_consumers_closed"]
    if POLICY == "drop":
        check("slow_client_dropped",
              after["dropped"] > base["dropped"] and closed == 0 and code is None and not ended
              and texts < published2,
              f"dropped +{after['dropped'] - base['dropped']:.0f}, closed +{closed:.0f}, "
              f"close code {code}, ended {ended}, read {texts} of {published2}")
    else:
        check(f"slow_client_closed_by_{POLICY}", closed == 1 and code == 1013 and texts < published2,
              f"slow consumers closed +{closed:.0f}, close code {code}, read {texts} of {published2}")
    check("rate_unchanged", rate2 >= rate1 / 2,
          f"{rate2:.0f} deliveries/s with the slow client, {rate1:.0f} without")
    check("memory_unchanged", not peak2 > peak1 + 32, f"RSS peak {peak2:.1f} MiB with, {peak1:.1f} MiB without")

    slow.close()
    await asyncio.gather(*(ws.close() for ws in fast.sockets), return_exceptions=True)
    return 1 if failures else 0


try:
    sys.exit(asyncio.run(main()))
except (OSError, asyncio.TimeoutError) as e:
    print(f"FAIL {NAME}:run: {type(e).__name__}: {e}")
    sys.exit(1)
