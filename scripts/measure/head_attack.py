#!/usr/bin/env python3
"""Memory a client can make the server hold with a large request head
(issue 9, defect 12). Not a test: a measurement, run by hand.

Opens N WebSocket upgrades, each with one ~380 KB header (the size hyper's
default head buffer still takes), keeps them open, and prints the server's
VmRSS (/proc/PID/status) before and after.

  --header extensions: `Sec-WebSocket-Extensions: permessage-deflate;a;a;...`
                       (190,000 parameters)
  --header pad:        `X-Pad: xxxx...` (380,000 bytes)
  --header none:       an ordinary upgrade, for comparison

Usage: python3 scripts/measure/head_attack.py ADDR PID [--header extensions|pad] [-n 20]
"""
import argparse
import socket
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def request(addr, header):
    if header == "extensions":
        big = "Sec-WebSocket-Extensions: permessage-deflate" + ";a" * 190_000
    elif header == "pad":
        big = "X-Pad: " + "x" * 380_000
    else:  # an ordinary upgrade, for comparison
        big = "X-Pad: x"
    return (
        "GET /ws HTTP/1.1\r\n"
        f"Host: {addr}\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"{big}\r\n\r\n"
    ).encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("pid", type=int)
    p.add_argument("--header", choices=["extensions", "pad", "none"], default="extensions")
    p.add_argument("-n", type=int, default=20)
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    before = rss_kib(a.pid)
    req = request(a.addr, a.header)
    socks = []
    for _ in range(a.n):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status + " ":
            print(f"not switched: {status}")
        socks.append(s)
    time.sleep(1.0)
    after = rss_kib(a.pid)
    print(
        f"header={a.header} n={a.n} sent={len(req) * a.n / 1e6:.1f} MB "
        f"rss_before={before / 1024:.1f} MiB rss_after={after / 1024:.1f} MiB "
        f"growth={(after - before) / 1024:.1f} MiB ({(after - before) / a.n:.0f} KiB/conn)"
    )
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
