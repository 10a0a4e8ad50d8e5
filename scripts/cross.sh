#!/usr/bin/env bash
# Cross builds run under qemu-user: scripts/cross.sh [--stress] ARCH|all [ctest args...]
#   ARCH: aarch64, armhf, riscv64 (toolchains/<triple>.cmake)
# For each ARCH: installs the missing Debian packages, configures
# build-cross-ARCH with the toolchain and -DSHMRING_WERROR=ON, builds the
# library, tests, examples and tools (not perf/: no Google Benchmark or Boost
# for the target), runs ctest under qemu-user (labels `stress` and `model`
# excluded; --stress includes `stress`), and prints the totals: tests run, passed, skipped (with the
# reasons the tests printed), failed. Exits non-zero if any ARCH failed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { usage_from_header "$0"; exit "${1:-2}"; }

stress=0
arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stress) stress=1 ;;
    -h|--help) usage 0 ;;
    all) arches+=(aarch64 armhf riscv64) ;;
    aarch64|armhf|riscv64) arches+=("$1") ;;
    --) shift; break ;;
    -*) break ;;  # the rest goes to ctest
    *) echo "unknown ARCH: $1" >&2; usage ;;
  esac
  shift
done
[ ${#arches[@]} -eq 0 ] && usage

# The model check (label model) runs spin on this machine: the same in every build.
ctest_filter=(-LE 'stress|model')
[ "$stress" -eq 1 ] && ctest_filter=(-LE model)

status=0
for a in "${arches[@]}"; do
  cross_suite "$a" "${ctest_filter[@]}" "$@" || status=1
done
[ "$stress" -eq 1 ] && echo "    (label stress included)"
print_totals
exit "$status"
