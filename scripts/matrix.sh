#!/usr/bin/env bash
# The full verification matrix (long: over an hour on 2 cores), beyond what
# CI runs. Each step installs what it needs (Debian packages only) and uses
# its own build directory; the totals at the end give, per configuration,
# the tests run, passed, skipped (with the reasons) and failed.
#
#   scripts/matrix.sh                 everything below
#   scripts/matrix.sh native asan     only the named steps
#
# Steps:
#   native   x86-64: every test (build/), stress label and model included
#   asan     ASan+UBSan build, every test, stress label included (build-asan)
#            (the model check, label model, depends on no build: native and
#            model run it; asan and cross leave it out)
#   tsan     ThreadSanitizer build (build-tsan, with tests/tsan.supp: the MPMC
#            ring's optimistic header reads), labels stress and model left
#            out: TSan sees one process only (the cross-process stress runs
#            tell it nothing and take hours under it); the in-process twin
#            tests (tsan_twin_test) are what it is for
#   cross    aarch64, armhf, riscv64 under qemu-user, stress label included
#   fuzz     both libFuzzer targets for 10 minutes each
#   preempt  the MPMC tests built with random preemption points (build-preempt),
#            the race rounds for 10 minutes (SHMRING_RACE_SECONDS to change)
#   model    the spin models on their own (scripts/model.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in -h|--help) usage_from_header "$0"; exit 0 ;; esac
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(native asan tsan cross fuzz preempt model)

declare -A result
for step in "${steps[@]}"; do
  echo "==> matrix step: $step"
  start=$(date +%s)
  rc=0
  case "$step" in
    native)
      install_missing
      { configure_and_build -DSHMRING_WERROR=ON && run_suite "x86-64" "$BUILD_DIR"; } || rc=$? ;;
    asan) install_missing; sanitized_suite address -LE model || rc=$? ;;
    tsan) install_missing; sanitized_suite thread -LE 'stress|model' || rc=$? ;;
    cross) for a in aarch64 armhf riscv64; do cross_suite "$a" -LE model || rc=1; done ;;
    fuzz) fuzz_targets 600 || rc=$? ;;
    preempt) install_missing; preempt_suite "${SHMRING_RACE_SECONDS:-600}" || rc=$? ;;
    model)
      out=$("$ROOT/scripts/model.sh" 2>&1) || rc=$?
      echo "$out"
      SUITE_TOTALS+=("model: $(grep -E '^==> [0-9]+ runs' <<<"$out" | sed "s/^==> //" || true)") ;;
    *) echo "unknown step: $step" >&2; rc=2 ;;
  esac
  result[$step]="$([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s"
done

echo "==> matrix summary"
failed=0
for step in "${steps[@]}"; do
  echo "  $step: ${result[$step]}"
  [[ ${result[$step]} == passed* ]] || failed=1
done
print_totals
exit $failed
