#!/usr/bin/env python3
"""Summarizes several runs of perf/report.py: one Markdown row per target row.

  perf/summarize.py run1.json run2.json ...   (files written by report.py --json)

Prints, for every row with a target, the ratio of each run, the median of
those ratios, the verdict the median gets and how many runs passed on their
own: the five-run table of perf/RESULTS.md. Rows are matched by case and
peer; the order is the first file's. With --medians, also the second table
of RESULTS.md: every row (context rows too), each figure the median over
the runs.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt as fmt_figure  # noqa: E402  (the table's number format, said once)
from report import meets  # noqa: E402  (the verdict rule, said once)


def passes(ratio, target):
    # Targets are ">= x" or "<= x" (report.py writes them so).
    op, value = target.split()
    return meets(ratio, op, float(value))


def fmt(v):
    return f"{v:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="JSON files written by perf/report.py --json")
    ap.add_argument("--medians", action="store_true", help="also print every row's medians over the runs")
    args = ap.parse_args()
    runs = []
    for path in args.runs:
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError) as e:
            sys.exit(f"summarize.py: {path}: {e}")
    keys = [(r["case"], r["peer"]) for r in runs[0] if r.get("target")]
    heads = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    print(f"| case | peer | target | {heads} | verdict (median) |")
    print("|---|---|---|" + "---|" * len(runs) + "---|")
    for case, peer in keys:
        ratios, target = [], None
        for run in runs:
            row = next((r for r in run if r["case"] == case and r["peer"] == peer), None)
            if row is None or row.get("ratio") is None:
                ratios.append(None)
                continue
            ratios.append(row["ratio"])
            target = row["target"]
        got = [r for r in ratios if r is not None]
        if not got or target is None:
            continue
        med = statistics.median(got)
        n_pass = sum(passes(r, target) for r in got)
        verdict = "PASS" if passes(med, target) else "MISS"
        cells = " | ".join("-" if r is None else fmt(r) for r in ratios)
        print(f"| {case} | {peer or '-'} | {target} | {cells} | {verdict} ({fmt(med)}; {n_pass} of {len(got)} runs pass) |")
    if args.medians:
        print_medians(runs)


def print_medians(runs):
    """Every row of the first run, each figure the median of the runs that have it."""
    def med(case, peer, key):
        got = []
        for run in runs:
            row = next((r for r in run if r["case"] == case and r["peer"] == peer), None)
            if row is not None and row.get(key) is not None:
                got.append(row[key])
        return statistics.median(got) if got else None

    print()
    print("| case | metric | shmring | CPU ns/op | peer | peer value | peer CPU ns/op | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs[0]:
        case, peer, metric = r["case"], r["peer"], r["metric"]
        ratio = med(case, peer, "ratio")
        cells = [fmt_figure(med(case, peer, "shmring"), metric), fmt_figure(med(case, peer, "cpu_ns_per_op")),
                 peer or "-", fmt_figure(med(case, peer, "peer_value"), metric),
                 fmt_figure(med(case, peer, "peer_cpu_ns_per_op")), "" if ratio is None or not peer else fmt(ratio)]
        print(f"| {case} | {metric} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
