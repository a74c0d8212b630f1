#!/usr/bin/env python3
"""Reads one Autobahn report (index.json) and says whether the run passed.

    autobahn-report.py OUTDIR LABEL MODE SECONDS WSTEST_EXIT

MODE is `strict` or `lenient`:
- strict: a case passes only if its behaviour is OK, NON-STRICT or
  INFORMATIONAL *and* its close behaviour is OK or INFORMATIONAL, so a
  WRONG CODE (e.g. 1003 where RFC 6455 §7.4.1 asks for 1002) is a failure.
- lenient: only the behaviour counts; close-behaviour failures are listed as
  `known` and do not fail the run (for the compatibility backends, whose
  close codes this crate does not own).

Prints a table of behaviour x close behaviour, the failing case ids (all of
them also go to OUTDIR/failed.txt), and `ok autobahn:LABEL` or
`FAIL autobahn:LABEL: ...`. Exits 1 on failure.
"""
import collections
import json
import sys

PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
PASSING_CLOSE = {"OK", "INFORMATIONAL"}


def case_key(case):
    return [int(x) for x in case.split(".")]


def main():
    outdir, label, mode, secs, rc = sys.argv[1:6]
    if mode not in ("strict", "lenient"):
        print(f"FAIL autobahn:{label}: unknown mode {mode!r} (strict or lenient)")
        return 1
    try:
        results = json.load(open(f"{outdir}/index.json"))[label]
    except Exception as e:  # no report at all: wstest crashed or timed out
        print(f"FAIL autobahn:{label}: no report (wstest exit {rc}: {e}); see {outdir}/wstest.log")
        return 1

    def behaviour_ok(r):
        return r["behavior"] in PASSING

    def close_ok(r):
        return r["behaviorClose"] in PASSING_CLOSE

    cases = sorted(results, key=case_key)
    failed = [c for c in cases if not behaviour_ok(results[c]) or (mode == "strict" and not close_ok(results[c]))]
    known = [c for c in cases if mode == "lenient" and behaviour_ok(results[c]) and not close_ok(results[c])]

    table = collections.Counter((results[c]["behavior"], results[c]["behaviorClose"]) for c in cases)
    print(f"# autobahn:{label}: {len(cases)} cases in {secs} s, {mode} counting")
    print(f"#   {'behaviour':<14} {'close':<14} {'cases':>5}")
    for (b, bc), n in sorted(table.items()):
        print(f"#   {b:<14} {bc:<14} {n:>5}")
    passed = len(cases) - len(failed)
    print(f"#   passed {passed}, failed {len(failed)}" + (f", close-code failures not counted {len(known)}" if known else ""))

    def detail(ids):
        return " ".join(f"{c}({results[c]['behavior']}/{results[c]['behaviorClose']})" for c in ids)

    with open(f"{outdir}/failed.txt", "w") as f:
        for c in failed:
            f.write(f"{c} {results[c]['behavior']} {results[c]['behaviorClose']}\n")
    if known:
        print(f"# autobahn:{label}: known (lenient run): {detail(known[:20])}{' ...' if len(known) > 20 else ''}")
    if failed or not cases:
        more = f" ... (all in {outdir}/failed.txt)" if len(failed) > 30 else ""
        print(f"FAIL autobahn:{label}: {len(failed)} of {len(cases)} cases failed: {detail(failed[:30])}{more}")
        return 1
    print(f"ok autobahn:{label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
