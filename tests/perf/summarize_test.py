#!/usr/bin/env python3
"""perf/summarize.py on fabricated runs: per-run ratios, the median's verdict,
how many runs passed, a row missing from one run, targets of both kinds."""
import json
import os
import subprocess
import sys
import tempfile

SUMMARIZE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "perf", "summarize.py")


def row(case, peer, ratio, target):
    return {"case": case, "metric": "x", "shmring": 1.0, "peer": peer, "peer_value": 1.0, "ratio": ratio,
            "target": target, "pass": True}


def main():
    runs = [
        [row("typed", "boost", 1.4, ">= 1.5"), row("pp", "floor", 2.5, "<= 3"), row("ctx", "boost", 9.0, None)],
        [row("typed", "boost", 1.6, ">= 1.5"), row("pp", "floor", 3.5, "<= 3")],
        [row("typed", "boost", 1.7, ">= 1.5"), row("pp", "floor", 2.9, "<= 3")],
    ]
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, r in enumerate(runs):
            p = os.path.join(d, f"run{i}.json")
            with open(p, "w") as f:
                json.dump(r, f)
            paths.append(p)
        out = subprocess.run([sys.executable, SUMMARIZE, *paths], check=True, capture_output=True, text=True).stdout
        bad = subprocess.run([sys.executable, SUMMARIZE, os.path.join(d, "missing.json")], capture_output=True,
                             text=True)
    lines = out.strip().splitlines()
    assert lines[0].startswith("| case | peer | target | run 1 | run 2 | run 3 |"), out
    typed = next(l for l in lines if l.startswith("| typed"))
    assert "| 1.4 | 1.6 | 1.7 | PASS (1.6; 2 of 3 runs pass) |" in typed, typed
    pp = next(l for l in lines if l.startswith("| pp"))
    assert "| 2.5 | 3.5 | 2.9 | PASS (2.9; 2 of 3 runs pass) |" in pp, pp
    assert not any(l.startswith("| ctx") for l in lines), "rows without a target are left out"
    assert bad.returncode != 0 and "missing.json" in bad.stderr, bad
    print("ok")


if __name__ == "__main__":
    main()
