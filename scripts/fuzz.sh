#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14, ASan+UBSan) and runs each for
# N seconds, one after the other (default 60), starting from the committed
# seeds (fuzz/corpus/<target>/) plus the corpus grown by earlier runs
# (<build>/corpus/<target>/). Prints executions, time, crashes and corpus
# size per target; exits non-zero if any target crashed, hung (-timeout) or
# ran out of memory. Reproducers go to <build>/crashes/.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]   e.g. scripts/fuzz.sh 600
#                                            (targets: fuzz_queue_open fuzz_corrupt_ring; default both)
#   scripts/fuzz.sh --seeds                  regenerate fuzz/corpus/ (the seeds)
#   SHMRING_FUZZ_BUILD_DIR=...               build directory (default build-fuzz)
#
# A reproducer replays with: <build>/fuzz/<target> <file>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD_DIR=${SHMRING_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}

install_missing "${FUZZ_PACKAGES[@]}"
echo "==> building the fuzz targets in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSHMRING_FUZZ=ON -DSHMRING_BUILD_TESTS=OFF -DSHMRING_BUILD_PERF=OFF -DSHMRING_BUILD_TOOLS=OFF \
      -DSHMRING_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

if [ "${1:-}" = "--seeds" ]; then
  rm -rf "$ROOT/fuzz/corpus"
  mkdir -p "$ROOT/fuzz/corpus/queue_open" "$ROOT/fuzz/corpus/corrupt_ring"
  "$BUILD_DIR/fuzz/fuzz_make_seeds" "$ROOT/fuzz/corpus"
  exit 0
fi
SECONDS_PER_TARGET=${1:-60}
ONLY=("${@:2}")

# target  seed-dir  max input length (queue files are 14080 bytes)
TARGETS=("fuzz_queue_open queue_open 16384" "fuzz_corrupt_ring corrupt_ring 1024")

failed=0
summary=()
for entry in "${TARGETS[@]}"; do
  read -r target seeds max_len <<<"$entry"
  if [ ${#ONLY[@]} -ne 0 ] && [[ " ${ONLY[*]} " != *" $target "* ]]; then continue; fi
  corpus="$BUILD_DIR/corpus/$seeds"
  crashes="$BUILD_DIR/crashes"
  log="$BUILD_DIR/$target.log"
  mkdir -p "$corpus" "$crashes"
  before=$(ls "$crashes" | wc -l)
  echo "==> $target for ${SECONDS_PER_TARGET} s (log: $log)"
  start=$(date +%s)
  set +e
  (cd "$BUILD_DIR" && "$BUILD_DIR/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
      -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
      -artifact_prefix="$crashes/$target-" "$corpus" "$ROOT/fuzz/corpus/$seeds") >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  found=$(( $(ls "$crashes" | wc -l) - before ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  files=$(ls "$corpus" | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  line="$target: executions ${execs:-?}, time ${elapsed} s, crashes $found (libFuzzer exit $rc), corpus $files files / $bytes bytes"
  echo "    $line"
  summary+=("$line")
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    grep -E "ERROR|SUMMARY|runtime error|oracle|Test unit written" "$log" | head -20 || true
  fi
done

# Segments of fuzzing processes that crashed (the targets remove their own
# file after every input; a crash leaves it): only those whose pid is gone.
for f in /dev/shm/shmring-fuzz-*; do
  [ -e "$f" ] || continue
  kill -0 "${f##*-}" 2>/dev/null || rm -f "$f"
done

echo "==> fuzz summary"
printf '    %s\n' "${summary[@]}"
[ "$failed" -eq 0 ] || { echo "==> FAILED: crashes are in $BUILD_DIR/crashes"; exit 1; }
echo "==> no crashes"
