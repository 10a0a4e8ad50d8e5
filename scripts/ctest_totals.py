#!/usr/bin/env python3
"""Totals of one ctest run from its JUnit file (ctest --output-junit).

    ctest_totals.py JUNIT NAME SECONDS

Prints one line, "NAME: R run, P passed, S skipped, F failed in T s", then
one line per skipped test with the reason the test printed (GoogleTest's
"file:line: Skipped" is followed by the reason; CTest's own skips, e.g. a
SKIP_RETURN_CODE, by the test's last output line), then one line per failed
test. Used by scripts/lib.sh (run_suite) for every configuration of
scripts/test.sh, scripts/cross.sh and scripts/matrix.sh.
"""
import sys
import xml.etree.ElementTree as ET


def skip_reason(case):
    out = (case.findtext("system-out") or "").splitlines()
    for i, line in enumerate(out[:-1]):
        if line.rstrip().endswith(": Skipped"):
            return out[i + 1].strip()
    lines = [l.strip() for l in out if l.strip()]
    return lines[-1] if lines else "no reason printed"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, name, secs = sys.argv[1:]
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as e:
        print(f"{name}: no test results ({e})")
        return
    passed, skipped, failed = 0, [], []
    for c in cases:
        status = c.get("status", "")
        if c.find("skipped") is not None or status == "skipped":
            skipped.append(f"{c.get('name')}: {skip_reason(c)}")
        elif c.find("failure") is not None or c.find("error") is not None or status == "fail":
            failed.append(c.get("name"))
        else:
            passed += 1
    print(f"{name}: {len(cases)} run, {passed} passed, {len(skipped)} skipped, "
          f"{len(failed)} failed in {secs} s")
    for s in skipped:
        print(f"    skipped {s}")
    for f in failed:
        print(f"    FAILED {f}")


if __name__ == "__main__":
    main()
