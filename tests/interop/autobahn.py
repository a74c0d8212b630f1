#!/usr/bin/env python3
"""Runs the Autobahn TestSuite fuzzingclient against the `echo` example's ws://ADDR/ws.

Usage: ADDR=127.0.0.1:3000 python3 tests/interop/autobahn.py
Env: WSTEST (default: the wrapper scripts/install-autobahn.sh makes),
     AUTOBAHN_CASES (default "*"), AUTOBAHN_EXCLUDE (default "9.* 12.* 13.*":
     performance and permessage-deflate), INTEROP_OUT (reports go to
     $INTEROP_OUT/autobahn, default target/interop/autobahn; open index.html).
Prints one `ok`/`FAIL` line per test-suite section (1 = framing, 2 = pings, ...);
exits 1 if any case FAILED, 77 if wstest is missing (1 under CI=true).
"""
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

NAME = "autobahn"
ADDR = os.environ.get("ADDR", "127.0.0.1:3000")
HERE = Path(__file__).resolve().parent
OUT = Path(os.environ.get("INTEROP_OUT", HERE.parent.parent / "target" / "interop")) / "autobahn"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
DEFAULT_WSTEST = Path(os.environ.get("AUTOBAHN_DIR", CACHE / "tower-upgrade" / "autobahn")) / "bin" / "wstest"
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"}
TIMEOUT = int(os.environ.get("AUTOBAHN_TIMEOUT", "600"))

wstest = os.environ.get("WSTEST") or (str(DEFAULT_WSTEST) if DEFAULT_WSTEST.exists() else shutil.which("wstest"))
if not wstest:
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL' if ci else 'skip'} {NAME}: wstest not found (WSTEST, {DEFAULT_WSTEST}, PATH); run scripts/install-autobahn.sh")
    sys.exit(1 if ci else 77)

shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
spec = {
    "outdir": str(OUT),
    "servers": [{"agent": "tower-upgrade", "url": f"ws://{ADDR}/ws"}],
    "cases": os.environ.get("AUTOBAHN_CASES", "*").split(),
    "exclude-cases": os.environ.get("AUTOBAHN_EXCLUDE", "9.* 12.* 13.*").split(),
    "exclude-agent-cases": {},
}
(OUT / "fuzzingclient.json").write_text(json.dumps(spec, indent=2))
print(f"# {NAME}: {wstest} -m fuzzingclient, cases {spec['cases']} minus {spec['exclude-cases']}, against {spec['servers'][0]['url']}", flush=True)
try:
    with open(OUT / "wstest.log", "w") as log:
        subprocess.run([wstest, "-m", "fuzzingclient", "-s", str(OUT / "fuzzingclient.json")],
                       stdout=log, stderr=subprocess.STDOUT, timeout=TIMEOUT, check=True, cwd=OUT)
    results = json.loads((OUT / "index.json").read_text())["tower-upgrade"]
except Exception as e:  # noqa: BLE001
    print(f"FAIL {NAME}: wstest did not finish ({type(e).__name__}: {e}); see {OUT / 'wstest.log'}")
    sys.exit(1)

sections = defaultdict(list)
for case, r in results.items():
    sections[int(case.split(".")[0])].append((case, r))
if not sections:
    print(f"FAIL {NAME}: no test case ran; see {OUT / 'wstest.log'}")
    sys.exit(1)

failed = 0
for section in sorted(sections):
    cases = sections[section]
    bad = [f"{c} {r['behavior']} (close: {r['behaviorClose']})" for c, r in cases if r["behavior"] not in PASSING]
    counts = defaultdict(int)
    for _, r in cases:
        counts[r["behavior"]] += 1
    summary = ", ".join(f"{n} {b}" for b, n in sorted(counts.items()))
    if bad:
        failed += 1
        print(f"FAIL {NAME}:section_{section}: {summary}: {'; '.join(bad[:8])}{' ...' if len(bad) > 8 else ''}")
    else:
        print(f"ok {NAME}:section_{section} ({summary})")
print(f"# report: {OUT / 'index.html'}")
sys.exit(1 if failed else 0)
