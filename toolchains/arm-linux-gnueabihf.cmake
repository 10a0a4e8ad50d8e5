# Cross build for 32-bit ARM, hard float (Debian armhf: ARMv7-A, Thumb-2,
# VFPv3-D16; packages g++-arm-linux-gnueabihf, qemu-user).
#   cmake -S . -B build-cross-armhf -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake
# (or scripts/cross.sh armhf). ctest runs every test executable, and
# gtest_discover_tests (DISCOVERY_MODE PRE_TEST) lists their tests, through
# qemu-user: CMAKE_CROSSCOMPILING_EMULATOR below.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

# The target's headers, libraries and CMake packages come only from its
# sysroot; programs (python3, ...) from this machine.
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: where qemu finds the target's dynamic loader and shared libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm;-L;/usr/arm-linux-gnueabihf)
