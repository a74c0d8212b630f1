#!/usr/bin/env python3
"""Server CPU for one h2c upgrade request with a huge `Connection` list
(issue 9, defect 13). Not a test: a measurement, run by hand.

Sends `GET /` with `Upgrade: h2c`, a valid `HTTP2-Settings`, 90 small
headers and `Connection: Upgrade, HTTP2-Settings, t0, t1, ...` (TOKENS
tokens), reads the response head, and prints the server's CPU time
(utime + stime from /proc/PID/stat) spent on it. With `--plain`, the same
bytes without `Upgrade: h2c` (never switched), for comparison.

Usage: python3 scripts/measure/h2c_connection_cpu.py ADDR PID [--tokens 180000] [--plain] [-n 5]
"""
import argparse
import os
import socket
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12]: utime, stime (fields 14 and 15 of proc(5)).
    return (int(fields[11]) + int(fields[12])) / TICK


def request(addr, tokens, plain):
    # Short tokens: 180,000 of them fit hyper's default head buffer.
    listed = ",".join(chr(97 + i % 26) for i in range(tokens))
    lines = [
        "GET / HTTP/1.1",
        f"Host: {addr}",
        f"Connection: Upgrade, HTTP2-Settings, {listed}",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
    ]
    if not plain:
        lines.append("Upgrade: h2c")
    lines += [f"X-H{i}: v" for i in range(90)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("pid", type=int)
    p.add_argument("--tokens", type=int, default=180_000)
    p.add_argument("--plain", action="store_true")
    p.add_argument("-n", type=int, default=5)
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    req = request(a.addr, a.tokens, a.plain)
    costs = []
    for _ in range(a.n):
        before = cpu_seconds(a.pid)
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                break
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if not a.plain and " 101 " in status + " ":
            # Finish the switch: the preface and an empty SETTINGS, then
            # wait for the answer on stream 1 (so its encoding is counted).
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            s.settimeout(2)
            try:
                while True:
                    if not s.recv(65536):
                        break
            except socket.timeout:
                pass
        s.close()
        time.sleep(0.3)
        costs.append(cpu_seconds(a.pid) - before)
    print(
        f"tokens={a.tokens} plain={a.plain} bytes={len(req)} status={status!r} "
        f"server_cpu_ms={[round(c * 1000) for c in costs]}"
    )


if __name__ == "__main__":
    main()
