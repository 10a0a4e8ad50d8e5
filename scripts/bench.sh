#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the comparison of
# shmring with its peers (perf/report.py): a table of ratios against the
# targets of docs/contract.md ("Performance targets"), the same rows as JSON, and a plot, under
# build/perf-report/. About a minute on 2 cores. Arguments go to report.py
# (--help).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing
configure_and_build
out="$BUILD_DIR/perf-report"
mkdir -p "$out"
echo "==> comparing shmring with its peers (perf/report.py)"
python3 "$ROOT/perf/report.py" --bench "$BUILD_DIR/perf/shmring_bench" \
  --json "$out/rows.json" --plot "$out/perf.png" --raw "$out/raw.json" "$@"
echo "==> table rows: $out/rows.json   plot: $out/perf.png"
