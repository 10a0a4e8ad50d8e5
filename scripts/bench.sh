#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the comparison of
# shmring with its peers (perf/report.py): a table of ratios against the
# targets of docs/contract.md ("Performance targets"), the same rows as JSON, and a plot, under
# build/perf-report/. About a minute on 2 cores, plus about two for the
# JetStream bridge's rows (shmring_bridge_bench, its own nats-server) where
# the bridge is built. Arguments go to report.py (--help; --no-bridge skips
# the bridge's rows).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing
configure_and_build
out="$BUILD_DIR/perf-report"
mkdir -p "$out"
bridge=()
if [ -x "$BUILD_DIR/perf/shmring_bridge_bench" ] && command -v nats-server >/dev/null; then
  bridge=(--bridge-bench "$BUILD_DIR/perf/shmring_bridge_bench")
else
  echo "==> the JetStream bridge's rows are skipped: shmring_bridge_bench not built (libnats-dev missing," \
       "or SHMRING_BUILD_BRIDGE=OFF) or nats-server not on PATH"
  bridge=(--no-bridge)
fi
echo "==> comparing shmring with its peers (perf/report.py)"
python3 "$ROOT/perf/report.py" --bench "$BUILD_DIR/perf/shmring_bench" "${bridge[@]}" \
  --json "$out/rows.json" --plot "$out/perf.png" --raw "$out/raw.json" "$@"
echo "==> table rows: $out/rows.json   plot: $out/perf.png"
