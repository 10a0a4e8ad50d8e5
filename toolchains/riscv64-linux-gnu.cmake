# Cross build for 64-bit RISC-V (Debian riscv64: rv64gc; packages
# g++-riscv64-linux-gnu, qemu-user).
#   cmake -S . -B build-cross-riscv64 -DCMAKE_TOOLCHAIN_FILE=toolchains/riscv64-linux-gnu.cmake
# (or scripts/cross.sh riscv64). ctest runs every test executable, and
# gtest_discover_tests (DISCOVERY_MODE PRE_TEST) lists their tests, through
# qemu-user: CMAKE_CROSSCOMPILING_EMULATOR below.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)

# The target's headers, libraries and CMake packages come only from its
# sysroot; programs (python3, ...) from this machine.
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: where qemu finds the target's dynamic loader and shared libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64;-L;/usr/riscv64-linux-gnu)
