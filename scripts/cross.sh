#!/usr/bin/env bash
# Cross builds run under qemu-user: scripts/cross.sh [--stress] ARCH|all [ctest args...]
#   ARCH: aarch64, armhf, riscv64 (toolchains/<triple>.cmake)
# For each ARCH: installs the missing Debian packages, configures
# build-cross-ARCH with the toolchain and -DSHMRING_WERROR=ON, builds the
# library, tests, examples and tools (not perf/: no Google Benchmark or Boost
# for the target), runs ctest under qemu-user (label `stress` excluded unless
# --stress), and prints the totals: tests run, passed, skipped (with the
# reasons the tests printed), failed. Exits non-zero if any ARCH failed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

declare -A TRIPLE=([aarch64]=aarch64-linux-gnu [armhf]=arm-linux-gnueabihf [riscv64]=riscv64-linux-gnu)
ALL=(aarch64 armhf riscv64)

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

stress=0
arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stress) stress=1 ;;
    -h|--help) usage 0 ;;
    all) arches+=("${ALL[@]}") ;;
    aarch64|armhf|riscv64) arches+=("$1") ;;
    --) shift; break ;;
    -*) break ;;  # the rest goes to ctest
    *) echo "unknown ARCH: $1" >&2; usage ;;
  esac
  shift
done
[ ${#arches[@]} -eq 0 ] && usage

packages=(cmake ninja-build libgtest-dev python3 qemu-user)
for a in "${arches[@]}"; do packages+=("${CROSS_PACKAGES[$a]}"); done
install_missing "${packages[@]}"

ctest_filter=(-LE stress)
[ "$stress" -eq 1 ] && ctest_filter=()

summary=()
status=0
for a in "${arches[@]}"; do
  dir="$ROOT/build-cross-$a"
  start=$(date +%s)
  echo "==> $a: building in $dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/${TRIPLE[$a]}.cmake" -DSHMRING_WERROR=ON >/dev/null
  if ! cmake --build "$dir" -j"$(nproc)"; then
    summary+=("$a: BUILD FAILED after $(( $(date +%s) - start )) s")
    status=1
    continue
  fi
  # Shared-memory atomics must be inline instructions: a libatomic call may
  # take a lock that lives in one process only.
  # (Unmangled __atomic_* only: libstdc++'s own __gnu_cxx::__atomic_add,
  # mangled _ZN9__gnu_cxx12__atomic_add..., counts process-local references.)
  calls=$(find "$dir" -type f -perm -u+x -not -path '*/CMakeFiles/*' -exec "${TRIPLE[$a]}-nm" -u {} + 2>/dev/null |
          awk '{print $NF}' | grep -E '^__atomic_[a-z_0-9]+$' | sort -u | tr '\n' ' ' || true)
  if [ -n "$calls" ]; then
    echo "==> $a: target executables call libatomic: $calls" >&2
    summary+=("$a: LIBATOMIC CALLS: $calls")
    status=1
  fi
  echo "==> $a: running the tests under qemu-user"
  junit="$dir/cross-junit.xml"
  rm -f "$junit"
  ctest_rc=0
  (cd "$dir" && ctest --output-on-failure --timeout 900 --output-junit "$junit" "${ctest_filter[@]}" "$@") || ctest_rc=$?
  secs=$(( $(date +%s) - start ))
  # Totals and skip reasons from ctest's JUnit file (each test's output is in it).
  line=$(python3 - "$junit" "$a" "$secs" <<'PY'
import sys, xml.etree.ElementTree as ET
path, arch, secs = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    cases = ET.parse(path).getroot().iter("testcase")
except (OSError, ET.ParseError) as e:
    print(f"{arch}: no test results ({e})"); sys.exit(0)
run = passed = failed = 0
skipped = []
for c in cases:
    run += 1
    status = c.get("status", "")
    if c.find("skipped") is not None or status == "skipped":
        out = (c.findtext("system-out") or "").splitlines()
        # GoogleTest prints "file:line: Skipped" and then the reason.
        reason = next((out[i + 1].strip() for i, l in enumerate(out[:-1]) if l.rstrip().endswith(": Skipped")), "")
        skipped.append(f"{c.get('name')}: {reason or 'no reason printed'}")
    elif c.find("failure") is not None or c.find("error") is not None or status == "fail":
        failed += 1
    else:
        passed += 1
print(f"{arch}: {run} run, {passed} passed, {len(skipped)} skipped, {failed} failed in {secs} s")
for s in skipped:
    print(f"    skipped {s}")
PY
)
  summary+=("$line")
  [ "$ctest_rc" -ne 0 ] && status=1
done

echo "==> cross totals"
[ "$stress" -eq 1 ] && echo "    (label stress included)"
printf '%s\n' "${summary[@]}"
exit "$status"
