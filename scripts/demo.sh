#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs shmring-demo
# (10 million messages of mixed sizes between two separately started
# processes through a named queue). Arguments go to shmring-demo (--help).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing
configure_and_build
echo "==> running shmring-demo $*"
exec "$BUILD_DIR/tools/shmring-demo" "$@"
