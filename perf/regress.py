#!/usr/bin/env python3
"""Performance regression check against a committed baseline.

Runs shmring_bench with repetitions, compares the run with a baseline using
Google Benchmark's compare.py (Debian libbenchmark-tools), prints its table,
and exits 1 when a shmring benchmark is slower than the baseline by more than
--threshold (median real time) with a Mann-Whitney U test p-value below
--alpha (compare.py's own U test). Peers are compared and shown too, for
context, but only shmring's own benchmarks can fail the check.

  perf/regress.py                                  compare with perf/baselines/<arch>.json
  perf/regress.py --update                         write a new baseline instead
  perf/regress.py --baseline old.json --contender new.json   compare two saved runs

compare.py imports scipy.stats and numpy. numpy comes from Debian
(python3-numpy); scipy cannot (python3-scipy pulls libboost1.74-dev, which
conflicts with libboost1.81-dev), so perf/tools/scipy provides the two
functions compare.py uses. See perf/tools/scipy/stats.py.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = "/usr/share/benchmark/compare.py"
# Benchmarks whose time is not the figure of merit (fixed 1 s, or another
# program's run) stay out of the regression set.
# Google Benchmark filters are POSIX regular expressions; a leading '-' negates.
DEFAULT_FILTER = "-Queue_BlockedConsumerCpu|PythonMpQueue"
OURS = ("BM_Queue_", "BM_QueueFixed_", "BM_QueueMpmc_", "BM_QueueLanes_", "BM_QueueOneLane_", "BM_Spsc_", "BM_SpscSlots_",
        "BM_Connection_")


def python_with_numpy():
    for py in ["/usr/bin/python3", sys.executable]:
        if os.path.exists(py) and subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
            return py
    sys.exit("regress.py: numpy is missing (apt-get install python3-numpy)")


def run_bench(bench, out, repetitions, bench_filter, min_time):
    cmd = [bench, f"--benchmark_filter={bench_filter}", f"--benchmark_repetitions={repetitions}",
           f"--benchmark_min_time={min_time}",
           "--benchmark_enable_random_interleaving=true", f"--benchmark_out={out}", "--benchmark_out_format=json"]
    print(f"running {os.path.basename(bench)} with {repetitions} repetitions (random order)...", file=sys.stderr)
    done = 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("BM_"):
            done += 1
            if done % 25 == 0:
                print(f"  {done} runs done", file=sys.stderr, flush=True)
    if proc.wait() != 0:
        sys.exit(f"regress.py: {bench} failed")
    # The binary exits 0 even when its filter does not compile: check the output.
    try:
        with open(out) as f:
            count = len(json.load(f).get("benchmarks", []))
    except (OSError, ValueError):
        count = 0
    if count == 0:
        sys.exit(f"regress.py: {bench} produced no results (filter {bench_filter!r})")


def verdicts(diff, threshold, alpha):
    """(name, median change, p-value, regressed) for every benchmark with a U test."""
    medians = {d["name"].removesuffix("_median"): d["measurements"][0]["time"]
               for d in diff if d.get("aggregate_name") == "median"}
    out = []
    for d in diff:
        if d.get("run_type") == "aggregate" or not d.get("utest"):
            continue
        name = d["name"]
        change = medians.get(name)
        p = d["utest"].get("time_pvalue")
        if change is None or p is None:
            continue
        regressed = name.startswith(OURS) and change > threshold and p < alpha
        out.append((name, change, p, regressed))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "perf", "shmring_bench"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "baselines", f"{platform.machine()}.json"))
    ap.add_argument("--contender", help="a saved run to compare instead of running the suite now")
    ap.add_argument("--repetitions", type=int, default=8, help="repetitions of each benchmark (default 8)")
    ap.add_argument("--min-time", default="0.1", help="minimum time of each run, seconds (default 0.1)")
    ap.add_argument("--filter", default=DEFAULT_FILTER, help="benchmark regex (default: all but the fixed-time ones)")
    ap.add_argument("--threshold", type=float, default=0.10, help="slowdown that counts (default 0.10 = 10%%)")
    ap.add_argument("--alpha", type=float, default=0.05, help="U-test significance level (default 0.05)")
    ap.add_argument("--update", action="store_true", help="write the run as the new baseline")
    args = ap.parse_args()

    if args.update:
        os.makedirs(os.path.dirname(os.path.abspath(args.baseline)), exist_ok=True)
        run_bench(args.bench, args.baseline, args.repetitions, args.filter, args.min_time)
        print(f"baseline written to {args.baseline}")
        return 0
    if not os.path.exists(args.baseline):
        sys.exit(f"regress.py: no baseline at {args.baseline} (create one with --update)")
    if not os.path.exists(COMPARE):
        sys.exit("regress.py: compare.py not found (apt-get install libbenchmark-tools)")

    tmp = tempfile.mkdtemp()
    contender = args.contender
    if contender is None:
        contender = os.path.join(tmp, "contender.json")
        run_bench(args.bench, contender, args.repetitions, args.filter, args.min_time)
    diff_path = os.path.join(tmp, "diff.json")
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "tools"))
    cmd = [python_with_numpy(), COMPARE, "--no-color", "--dump_to_json", diff_path, "--alpha", str(args.alpha),
           "benchmarks", args.baseline, contender]
    if subprocess.run(cmd, env=env).returncode != 0:
        sys.exit("regress.py: compare.py failed")
    with open(diff_path) as f:
        diff = json.load(f)

    rows = verdicts(diff, args.threshold, args.alpha)
    bad = [r for r in rows if r[3]]
    print(f"\nregression check: {len(rows)} benchmarks with a U test; a shmring benchmark fails when its median "
          f"real time grew by more than {args.threshold:.0%} with p < {args.alpha}")
    for name, change, p, regressed in rows:
        if regressed or (name.startswith(OURS) and change > args.threshold):
            print(f"  {'REGRESSION' if regressed else 'slower, not significant':<24} {name}: "
                  f"{change:+.1%} (p = {p:.4f})")
    print(f"{'FAIL' if bad else 'OK'}: {len(bad)} significant slowdown(s) of shmring benchmarks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
