#!/usr/bin/env bash
# The bridge's throughput against a plain nats.c JetStream async publisher
# (docs/bridge.md, "Throughput"): one nats-server on a free loopback port
# with a private store, then, alternating, rounds of
#   plain: shmring_bridge_plain_publisher, N messages of SIZE bytes
#   bridge: a spsc queue filled with N messages of SIZE bytes, then
#           `shmring bridge out --count N` (timed from start to exit, so
#           its connect and stream lookup count against it)
# each into a stream of its own, window 256 both. Prints one line per
# round and the median ratio per size. Not yet part of scripts/bench.sh.
#
#   perf/bridge/bridge_bench.sh [BUILD_DIR] [N] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
N=${2:-100000}
ROUNDS=${3:-3}
CLI=$BUILD/tools/cli/shmring
PLAIN=$BUILD/perf/shmring_bridge_plain_publisher
WORK=$(mktemp -d /tmp/shmring-bridge-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -sd "$WORK/js" -a 127.0.0.1 -p "$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
QUEUES=()
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  for q in "${QUEUES[@]}"; do "$CLI" rm "$q" > /dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 50); do
  (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
for SIZE in 64 1024; do
  CAP=$(( N * (SIZE + 16) * 2 ))
  python3 -c "import sys; sys.stdout.write(('y' * $SIZE + '\n') * $N)" > "$WORK/lines"
  RATIOS=()
  for R in $(seq "$ROUNDS"); do
    plain=$("$PLAIN" "nats://127.0.0.1:$PORT" "plain.$SIZE.$R" "PLAIN_${SIZE}_$R" "$N" "$SIZE" 256)
    Q=/dev/shm/shmring-bridge-bench-$$-$SIZE-$R
    QUEUES+=("$Q")
    "$CLI" create "$Q" --engine spsc --capacity "$CAP" > /dev/null
    "$CLI" put "$Q" - < "$WORK/lines"
    t0=$(date +%s.%N)
    "$CLI" bridge out "$Q" --subject "bridge.$SIZE.$R" --server "nats://127.0.0.1:$PORT" --count "$N" \
      --window 256 > /dev/null
    t1=$(date +%s.%N)
    "$CLI" rm "$Q" > /dev/null
    bridge=$(python3 -c "print(round($N / ($t1 - $t0)))")
    ratio=$(python3 -c "print(round($bridge / $plain, 3))")
    RATIOS+=("$ratio")
    echo "size $SIZE B round $R: plain $plain msg/s, bridge out $bridge msg/s, ratio $ratio"
  done
  echo "size $SIZE B: median ratio $(python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "${RATIOS[@]}")"
done
