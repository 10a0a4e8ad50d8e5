#!/usr/bin/env bash
# The full verification matrix (long: about an hour on 2 cores), beyond what
# CI runs. Each step installs what it needs (Debian packages only) and uses
# its own build directory; the summary at the end says which steps passed.
#
#   scripts/matrix.sh                 everything below
#   scripts/matrix.sh native asan     only the named steps
#
# Steps:
#   native   the README's test command (stress label and the model included)
#   asan     ASan+UBSan build, every test (build-asan)
#   tsan     ThreadSanitizer build, the in-process tests (build-tsan, with
#            tests/tsan.supp: the MPMC ring's optimistic header reads; the
#            stress label is left out: TSan sees one process, and the
#            cross-process stress tests are minutes long under it)
#   cross    aarch64, armhf, riscv64 under qemu-user, stress label included
#   fuzz     both libFuzzer targets for 10 minutes each
#   model    the spin models (also part of `native`; here on its own)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set +e  # run every step and report, whatever one of them does

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(native asan tsan cross fuzz model)

sanitized() {  # sanitized NAME [ctest args...]
  local name=$1; shift
  install_missing
  local dir="$ROOT/build-$name"
  local kind=$name
  [ "$name" = asan ] && kind=address
  [ "$name" = tsan ] && kind=thread
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMRING_SANITIZE="$kind" \
        -DSHMRING_BUILD_PERF=OFF >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" &&
    (cd "$dir" && ctest --output-on-failure --timeout 1800 "$@")
}

declare -A result
for step in "${steps[@]}"; do
  echo "==> matrix step: $step"
  start=$(date +%s)
  case "$step" in
    native) "$ROOT/scripts/test.sh" ;;
    asan) sanitized asan ;;
    tsan) TSAN_OPTIONS="suppressions=$ROOT/tests/tsan.supp" sanitized tsan -LE 'stress|model' ;;
    cross) "$ROOT/scripts/cross.sh" --stress all ;;
    fuzz) "$ROOT/scripts/fuzz.sh" 600 ;;
    model) "$ROOT/scripts/model.sh" ;;
    *) echo "unknown step: $step" >&2; false ;;
  esac
  rc=$?
  result[$step]="$([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s"
done

echo "==> matrix summary"
failed=0
for step in "${steps[@]}"; do
  echo "  $step: ${result[$step]}"
  [[ ${result[$step]} == passed* ]] || failed=1
done
exit $failed
