#!/usr/bin/env python3
"""The documented report command runs end to end (every benchmark once, very
short) and writes rows in the documented JSON format. Not a performance
check: figures from such short runs mean nothing."""
import json
import os
import subprocess
import sys
import tempfile

KEYS = {"case", "metric", "shmring", "peer", "peer_value", "ratio", "target", "pass", "cpu_ns_per_op",
        "peer_cpu_ns_per_op"}


def main():
    bench, report = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as d:
        rows_path = os.path.join(d, "rows.json")
        plot_path = os.path.join(d, "plot.svg")
        r = subprocess.run([sys.executable, report, "--bench", bench, "--rounds", "1", "--min-time", "0.01",
                            "--json", rows_path, "--plot", plot_path], capture_output=True, text=True)
        print(r.stdout)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        rows = json.load(open(rows_path))
        assert isinstance(rows, list) and len(rows) >= 10, rows
        for row in rows:
            assert set(row) == KEYS, row
            assert isinstance(row["pass"], bool), row
            assert row["shmring"] is not None, f"no shmring figure for {row['case']}"
        assert any(r["target"] for r in rows)
        # What the speed costs stands beside the streams and the round trips.
        for metric in ("messages/s", "ns"):
            assert any(r["cpu_ns_per_op"] and r["peer_cpu_ns_per_op"] for r in rows if r["metric"] == metric), \
                f"no CPU per op on the {metric} rows"
        assert "| case" in r.stdout and ("PASS" in r.stdout or "MISS" in r.stdout)
        if subprocess.run(["which", "gnuplot"], capture_output=True).returncode == 0:
            assert os.path.getsize(plot_path) > 1000, "plot not written"
    print(f"ok: {len(rows)} rows in the documented format")
    return 0


if __name__ == "__main__":
    sys.exit(main())
