#!/usr/bin/env python3
"""Issue 19's benchmark: uWebSockets' `load_test` through the `gateway`
example and through nginx (`worker_processes 2`), side by side, to the same
echo upstream (uWebSockets' `uws_echo`, one thread, so the proxy is what is
measured; `UPSTREAM=echo` uses the release `echo` example instead).

Usage: python3 scripts/measure/gateway_load.py
       (needs `cargo build --release --example gateway --example echo --all-features`)
Env: LOAD_SECONDS (13), LOAD_CASES ("100x20 10x1024 200x16384"),
     LOAD_TEST (../shared/tools/load_test), UWS_ECHO (../shared/tools/uws_echo),
     GATEWAY_WORKERS (2: tokio worker threads, as nginx's 2 workers).

Per proxy and case: msg/s (the mean of load_test's 4-second samples after
the first) and the proxy's CPU per message: utime+stime of its processes
(the gateway; nginx's master and workers) from /proc/PID/stat between the
first and the last sample, over the messages echoed in between. Also the
direct row (load_test to the upstream, no proxy) for reference.

Measured 2026-12-06 (debug-free release build, one round, a shared
2-core machine, load 2.5 rising to 4.4: read the ratios, not the absolute
numbers), gateway / nginx: 100 x 20 B 0.64x msg/s, 1.18x CPU per message;
10 x 1 KiB 1.02x, 1.03x; 200 x 16 KiB 1.76x, 0.70x. Small messages cost
the gateway more than nginx: each relay is two `tokio::io::split` halves
(a lock per poll) over the upgraded IO's wrapper and idle timer.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "tools")
LOAD_TEST = os.environ.get("LOAD_TEST", os.path.join(SHARED, "load_test"))
UWS_ECHO = os.environ.get("UWS_ECHO", os.path.join(SHARED, "uws_echo"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "13"))
CASES = os.environ.get("LOAD_CASES", "100x20 10x1024 200x16384").split()
WORKERS = os.environ.get("GATEWAY_WORKERS", "2")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"FAIL gateway_load: a server exited ({proc.args})")
            time.sleep(0.1)
    sys.exit(f"FAIL gateway_load: nothing on port {port}")


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (14, 15)
        except OSError:
            pass
    return total


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def run_case(port, pids, connections, size):
    client = subprocess.Popen(["stdbuf", "-oL", LOAD_TEST, str(connections), "127.0.0.1", str(port), "0", "0", str(size)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    samples, first_cpu, last_cpu = [], None, None
    end = time.monotonic() + SECONDS
    try:
        for line in client.stdout:
            if "Msg/sec" not in line:
                continue
            cpu = cpu_ticks(pids)
            if first_cpu is None:
                first_cpu = cpu
            else:
                samples.append(float(line.split()[-1]))
                last_cpu = cpu
            if time.monotonic() > end:
                break
    finally:
        client.kill()
        client.wait()
    if not samples:
        return None
    rate = sum(samples) / len(samples)
    messages = sum(samples) * 4
    us = (last_cpu - first_cpu) / TICK * 1e6 / messages if messages else float("nan")
    return rate, us


def main():
    for tool in (LOAD_TEST,):
        if not os.access(tool, os.X_OK):
            print(f"{'FAIL' if os.environ.get('CI') == 'true' else 'skip'} gateway_load: {tool} missing")
            sys.exit(1 if os.environ.get("CI") == "true" else 77)
    procs = []
    try:
        up = free_port()
        if os.environ.get("UPSTREAM") == "echo" or not os.access(UWS_ECHO, os.X_OK):
            upstream = subprocess.Popen([os.path.join(ROOT, "target/release/examples/echo")],
                                        env={**os.environ, "ADDR": f"127.0.0.1:{up}", "RUST_LOG": "warn",
                                             "TRUSTED_PROXIES": "127.0.0.1", "CLIENT_SOURCE": "x-forwarded"},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            upstream_name = "echo example"
        else:
            upstream = subprocess.Popen([UWS_ECHO, str(up)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            upstream_name = "uws_echo"
        procs.append(upstream)
        wait_port(up, upstream)

        gw = free_port()
        gateway = subprocess.Popen([os.path.join(ROOT, "target/release/examples/gateway")],
                                   env={**os.environ, "ADDR": f"127.0.0.1:{gw}", "UPSTREAM": f"127.0.0.1:{up}",
                                        "RUST_LOG": "warn", "TOKIO_WORKER_THREADS": WORKERS},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        wait_port(gw, gateway)

        prefix = tempfile.mkdtemp(prefix="gateway-nginx-")
        ng = free_port()
        user = "user root;" if os.getuid() == 0 else ""
        with open(f"{prefix}/nginx.conf", "w") as f:
            f.write(f"""{user}
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream app {{ server 127.0.0.1:{up}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{ng};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 300s;
    }}
  }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-p", prefix, "-c", f"{prefix}/nginx.conf", "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx)
        wait_port(ng, nginx)
        time.sleep(0.5)

        rows = [("direct (no proxy)", up, lambda: [upstream.pid]),
                ("gateway", gw, lambda: [gateway.pid]),
                ("nginx (2 workers)", ng, lambda: [nginx.pid] + children(nginx.pid))]
        print(f"# gateway_load: upstream {upstream_name}, {SECONDS} s per row, gateway with {WORKERS} tokio workers; "
              f"load {os.getloadavg()[0]:.2f}")
        for case in CASES:
            n, size = (int(x) for x in case.split("x"))
            print(f"## {n} connections x {size} B")
            results = {}
            for name, port, pids in rows:
                result = run_case(port, pids(), n, size)
                results[name] = result
                if result is None:
                    print(f"{name:>20}: no samples")
                else:
                    print(f"{name:>20}: {result[0]:>10.0f} msg/s  {result[1]:6.1f} µs CPU/msg (proxy's own; upstream's for direct)")
            g, x = results.get("gateway"), results.get("nginx (2 workers)")
            if g and x:
                print(f"{'gateway / nginx':>20}: {g[0] / x[0]:.2f}x msg/s, {g[1] / x[1]:.2f}x CPU/msg")
        print(f"# load after: {os.getloadavg()[0]:.2f}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


main()
