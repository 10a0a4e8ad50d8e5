#!/usr/bin/env python3
"""perf/regress.py must fail on a significant slowdown of a shmring benchmark
and pass otherwise. The runs are fabricated Google Benchmark JSON files with
8 repetitions each, so the check is exercised without timing anything."""
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

REGRESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "perf", "regress.py")


def run_file(path, times_by_name, seed):
    rng = random.Random(seed)
    benchmarks = []
    for family, (name, base) in enumerate(times_by_name.items()):
        # Google Benchmark writes aggregates after the repetitions; compare.py uses both.
        reps = [base * (1 + rng.uniform(-0.02, 0.02)) for _ in range(8)]
        for i, t in enumerate(reps):
            benchmarks.append({"name": name, "family_index": family, "per_family_instance_index": 0,
                               "run_name": name, "run_type": "iteration", "repetitions": 8, "repetition_index": i,
                               "threads": 1, "iterations": 1000, "real_time": t, "cpu_time": t, "time_unit": "ns"})
        med = sorted(reps)[4]
        for agg, value in [("mean", sum(reps) / 8), ("median", med)]:
            benchmarks.append({"name": f"{name}_{agg}", "family_index": family, "per_family_instance_index": 0,
                               "run_name": name, "run_type": "aggregate", "repetitions": 8, "threads": 1,
                               "aggregate_name": agg, "aggregate_unit": "time", "iterations": 8,
                               "real_time": value, "cpu_time": value, "time_unit": "ns"})
    with open(path, "w") as f:
        json.dump({"context": {"num_cpus": 2, "mhz_per_cpu": 2600, "library_build_type": "release",
                               "caches": [], "load_avg": []}, "benchmarks": benchmarks}, f)


class RegressTest(unittest.TestCase):
    def check(self, baseline, contender):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.json"), os.path.join(d, "b.json")
            run_file(a, baseline, 1)
            run_file(b, contender, 2)
            r = subprocess.run([sys.executable, REGRESS, "--baseline", a, "--contender", b],
                               capture_output=True, text=True)
            return r.returncode, r.stdout + r.stderr

    BASE = {"BM_Queue_Bytes/64": 100.0, "BM_Queue_PingPong": 200.0, "BM_Pipe_PingPong": 40000.0}

    def test_same_speed_passes(self):
        code, out = self.check(self.BASE, self.BASE)
        self.assertEqual(code, 0, out)

    def test_shmring_thirty_percent_slower_fails(self):
        slower = dict(self.BASE, **{"BM_Queue_PingPong": 260.0})
        code, out = self.check(self.BASE, slower)
        self.assertEqual(code, 1, out)
        self.assertIn("REGRESSION", out)
        self.assertIn("BM_Queue_PingPong", out)

    def test_a_slower_peer_does_not_fail(self):
        slower_peer = dict(self.BASE, **{"BM_Pipe_PingPong": 60000.0})
        code, out = self.check(self.BASE, slower_peer)
        self.assertEqual(code, 0, out)

    def test_faster_passes(self):
        faster = dict(self.BASE, **{"BM_Queue_Bytes/64": 70.0})
        code, out = self.check(self.BASE, faster)
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
