# Shared by scripts/bench.sh and scripts/test.sh: install what is missing
# (Debian packages only), configure and build. Idempotent.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${SHMRING_BUILD_DIR:-$ROOT/build}

# What the build, the tests and the benchmarks need:
#   libboost1.81-dev   Boost.Lockfree and Boost.Interprocess, peers in the benchmarks
#   libbenchmark-dev   Google Benchmark; libbenchmark-tools: its compare.py
#   python3, python3-numpy   the report, compare.py, the multiprocessing.Queue peer
#   gnuplot-nox        the plot (no X11 needed)
#   spin               the protocol model check (model/, scripts/model.sh, CTest Model.spin)
#   clang-format-14    the format check (.clang-format, scripts/format.sh --check)
#   pybind11-dev, python3-pybind11, python3-dev   the Python package's extension (python/)
#   python3-pytest     its tests (CTest label python)
#   python3-venv       Python.PipInstall: the documented pip install, into a fresh venv
#   libcli11-dev       CLI11 (header-only): the shmring command's parser (tools/cli/)
#   libnats-dev        the NATS C client: the JetStream bridge (tools/bridge/, docs/bridge.md)
#   nats-server        the JetStream server its tests start on loopback (CTest label bridge)
PACKAGES=(g++ cmake ninja-build libgtest-dev libbenchmark-dev libbenchmark-tools libboost1.81-dev
          python3 python3-numpy gnuplot-nox spin clang-format-14
          pybind11-dev python3-pybind11 python3-dev python3-pytest python3-venv libcli11-dev
          libnats-dev nats-server)
# The fuzz configuration of scripts/test.sh and scripts/fuzz.sh install these:
#   clang-14             libFuzzer targets need clang (SHMRING_FUZZ=ON)
#   libclang-rt-14-dev   the libFuzzer, ASan and UBSan runtimes for clang 14
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev cmake ninja-build)

# Cross builds (cross_suite: test.sh's aarch64 configuration, cross.sh, matrix.sh):
#   g++-<triple>       Debian's cross compiler and the target's libc/libstdc++ (/usr/<triple>)
#   qemu-user          runs the target's test executables on this machine
# GoogleTest for the target is built from libgtest-dev's sources (above).
declare -A CROSS_PACKAGES=(
  [aarch64]=g++-aarch64-linux-gnu
  [armhf]=g++-arm-linux-gnueabihf
  [riscv64]=g++-riscv64-linux-gnu
)

# install_missing [PACKAGE...]: the named Debian packages, default PACKAGES.
install_missing() {
  local wanted=("$@")
  [ ${#wanted[@]} -eq 0 ] && wanted=("${PACKAGES[@]}")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure_and_build() {
  echo "==> building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)"
}

# Totals of every suite run so far in this shell (run_suite appends to it);
# print_totals prints them.
SUITE_TOTALS=()

# run_suite NAME DIR [ctest args...]: runs ctest in the build directory DIR,
# then records and prints its totals (tests run, passed, skipped with the
# reasons the tests printed, failed: scripts/ctest_totals.py). Returns
# ctest's exit status.
run_suite() {
  local name=$1 dir=$2; shift 2
  local junit="$dir/junit.xml" start rc=0
  rm -f "$junit"
  start=$(date +%s)
  (cd "$dir" && ctest --output-on-failure --timeout 1800 --output-junit "$junit" "$@") || rc=$?
  local line
  line=$(python3 "$ROOT/scripts/ctest_totals.py" "$junit" "$name" "$(( $(date +%s) - start ))")
  echo "$line"
  SUITE_TOTALS+=("$line")
  return $rc
}

# format_suite: scripts/format.sh --check (clang-format-14 --dry-run -Werror
# on every C++ file git tracks), then records and prints its totals line like
# run_suite. Returns non-zero if a file is not formatted.
format_suite() {
  local start rc=0 line
  start=$(date +%s)
  echo "==> format: clang-format-14 --dry-run -Werror (scripts/format.sh --check)"
  line=$("$ROOT/scripts/format.sh" --check) || rc=$?
  [ -n "$line" ] || line="format: scripts/format.sh --check failed (exit $rc)"
  line="$line in $(( $(date +%s) - start )) s"
  echo "$line"
  SUITE_TOTALS+=("$line")
  return $rc
}

print_totals() {
  echo "==> totals"
  printf '%s\n' "${SUITE_TOTALS[@]}"
}

# sanitized_suite KIND [ctest args...]: KIND address (ASan with UBSan) or
# thread (TSan). Builds everything but the benchmarks in build-asan or
# build-tsan and runs the tests there (run_suite).
sanitized_suite() {
  local kind=$1; shift
  local dir name
  case "$kind" in
    address) dir="$ROOT/build-asan" name="ASan+UBSan" ;;
    # The MPMC ring's optimistic header reads are races by design (acted on
    # only after stale() vouches for them): tests/tsan.supp names exactly those.
    thread) dir="$ROOT/build-tsan" name="TSan"
            export TSAN_OPTIONS="suppressions=$ROOT/tests/tsan.supp ${TSAN_OPTIONS:-}" ;;
    *) echo "sanitized_suite: unknown KIND $kind" >&2; return 2 ;;
  esac
  echo "==> $name: building in $dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMRING_SANITIZE="$kind" \
        -DSHMRING_BUILD_PERF=OFF >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" || { SUITE_TOTALS+=("$name: BUILD FAILED"); return 1; }
  echo "==> $name: running the tests"
  run_suite "$name" "$dir" "$@"
}

# cross_suite ARCH [ctest args...]: ARCH aarch64, armhf or riscv64
# (toolchains/<triple>.cmake). Installs the missing Debian packages,
# configures build-cross-ARCH with the toolchain and -DSHMRING_WERROR=ON,
# builds the library, tests, examples and tools (not perf/: no Google
# Benchmark or Boost for the target), checks that no executable calls
# libatomic, and runs the tests under qemu-user (run_suite).
declare -A CROSS_TRIPLE=([aarch64]=aarch64-linux-gnu [armhf]=arm-linux-gnueabihf [riscv64]=riscv64-linux-gnu)
cross_suite() {
  local a=$1; shift
  local dir="$ROOT/build-cross-$a" triple=${CROSS_TRIPLE[$a]}
  install_missing cmake ninja-build libgtest-dev python3 qemu-user "${CROSS_PACKAGES[$a]}"
  echo "==> $a: building in $dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/$triple.cmake" -DSHMRING_WERROR=ON >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" || { SUITE_TOTALS+=("$a (qemu): BUILD FAILED"); return 1; }
  # Shared-memory atomics must be inline instructions: a libatomic call may
  # take a lock that lives in one process only.
  # (Unmangled __atomic_* only: libstdc++'s own __gnu_cxx::__atomic_add,
  # mangled _ZN9__gnu_cxx12__atomic_add..., counts process-local references.)
  local calls
  calls=$(find "$dir" -type f -perm -u+x -not -path '*/CMakeFiles/*' -exec "$triple-nm" -u {} + 2>/dev/null |
          awk '{print $NF}' | grep -E '^__atomic_[a-z_0-9]+$' | sort -u | tr '\n' ' ' || true)
  if [ -n "$calls" ]; then
    echo "==> $a: target executables call libatomic: $calls" >&2
    SUITE_TOTALS+=("$a (qemu): LIBATOMIC CALLS: $calls")
    return 1
  fi
  echo "==> $a: running the tests under qemu-user"
  run_suite "$a (qemu)" "$dir" "$@"
}

# fuzz_targets SECONDS [target...]: builds the libFuzzer targets (fuzz/,
# clang-14, ASan+UBSan) in $FUZZ_BUILD_DIR and runs each for SECONDS, one
# after the other, from the committed seeds (fuzz/corpus/<target>/) plus the
# corpus grown by earlier runs (<build>/corpus/<target>/). Records and prints
# executions, time, crashes and corpus size per target; returns non-zero if
# any target crashed, hung (-timeout) or ran out of memory. Reproducers go to
# <build>/crashes/ and replay with <build>/fuzz/<target> <file>.
FUZZ_BUILD_DIR=${SHMRING_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
fuzz_build() {
  install_missing "${FUZZ_PACKAGES[@]}"
  echo "==> building the fuzz targets in $FUZZ_BUILD_DIR"
  cmake -S "$ROOT" -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
        -DSHMRING_FUZZ=ON -DSHMRING_BUILD_TESTS=OFF -DSHMRING_BUILD_PERF=OFF -DSHMRING_BUILD_TOOLS=OFF \
        -DSHMRING_BUILD_EXAMPLES=OFF >/dev/null &&
    cmake --build "$FUZZ_BUILD_DIR" -j"$(nproc)"
}
fuzz_targets() {
  local seconds=$1; shift
  local only=("$@")
  fuzz_build || { SUITE_TOTALS+=("fuzz: BUILD FAILED"); return 1; }
  # target  seed-dir  max input length (queue files: 14080 bytes; a lane queue's 52 KiB)
  local targets=("fuzz_queue_open queue_open 65536" "fuzz_corrupt_ring corrupt_ring 1024")
  local entry target seeds max_len failed=0
  for entry in "${targets[@]}"; do
    read -r target seeds max_len <<<"$entry"
    if [ ${#only[@]} -ne 0 ] && [[ " ${only[*]} " != *" $target "* ]]; then continue; fi
    local corpus="$FUZZ_BUILD_DIR/corpus/$seeds" crashes="$FUZZ_BUILD_DIR/crashes"
    local log="$FUZZ_BUILD_DIR/$target.log"
    mkdir -p "$corpus" "$crashes"
    local before start rc=0
    before=$(ls "$crashes" | wc -l)
    echo "==> $target for $seconds s (log: $log)"
    start=$(date +%s)
    (cd "$FUZZ_BUILD_DIR" && "$FUZZ_BUILD_DIR/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
        -artifact_prefix="$crashes/$target-" "$corpus" "$ROOT/fuzz/corpus/$seeds") >"$log" 2>&1 || rc=$?
    local elapsed=$(( $(date +%s) - start )) found execs files bytes
    found=$(( $(ls "$crashes" | wc -l) - before ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    files=$(ls "$corpus" | wc -l)
    bytes=$(du -sb "$corpus" | cut -f1)
    local line="$target: executions ${execs:-?}, time $elapsed s, crashes $found (libFuzzer exit $rc), corpus $files files / $bytes bytes"
    echo "    $line"
    SUITE_TOTALS+=("$line")
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
      failed=1
      grep -E "ERROR|SUMMARY|runtime error|oracle|Test unit written" "$log" | head -20 || true
      echo "==> $target FAILED: reproducers are in $crashes"
    fi
  done
  # Segments of fuzzing processes that crashed (the targets remove their own
  # file after every input; a crash leaves it): only those whose pid is gone.
  local f
  for f in /dev/shm/shmring-fuzz-*; do
    [ -e "$f" ] || continue
    kill -0 "${f##*-}" 2>/dev/null || rm -f "$f"
  done
  return $failed
}

# preempt_suite SECONDS [ctest args...]: builds the library and the tests with
# -DSHMRING_PREEMPT=ON in build-preempt (preemption points pause at random:
# platform/preempt.hpp, docs/testing.md) and runs the many-producer tests (MPMC
# ring, lanes) there, the
# race rounds (tests/stress/mpmc_race_test.cpp) for SECONDS. This is the
# configuration that makes a stale-read or ABA defect of the many-producer
# engine show in seconds instead of once in hundreds of full runs.
preempt_suite() {
  local seconds=$1; shift
  local dir="$ROOT/build-preempt"
  echo "==> preempt: building in $dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMRING_PREEMPT=ON -DSHMRING_WERROR=ON \
        -DSHMRING_BUILD_PERF=OFF -DSHMRING_BUILD_EXAMPLES=OFF -DSHMRING_BUILD_TOOLS=OFF >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" || { SUITE_TOTALS+=("preempt: BUILD FAILED"); return 1; }
  echo "==> preempt: the many-producer tests with preemption points, race rounds for $seconds s"
  SHMRING_RACE_SECONDS=$seconds run_suite "preempt" "$dir" -R '^(Mpmc|LanesQueue|Engines/ManyProducerQueue)' \
    -E 'ManyStress' "$@"
}

# usage_from_header SCRIPT: prints the script's opening comment (its help).
usage_from_header() {
  sed -n '2,/^[^#]/p' "$1" | grep '^#' | sed 's/^# \{0,1\}//'
}
