#!/usr/bin/env python3
"""Shutdown under load: DRAIN_CLIENTS clients (default 200, Python
`websockets`) echo continuously through the `echo` example, then the server
gets SIGTERM.

Usage: ADDR=127.0.0.1:3000 SERVER_PID=1234 DRAIN_CLIENTS=200 python3 tests/interop/ws_drain.py
(scripts/drain.sh starts the server and runs this.)

Each client keeps DRAIN_WINDOW numbered messages in flight (default 4): it
sends a message, and another each time an echo comes back, until the server's
Close arrives. Checks:
- close_1001:  every client gets a Close frame with code 1001 (going away).
- none_lost:   every echo is the message sent with that number, in order,
               and every message sent before SIGTERM was echoed. On loopback a
               message whose send() returned is in the server's socket buffer,
               and on shutdown the server reads all that has arrived and
               queues its Close behind those echoes, so a missing echo there
               is a lost message. Messages sent after SIGTERM and before the
               Close arrived may have reached the server after its Close left
               (it reads and drops data after its Close, RFC 6455 §1.4): they
               are counted separately as "in flight at Close" (at most
               DRAIN_WINDOW per client, the messages kept in flight).
- exit:        the process exits within DRAIN_TIMEOUT_S (default 10, echo's
               drain deadline) + DRAIN_MARGIN_S (default 2) after SIGTERM.
DRAIN_WARMUP_S (default 2) is how long every client echoes before SIGTERM.
Prints `ok ws_drain.py:CHECK ...` or `FAIL ws_drain.py:CHECK: why`; exits 1
if any failed, 77 if `websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import signal
import sys
import time

NAME = "ws_drain.py"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
URL = f"ws://{ADDR}/ws"
CLIENTS = int(os.environ.get("DRAIN_CLIENTS", "200"))
WINDOW = int(os.environ.get("DRAIN_WINDOW", "4"))
WARMUP = float(os.environ.get("DRAIN_WARMUP_S", "2"))
DRAIN_TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT_S", "10"))
MARGIN = float(os.environ.get("DRAIN_MARGIN_S", "2"))

try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
except ImportError as e:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: python websockets missing ({e}); run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


class Client:
    def __init__(self, n):
        self.n = n
        self.sent = 0  # messages 0..sent-1 were handed to the socket
        self.sent_at_term = None  # `sent` when SIGTERM went out
        self.echoed = 0  # echoes 0..echoed-1 came back, in order
        self.wrong = None  # the first echo that was not the expected message
        self.code = None  # close code received (None: no Close frame)
        self.error = None
        self.deflate = False

    def message(self, i):
        return f"client {self.n} message {i}"

    async def run(self, connected):
        try:
            # Pings off: only the server's keepalive runs. open_timeout is
            # generous: 200 handshakes on a busy debug build. permessage-deflate
            # is offered (websockets' default): used when echo has WS_DEFLATE=1.
            async with connect(URL, ping_interval=None, open_timeout=30, close_timeout=DRAIN_TIMEOUT,
                               max_queue=None) as ws:
                connected.release()
                self.deflate = "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
                try:
                    for _ in range(WINDOW):
                        await ws.send(self.message(self.sent))
                        self.sent += 1
                    sending = True
                    while True:
                        # Echoes that arrived before the Close are still
                        # handed out after it: read until recv() ends.
                        got = await ws.recv()
                        if got != self.message(self.echoed) and self.wrong is None:
                            self.wrong = f"echo {self.echoed} was {got!r}"
                        self.echoed += 1
                        if sending:
                            try:
                                await ws.send(self.message(self.sent))
                                self.sent += 1
                            except ConnectionClosed:
                                sending = False
                except ConnectionClosed:
                    pass
                rcvd = ws.protocol.close_rcvd
                self.code = rcvd.code if rcvd is not None else None
        except Exception as e:  # a failed handshake or a reset is reported per client
            connected.release()
            self.error = f"{type(e).__name__}: {e}"


def exited(pid):
    """Whether `pid` is gone or a zombie (exited, not yet waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def main():
    pid = int(os.environ["SERVER_PID"])
    clients = [Client(n) for n in range(CLIENTS)]
    connected = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(c.run(connected)) for c in clients]
    for _ in clients:
        await connected.acquire()
    await asyncio.sleep(WARMUP)
    before = sum(c.echoed for c in clients)
    for c in clients:
        c.sent_at_term = c.sent
    os.kill(pid, signal.SIGTERM)
    term = time.monotonic()
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT + MARGIN)
    for task in pending:
        task.cancel()
    exit_s = None
    while time.monotonic() - term < DRAIN_TIMEOUT + MARGIN:
        if exited(pid):
            exit_s = time.monotonic() - term
            break
        await asyncio.sleep(0.05)

    failed = 0

    def report(check, problems, detail):
        nonlocal failed
        if problems:
            failed += 1
            shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} clients)" if len(problems) > 5 else "")
            print(f"FAIL {NAME}:{check}: {shown}", flush=True)
        else:
            print(f"ok {NAME}:{check} {detail}", flush=True)

    errors = [f"client {c.n}: {c.error}" for c in clients if c.error]
    codes = {}
    for c in clients:
        codes[c.code] = codes.get(c.code, 0) + 1
    report("close_1001",
           errors + [f"client {c.n}: close code {c.code}" for c in clients if not c.error and c.code != 1001],
           f"{CLIENTS} clients ({sum(c.deflate for c in clients)} with permessage-deflate), "
           f"close codes {codes}, {len(pending)} still open at the deadline")
    in_flight = [c.sent - c.echoed for c in clients if not c.error]
    lost = [f"client {c.n}: {c.wrong}" for c in clients if c.wrong]
    lost += [f"client {c.n}: {c.sent_at_term} sent before SIGTERM, {c.echoed} echoed"
             for c in clients if not c.error and c.echoed < c.sent_at_term]
    total_sent = sum(c.sent for c in clients)
    total_echoed = sum(c.echoed for c in clients)
    report("none_lost", lost,
           f"{total_sent} sent, {total_echoed} echoed in order ({before} echoed before SIGTERM, "
           f"every one of the {sum(c.sent_at_term or 0 for c in clients)} sent before SIGTERM echoed), 0 lost; "
           f"in flight at Close {sum(in_flight)} (per client min {min(in_flight, default=0)} "
           f"max {max(in_flight, default=0)}, window {WINDOW}: sent after SIGTERM, before the "
           f"server's Close arrived; read by the server after its Close and dropped, RFC 6455 §1.4)")
    report("exit", [] if exit_s is not None else
           [f"server pid {pid} still running {DRAIN_TIMEOUT + MARGIN:.0f} s after SIGTERM"],
           f"server exited {exit_s if exit_s is None else round(exit_s, 2)} s after SIGTERM "
           f"(drain deadline {DRAIN_TIMEOUT:.0f} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
