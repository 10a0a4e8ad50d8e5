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

case "${1:-}" in
  -h|--help) usage_from_header "$0"; exit 0 ;;
  --seeds)
    fuzz_build
    rm -rf "$ROOT/fuzz/corpus"
    mkdir -p "$ROOT/fuzz/corpus/queue_open" "$ROOT/fuzz/corpus/corrupt_ring"
    "$FUZZ_BUILD_DIR/fuzz/fuzz_make_seeds" "$ROOT/fuzz/corpus"
    exit 0 ;;
esac
rc=0
fuzz_targets "${1:-60}" "${@:2}" || rc=$?
print_totals
exit $rc
