# Shared by scripts/demo.sh and scripts/test.sh: install what is missing
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
PACKAGES=(g++ cmake ninja-build libgtest-dev libbenchmark-dev libbenchmark-tools libboost1.81-dev
          python3 python3-numpy gnuplot-nox spin)
# Only scripts/fuzz.sh installs these (not the default test command):
#   clang-14             libFuzzer targets need clang (SHMRING_FUZZ=ON)
#   libclang-rt-14-dev   the libFuzzer, ASan and UBSan runtimes for clang 14
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev cmake ninja-build)

# Cross builds only (scripts/cross.sh; not installed by test.sh or bench.sh):
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
