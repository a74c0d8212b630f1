#!/usr/bin/env python3
"""Scrapes `/metrics` of the `echo` or `chat` example with curl before and
after a run of WebSocket clients (Python `websockets`), and checks the
crate's counters moved by what the clients did (issue 11):

- `tower_upgrade_accepted_total` +N after N clients connected;
- `tower_upgrade_rejected_total{reason="forbidden_origin"}` +1 after one
  cross-origin handshake (answered 403);
- `tower_upgrade_connection_duration_seconds_count` +N, with buckets up to
  24 h (`le="86400"`);
- `tower_upgrade_active` back to 0 once the clients closed.

And, from the first scrape, before this script's clients (issue 17):
every series the docs list exists, whatever traffic came before: the
README's table of series ("Every series the crate emits"), with the
`reason` values of the tables in `src/rejection/mod.rs` and
`src/websocket/rejection.rs` for `protocol="websocket"`, and no
`tower_upgrade_` series the table does not list. On a server no client has
used yet (no attempt counted), every value is 0; `EXPECT_FRESH=1` makes
that check mandatory (run the script first against a new server).

The server must serve no other client meanwhile (scripts/interop.sh runs its
clients one after another).

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/metrics_scrape.py
Prints `ok <check>` or `FAIL <check>: reason` per check; exits 1 if any
failed, 77 if curl or `websockets` is missing (1 under CI=true).
"""
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time

ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECT_FRESH = os.environ.get("EXPECT_FRESH") == "1"
URL = f"ws://{ADDR}/ws"
NAME = "metrics_scrape.py"
TIMEOUT = 5.0
CLIENTS = 5
# How long the active gauge may take to come back to 0 after the clients
# closed: a bound on waiting, not a measured time.
SETTLE = 15.0


def missing(what):
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: {what}; run scripts/install-peers.sh")
    sys.exit(1 if ci else 77)


try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
except ImportError as e:
    missing(f"python websockets missing ({e})")
if shutil.which("curl") is None:
    missing("curl not found")

SERIES = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def scrape():
    """`{(name, frozenset(labels)): value}` from curl's copy of /metrics."""
    out = subprocess.run(
        ["curl", "-sS", "--fail", "--max-time", "10", f"http://{ADDR}/metrics"],
        capture_output=True, text=True, timeout=20,
    )
    if out.returncode != 0:
        raise Failure(f"curl http://{ADDR}/metrics: exit {out.returncode}: {out.stderr.strip()}")
    series = {}
    for line in out.stdout.splitlines():
        m = SERIES.match(line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            series[(m.group(1), labels)] = float(m.group(3))
    return series


def quoted(text):
    """The words in backticks of `text`."""
    return text.split("`")[1::2]


def documented_series():
    """`{name: (type, {label: [values] or None})}` from the README's table."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    table = readme.split("Every series the crate emits:", 1)[1].lstrip("\n")
    series = {}
    for row in table.splitlines():
        if not row.startswith("|"):
            break
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.split("|")]
        name, kind, labels = quoted(cells[1])[0], cells[2], cells[3]
        if " = " in labels:
            key, values = labels.split(" = ", 1)
            labels = {quoted(key)[0]: quoted(values)}
        else:
            labels = {k: None for k in quoted(labels)}
        series[name] = (kind, labels)
    return series


def documented_reasons(path):
    """The `reason` column of a table of causes in a module's docs."""
    reasons = set()
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        for line in f:
            if line.startswith("//! | ["):
                cell = line.split("|")[3].strip()
                if cell.count("`") == 2 and cell.startswith("`") and cell.endswith("`"):
                    reasons.add(cell.strip("`"))
    return reasons


def expected_series():
    """Every `(name, labels)` the docs make known in advance for a server
    offering WebSocket; `upgrade_required` (under `protocol="none"`) only
    exists where the layer requires an upgrade, so it is left out."""
    core = documented_reasons("src/rejection/mod.rs")
    websocket = documented_reasons("src/websocket/rejection.rs")
    if not core or not websocket:
        raise Failure("no table of causes found in src/rejection/mod.rs or src/websocket/rejection.rs")
    reasons = (core - {"upgrade_required"}) | websocket
    expected = set()
    for name, (kind, labels) in documented_series().items():
        if "reason" in labels:
            combos = [{"protocol": "websocket", "reason": r} for r in sorted(reasons)]
        elif "protocol" in labels:
            combos = [{"protocol": "websocket"}]
        elif labels:
            (key, values), = labels.items()
            combos = [{key: v} for v in values]
        else:
            combos = [{}]
        suffixes = ["_count", "_sum"] if kind == "histogram" else [""]
        for combo in combos:
            for suffix in suffixes:
                expected.add((name + suffix, frozenset(combo.items())))
    return expected


def documented_name(name, documented):
    """The table's name of a rendered series (a histogram renders three)."""
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in documented:
            return name[: -len(suffix)]
    return name


def check_first_scrape(series):
    documented = documented_series()
    if len(documented) < 10:
        raise Failure(f"the README's table of series was not found whole: {sorted(documented)}")
    missing = sorted(f"{n}{{{','.join(f'{k}={v!r}' for k, v in sorted(l))}}}"
                     for n, l in expected_series() - set(series))
    check("every_documented_series_present", not missing,
          f"{len(missing)} documented series missing from the first scrape: {', '.join(missing[:8])}")
    ours = {n for n, _ in series if n.startswith("tower_upgrade_")}
    undocumented = sorted({documented_name(n, documented) for n in ours} - set(documented))
    check("no_undocumented_series", not undocumented,
          f"series the README's table does not list: {', '.join(undocumented)}")
    fresh = value(series, "tower_upgrade_attempts_total") == 0
    if not fresh and not EXPECT_FRESH:
        print(f"skip {NAME}:all_zero_before_traffic: clients came before this script "
              "(run it first, with EXPECT_FRESH=1, against a new server)")
        return
    moved = sorted(f"{n}{dict(l)}={v}" for (n, l), v in series.items()
                   if n.startswith("tower_upgrade_") and v != 0)
    check("all_zero_before_traffic", fresh and not moved,
          f"before any traffic, not 0: {', '.join(moved[:8])}")


def value(series, name, **labels):
    """The sum over the series named `name` that carry `labels`."""
    want = set(labels.items())
    return sum(v for (n, l), v in series.items() if n == name and want <= l)


class Failure(Exception):
    pass


failed = 0


def check(name, cond, why):
    global failed
    if cond:
        print(f"ok {NAME}:{name}")
    else:
        failed += 1
        print(f"FAIL {NAME}:{name}: {why}")


async def client(i):
    async with connect(URL, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        await asyncio.wait_for(ws.send(f"metrics client {i}"), TIMEOUT)
        # echo sends the text back; chat says who joined first.
        await asyncio.wait_for(ws.recv(), TIMEOUT)


async def cross_origin():
    try:
        async with connect(URL, origin="http://evil.example", open_timeout=TIMEOUT):
            return "accepted"
    except InvalidStatus as e:
        return e.response.status_code


async def settled(ws):
    """A scrape once `tower_upgrade_active` is 0, or the last one after SETTLE s."""
    deadline = time.monotonic() + SETTLE
    series = scrape()
    while value(series, "tower_upgrade_active", **ws) != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        series = scrape()
    return series


async def main():
    ws = dict(protocol="websocket")
    check_first_scrape(scrape())
    # Earlier clients' connections may still be ending; their durations
    # would land between the two scrapes.
    before = await settled(ws)
    if value(before, "tower_upgrade_active", **ws) != 0:
        raise Failure(f"the server still holds {value(before, 'tower_upgrade_active', **ws)} connections "
                      f"{SETTLE:.0f} s after the previous clients; the counts would not be this run's")
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    status = await cross_origin()
    check("cross_origin_refused", status == 403, f"cross-origin handshake got {status}, want 403")

    after = await settled(ws)

    accepted = value(after, "tower_upgrade_accepted_total", **ws) - value(before, "tower_upgrade_accepted_total", **ws)
    check("accepted_plus_n", accepted == CLIENTS,
          f"tower_upgrade_accepted_total moved by {accepted}, want +{CLIENTS}")
    refused = (value(after, "tower_upgrade_rejected_total", reason="forbidden_origin", **ws)
               - value(before, "tower_upgrade_rejected_total", reason="forbidden_origin", **ws))
    check("forbidden_origin_plus_one", refused == 1,
          f'tower_upgrade_rejected_total{{reason="forbidden_origin"}} moved by {refused}, want +1')
    ended = (value(after, "tower_upgrade_connection_duration_seconds_count", **ws)
             - value(before, "tower_upgrade_connection_duration_seconds_count", **ws))
    check("durations_recorded", ended == CLIENTS,
          f"tower_upgrade_connection_duration_seconds_count moved by {ended}, want +{CLIENTS}")
    day = value(after, "tower_upgrade_connection_duration_seconds_bucket", le="86400", **ws)
    check("duration_buckets_to_a_day", day >= CLIENTS,
          f'no bucket le="86400" counting the {CLIENTS} connections (got {day})')
    active = value(after, "tower_upgrade_active", **ws)
    check("active_back_to_zero", active == 0,
          f"tower_upgrade_active is {active} {SETTLE:.0f} s after the clients closed, want 0")


try:
    asyncio.run(main())
except (Failure, OSError, asyncio.TimeoutError, subprocess.SubprocessError) as e:
    failed += 1
    print(f"FAIL {NAME}:run: {type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
