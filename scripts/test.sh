#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run). Installs what is
# missing (Debian packages only), builds, and runs one configuration after
# the other, then prints the totals of each:
#   0. format: every C++ file formatted as .clang-format says
#      (scripts/format.sh --check: clang-format-14 --dry-run -Werror);
#   1. x86-64: every test natively (build/, warnings are errors), the
#      stress label and the protocol model check (CTest Model.spin) included;
#   2. ASan+UBSan: the suite in build-asan (stress label left out: the
#      10^8-message and 1000-kill runs belong to scripts/matrix.sh);
#   3. aarch64: the suite cross-built in build-cross-aarch64 and run under
#      qemu-user (stress label left out);
#   4. armhf: the same for 32-bit ARM (build-cross-armhf): size_t and
#      pointers are 32 bits there, and a conversion that x86-64 and aarch64
#      accept breaks its -Werror build (it did once);
#   5. fuzz: both libFuzzer targets for 30 s each (build-fuzz);
#   6. preempt: the MPMC tests built with preemption points that pause at
#      random (build-preempt, -DSHMRING_PREEMPT=ON), the race rounds for 20 s.
# About 20 minutes from scratch on 2 cores; rebuilds only what changed.
#
#   scripts/test.sh [--native] [ctest args...]
#     --native     configurations 0 and 1 only (the quick loop while developing)
#     ctest args   go to every ctest run, e.g. -R Queue or -LE stress
#
# The full matrix (TSan too, all three cross architectures, the stress label
# everywhere, 10-minute fuzz runs) is scripts/matrix.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

native_only=0
case "${1:-}" in
  -h|--help) usage_from_header "$0"; exit 0 ;;
  --native) native_only=1; shift ;;
esac

install_missing
start=$(date +%s)
status=0
format_suite || status=1
if configure_and_build -DSHMRING_WERROR=ON; then
  echo "==> x86-64: running the tests"
  run_suite "x86-64" "$BUILD_DIR" "$@" || status=1
else
  SUITE_TOTALS+=("x86-64: BUILD FAILED"); status=1
fi
if [ "$native_only" -eq 0 ]; then
  # The model check (label model) depends on no build: configuration 1 ran it.
  sanitized_suite address -LE 'stress|model' "$@" || status=1
  cross_suite aarch64 -LE 'stress|model' "$@" || status=1
  cross_suite armhf -LE 'stress|model' "$@" || status=1
  fuzz_targets 30 || status=1
  preempt_suite 20 "$@" || status=1
fi
print_totals
if [ "$status" -ne 0 ]; then
  echo "==> FAILED after $(( $(date +%s) - start )) s"
  exit 1
fi
echo "==> tests passed in $(( $(date +%s) - start )) s"
