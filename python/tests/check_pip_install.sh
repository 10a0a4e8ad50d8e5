#!/usr/bin/env bash
# The documented install, checked (CTest Python.PipInstall): a fresh venv,
# `pip install ./python` with no network (--no-index), then import the
# installed package from another directory and print a Queue.
#   check_pip_install.sh PYTHON CHECKOUT BUILD_DIR
# BUILD_DIR: the configured build whose extension pip packs (so the check
# adds no compile); without it, pip would build in <checkout>/build-python-*.
set -euo pipefail
py=$1 root=$2 build=$3
venv=$(mktemp -d /tmp/shmring-venv.XXXXXX)
trap 'rm -rf "$venv"' EXIT
"$py" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install -q --no-index --no-build-isolation "$root/python" \
  --config-settings build-dir="$build"
cd /tmp
out=$("$venv/bin/python" -c "import shmring; print(shmring.Queue(3)); print(shmring.__file__)")
echo "$out"
grep -q "^<shmring.Queue 'shmring-py-queue-.*maxsize=3 qsize=0 open>$" <<<"$out"
[[ "$(sed -n 2p <<<"$out")" == "$venv"/* ]] || { echo "imported from outside the venv"; exit 1; }
echo "pip install ./python: ok"
