#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test
# through CTest. Extra arguments go to ctest (e.g. -R Queue, -L stress).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing
configure_and_build -DSHMRING_WERROR=ON
echo "==> running the tests"
cd "$BUILD_DIR"
start=$(date +%s)
ctest --output-on-failure --timeout 900 "$@"
echo "==> tests passed in $(( $(date +%s) - start )) s"
