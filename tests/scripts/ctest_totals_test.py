#!/usr/bin/env python3
"""scripts/ctest_totals.py on a real ctest run: a throwaway CMake project with
a passing, a failing, a SKIP_RETURN_CODE and a GoogleTest-style skipped test
(SKIP_REGULAR_EXPRESSION, as gtest_discover_tests sets it), run by ctest with
--output-junit; the totals line and the skip reasons must come out right.

    ctest_totals_test.py CMAKE CTEST TOTALS_SCRIPT
"""
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = r'''
cmake_minimum_required(VERSION 3.16)
project(totals NONE)
enable_testing()
add_test(NAME Passes COMMAND sh -c "echo fine")
add_test(NAME Fails COMMAND sh -c "echo broken; exit 1")
add_test(NAME SkipsByCode COMMAND sh -c "echo 'model: skipped: spin is not installed'; exit 77")
set_tests_properties(SkipsByCode PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME SkipsLikeGtest COMMAND sh -c "printf '[ RUN      ] A.B\\nx.cpp:12: Skipped\\nno such syscall under qemu\\n[  SKIPPED ] A.B\\n'")
set_tests_properties(SkipsLikeGtest PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
'''


def main():
    cmake, ctest, totals = sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="shmring-totals-") as tmp:
        src, build = Path(tmp, "src"), Path(tmp, "build")
        src.mkdir()
        (src / "CMakeLists.txt").write_text(PROJECT)
        subprocess.run([cmake, "-S", src, "-B", build, "-G", "Ninja"], check=True, stdout=subprocess.DEVNULL)
        junit = build / "junit.xml"
        rc = subprocess.run([ctest, "--output-junit", junit], cwd=build, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        if rc == 0:
            sys.exit("ctest passed although one test fails")
        out = subprocess.run([sys.executable, totals, junit, "demo", "7"], check=True, capture_output=True,
                             text=True).stdout.splitlines()
    expected = [
        "demo: 4 run, 1 passed, 2 skipped, 1 failed in 7 s",
        "    skipped SkipsByCode: model: skipped: spin is not installed",
        "    skipped SkipsLikeGtest: no such syscall under qemu",
        "    FAILED Fails",
    ]
    if out != expected:
        sys.exit("ctest_totals.py printed:\n  " + "\n  ".join(out) + "\nexpected:\n  " + "\n  ".join(expected))
    print("\n".join(out))


if __name__ == "__main__":
    main()
