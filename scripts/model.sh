#!/usr/bin/env bash
# The protocol model check (model/README.md): runs spin on every model and
# every weakened variant. A correct model must show no error; a weakened one
# must be caught (its counterexample is printed, replayed from the trail).
# Exit status: 0 all as expected, 1 a correct model failed or a weakened one
# was not caught, 77 spin is missing and SHMRING_MODEL_NO_INSTALL is set.
# A run marked `bug` models the code as it is and shows a bug found in it
# (model/README.md): it must still be caught (else the code or the model
# changed: update the script), and it fails the check only with
# SHMRING_MODEL_STRICT=1.
#
#   scripts/model.sh            install spin if missing, check everything
#   SHMRING_MODEL_NO_INSTALL=1  never install (CTest sets it; 77 = skipped)
#   SHMRING_MODEL_STRICT=1      known bugs in the code fail the check too
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL_DIR=$ROOT/model
CC=${CC:-cc}

if ! command -v spin >/dev/null 2>&1; then
  if [ -n "${SHMRING_MODEL_NO_INSTALL:-}" ]; then
    echo "model: skipped: spin is not installed (apt-get install spin; scripts/test.sh installs it)"
    exit 77
  fi
  echo "==> installing spin"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends spin
fi
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "model: a C compiler ($CC) is needed to build spin's verifiers" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shmring-model.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failed=0
bugs=0
runs=0
total_states=0
start=$(date +%s)

# check EXPECT MODE MODEL [DEFINES...]
#   EXPECT  pass | catch | bug (the code as it is, with a bug the model found)
#   MODE    safety   (assertions + invalid end states; the LTL claim left out)
#           liveness (the model's LTL claim, acceptance cycles, weak fairness)
check() {
  local expect=$1 mode=$2 model=$3
  shift 3
  local dir
  dir=$(mktemp -d "$WORK/run.XXXXXX")
  cp "$MODEL_DIR/$model.pml" "$dir/"
  local ccflags=(-O2 -w -DCOLLAPSE) panflags=(-m2000000 -w22)
  if [ "$mode" = safety ]; then
    ccflags+=(-DNOCLAIM)
  else
    ccflags+=(-DNFAIR=3)
    panflags+=(-a -f)
  fi
  local out=$dir/pan.out
  if ! (cd "$dir" && spin -a "$@" "$model.pml" >spin.out 2>&1 &&
        "$CC" "${ccflags[@]}" -o pan pan.c >cc.out 2>&1 &&
        ./pan "${panflags[@]}" >"$out" 2>&1); then
    echo "FAIL    $model $mode $*: spin, cc or pan did not run:"
    cat "$dir"/spin.out "$dir"/cc.out "$out" 2>/dev/null | tail -20 | sed 's/^/        /'
    failed=$((failed + 1))
    return
  fi
  runs=$((runs + 1))
  local errors states depth
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | tail -1)
  states=$(awk '/states, stored/ {print $1; exit}' "$out")
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | tail -1)
  if grep -q "search not completed\|max search depth too small" "$out"; then
    echo "FAIL    $model $mode $*: the search was truncated"
    grep "search not completed\|max search depth" "$out" | sed 's/^/        /'
    failed=$((failed + 1))
    return
  fi
  total_states=$((total_states + ${states%.*}))
  local label="$model $mode ${*:-(as in the code)}"
  if [ "$expect" = pass ]; then
    if [ "$errors" = 0 ]; then
      printf 'ok      %-62s %9s states, depth %4s, 0 errors\n' "$label" "$states" "$depth"
    else
      printf 'FAIL    %-62s %9s states, %s errors:\n' "$label" "$states" "$errors"
      (cd "$dir" && spin -t "$@" "$model.pml" 2>&1 | sed -n '2,/trail ends/p' | sed 's/^ */        /')
      failed=$((failed + 1))
    fi
  else
    if [ "${errors:-0}" -gt 0 ]; then
      local word=caught
      if [ "$expect" = bug ]; then
        word=BUG
        bugs=$((bugs + 1))
      fi
      printf '%-7s %-62s %9s states, trail of depth %s:\n' "$word" "$label" "$states" \
        "$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$out" | head -1)"
      grep -m1 "^pan:1:" "$out" | sed 's/^/        /'
      (cd "$dir" && spin -t "$@" "$model.pml" 2>&1 | sed -n '2,/trail ends/p' | grep -v "^spin: trail ends" |
        sed 's/^ */        /')
    elif [ "$expect" = bug ]; then
      printf 'NOBUG   %-62s %9s states: the bug is no longer there: update scripts/model.sh\n' "$label" "$states"
      failed=$((failed + 1))
    else
      printf 'MISSED  %-62s %9s states: the weakened variant was NOT caught\n' "$label" "$states"
      failed=$((failed + 1))
    fi
  fi
}

echo "==> spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p'): model/spsc_ring.pml"
echo "    safety: FIFO order, no duplicate, no loss (sequence + size of each record),"
echo "    the consumer never reads a unit being written, the producer never overwrites"
echo "    an unread unit, front()'s corruption checks never fire, no deadlock (invalid"
echo "    end states); liveness: <> every message taken (LTL, weak fairness)"
check pass safety   spsc_ring
check pass safety   spsc_ring -DN=6
check pass safety   spsc_ring -DCAP=8 -DN=4
check pass safety   spsc_ring -DMAXMSG=2 -DN=5
check pass liveness spsc_ring -DN=5
check pass liveness spsc_ring -DMAXMSG=2 -DN=4
check catch safety  spsc_ring -DHEAD_BEFORE_READ
check catch safety  spsc_ring -DRELAXED_TAIL
check catch safety  spsc_ring -DWRAP_NEED_BUG
check catch safety  spsc_ring -DPUBLISH_EARLY

echo "==> model/spsc_slot_ring.pml"
echo "    safety, with the producer and the consumer killed and replaced: order, no"
echo "    gap, a repeat only of the message a dead consumer held, the consumer never"
echo "    reads a slot being written and reads what its publisher wrote, the producer"
echo "    never overwrites an unread slot, sane positions, no deadlock; liveness:"
echo "    <> every message delivered (LTL, weak fairness)"
check pass safety   spsc_slot_ring
check pass safety   spsc_slot_ring -DS=4 -DN=6
check pass safety   spsc_slot_ring -DMAXMSG=1 -DN=4
check pass safety   spsc_slot_ring -DCRASHES=2 -DN=4
check pass safety   spsc_slot_ring -DCRASHES=0 -DN=6
check pass liveness spsc_slot_ring
check pass liveness spsc_slot_ring -DS=4 -DN=4
check catch safety  spsc_slot_ring -DHEAD_BEFORE_READ
check catch safety  spsc_slot_ring -DRELAXED_TAIL
check catch safety  spsc_slot_ring -DROOM_OFF_BY_ONE
check catch safety  spsc_slot_ring -DATTACH_AT_TAIL
check catch safety  spsc_slot_ring -DPUBLISH_EARLY

echo "==> model/wakeup.pml"
echo "    safety: no waiter parked while a message is untaken when nothing can move"
echo "    (watchdog), no invalid end state; liveness: <> every message taken (LTL)"
check pass safety   wakeup
check pass safety   wakeup -DASYMMETRIC
check pass safety   wakeup -DK=5
check pass safety   wakeup -DW=2 -DM=2 -DK=2
check pass safety   wakeup -DW=2 -DM=2 -DK=2 -DASYMMETRIC
check pass liveness wakeup
check pass liveness wakeup -DASYMMETRIC
check pass liveness wakeup -DW=2 -DM=2 -DK=1
check catch safety  wakeup -DOLD_ORDER
check catch safety  wakeup -DNO_WAITER_FENCE
check catch safety  wakeup -DNO_NOTIFIER_FENCE
check catch safety  wakeup -DASYMMETRIC -DNO_HEAVY_BARRIER
check catch safety  wakeup -DW=2 -DM=2 -DK=1 -DOLD_ORDER
check catch liveness wakeup -DOLD_ORDER -DNO_WATCHDOG

echo "==> model/poller.pml (event-loop descriptors: rearm against notify's pokes)"
echo "    safety: the loop not asleep in epoll_wait while a message is untaken when"
echo "    nothing can move (watchdog); liveness: <> every message taken (LTL)"
check pass safety   poller
check pass safety   poller -DASYMMETRIC
check pass safety   poller -DK=3
check pass safety   poller -DM=2
check pass safety   poller -DM=2 -DASYMMETRIC
check pass liveness poller
check pass liveness poller -DM=2 -DK=1
check catch safety  poller -DNO_POLLER_FENCE
check catch safety  poller -DNO_NOTIFIER_FENCE
check catch safety  poller -DNO_SELF_POKE
check catch safety  poller -DDRAIN_AFTER_ARM
check catch safety  poller -DASYMMETRIC -DNO_HEAVY_BARRIER
check catch liveness poller -DNO_SELF_POKE -DNO_WATCHDOG

echo "==> model/wakeone.pml (notify_one: wake one, self-clearing epoch mark)"
echo "    safety: no waiter parked while what it waits for is there when nothing can"
echo "    move (watchdog), no invalid end state; liveness: <> every waiter satisfied"
check pass safety   wakeone -DW=2 -DM=1 -DK=2
check pass safety   wakeone -DW=2 -DM=2 -DK=1
check pass safety   wakeone -DW=3 -DM=2 -DK=1
check pass safety   wakeone -DW=2 -DM=1 -DK=3 -DHETERO
check pass liveness wakeone -DW=2 -DM=2 -DK=1
echo "    weakened: the first version's plain store of the mark (the lost wakeup this model found)"
check catch safety  wakeone -DSTORE_MARK -DW=2 -DM=2 -DK=2
check catch safety  wakeone -DW=2 -DM=2 -DK=1 -DSTORE_CLEAR
check catch safety  wakeone -DW=2 -DM=2 -DK=1 -DCLEAR_LE1

echo "==> model/lane_ring.pml (one lane: consumers copy then take with a CAS on head; killed consumers"
echo "    counted from their reader slots; the producer killed mid-record and replaced)"
echo "    safety: a taken record is the message written there, whole; each delivered at most"
echo "    once, in order per consumer; every message delivered except those the dead took,"
echo "    and no more of those than reads_lost counts; no deadlock (invalid end states)"
check pass safety   lane_ring
check pass safety   lane_ring -DHOLD=1
check pass safety   lane_ring -DN=4 -DCAP=3 -DC=2 -DCRASHC=1 -DCRASHP=0 -DHOLD=1
check pass safety   lane_ring -DN=2 -DCAP=2 -DC=3 -DCRASHC=2 -DCRASHP=0
check catch safety  lane_ring -DPLAIN_TAKE
check catch safety  lane_ring -DSLOT_AFTER_TAKE -DHOLD=1
check catch safety  lane_ring -DEARLY_REUSE
check catch safety  lane_ring -DREAD_AFTER_TAKE
echo "    the sole-consumer lease (-DLEASE): its holder moves head with a plain store; an attaching"
echo "    consumer revokes it (CAS, membarrier, wait for the holder's SOLE state to clear); the holder's"
echo "    state store may pass its lease load (store buffer) but for the revoker's heavy barrier;"
echo "    consumers attach while others take; holder, revokers and slot takeovers killed mid-way"
check pass safety   lane_ring -DLEASE -DTAKEOVER -DCRASHP=0
check pass safety   lane_ring -DLEASE -DTAKEOVER -DHOLD=1 -DCRASHP=0
check pass safety   lane_ring -DLEASE -DTAKEOVER -DN=1 -DC=3 -DCRASHC=2 -DCRASHP=0 -DLIGHT=1
echo "    coverage, each must fail: a revoker finds a live holder mid-take; a consumer finishes a killed"
echo "    revoker's revocation after the holder was killed before (after) its head store; a consumer"
echo "    takes over a dead holder's slot and finds the lease equal to its own value"
check catch safety  lane_ring -DLEASE -DTAKEOVER -DCRASHP=0 -DREACH=1
check catch safety  lane_ring -DLEASE -DTAKEOVER -DN=1 -DC=3 -DCRASHC=2 -DCRASHP=0 -DLIGHT=1 -DREACH=2
check catch safety  lane_ring -DLEASE -DTAKEOVER -DN=1 -DC=3 -DCRASHC=2 -DCRASHP=0 -DLIGHT=1 -DREACH=3
check catch safety  lane_ring -DLEASE -DTAKEOVER -DCRASHP=0 -DREACH=4
echo "    weakened: no wait for the holder's SOLE state, no heavy barrier, no scan of the other slots"
echo "    after taking the lease, a wait that does not notice a dead holder, a dead holder's lease on"
echo "    the slot taken over used as ours"
check catch safety  lane_ring -DLEASE -DTAKEOVER -DCRASHP=0 -DNO_REVOKE_WAIT
check catch safety  lane_ring -DLEASE -DTAKEOVER -DCRASHP=0 -DNO_HEAVY_BARRIER
check catch safety  lane_ring -DLEASE -DTAKEOVER -DCRASHP=0 -DACQUIRE_NO_SCAN
check catch safety  lane_ring -DLEASE -DTAKEOVER -DN=1 -DC=3 -DCRASHC=2 -DCRASHP=0 -DLIGHT=1 -DNO_DEAD_CHECK
check catch safety  lane_ring -DLEASE -DTAKEOVER -DN=1 -DC=3 -DCRASHC=2 -DCRASHP=0 -DLIGHT=1 -DOWN_IS_HELD

echo "==> model/mpmc_ring.pml (claim/commit/skip, released walk, repairs of dead participants)"
echo "    safety: each message taken once, in order per producer, delivered unless its"
echo "    consumer crashed holding it; no payload read before it is written; no store"
echo "    over an unconsumed record; corruption checks never fire; no wedge (invalid end"
echo "    states: every blocked participant is unblocked or repairs, dead hazards included);"
echo "    liveness: <> all finished"
check pass safety   mpmc_ring -DP=1 -DC=1 -DK=4 -DCAP=6 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
check pass safety   mpmc_ring -DP=2 -DC=2 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=0 -DCRASHC=0
check pass safety   mpmc_ring -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=1 -DCRASHC=0
check pass safety   mpmc_ring -DP=1 -DC=2 -DK=2 -DCAP=4 -DMAXP=0 -DCRASHP=0 -DCRASHC=1
check pass safety   mpmc_ring -DP=1 -DC=2 -DK=2 -DCAP=8 -DMAXP=1 -DCRASHP=0 -DCRASHC=1
check pass liveness mpmc_ring -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=1 -DCRASHC=0 -DSC_STORES
check pass liveness mpmc_ring -DP=1 -DC=2 -DK=2 -DCAP=4 -DMAXP=0 -DCRASHP=0 -DCRASHC=1 -DSC_STORES
check catch safety  mpmc_ring -DTAIL_BEFORE_NEXT -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DNO_HEAD_BOUND -DP=1 -DC=1 -DK=4 -DCAP=6 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DNO_TAKEOVER -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=1 -DCRASHC=0
check catch safety  mpmc_ring -DSHRINK_ALWAYS -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=1 -DCRASHC=0
check catch safety  mpmc_ring -DCONSUMED_BEFORE_COPY -DFIXED_SIZE -DP=1 -DC=2 -DK=4 -DCAP=6 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DRELAXED_TAIL -DP=2 -DC=1 -DK=1 -DCAP=4 -DMAXP=0 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DRELAXED_COMMIT -DP=1 -DC=1 -DK=2 -DCAP=6 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
echo "    reuse: a next lap's payload over an old header may recreate the word a stale"
echo "    CAS expects; every header CAS under a hazard: no CAS succeeds on a unit a later"
echo "    lap owns (ghost), and everything above (payload units 0, 1, 1; a 4-unit ring)"
check pass safety   mpmc_ring -DSIZE_PLAN -DP=1 -DC=2 -DK=3 -DCAP=4 -DMAXU=1 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
echo "    weakened: the check of released before the CAS without a hazard (stale() alone), and"
echo "    the hazard stored after that check"
check catch safety  mpmc_ring -DNO_HAZARD -DSIZE_PLAN -DP=1 -DC=2 -DK=3 -DCAP=4 -DMAXU=1 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DNO_HAZARD -DNO_LAP_ASSERT -DSIZE_PLAN -DP=1 -DC=2 -DK=3 -DCAP=4 -DMAXU=1 -DMAXP=1 -DCRASHP=0 -DCRASHC=0
check catch safety  mpmc_ring -DHAZARD_AFTER_CHECK -DSIZE_PLAN -DP=1 -DC=2 -DK=3 -DCAP=4 -DMAXU=1 -DMAXP=1 -DCRASHP=0 -DCRASHC=0

echo "==> $runs runs, $total_states states stored in all, $(( $(date +%s) - start )) s"
if [ "$bugs" -ne 0 ]; then
  echo "==> $bugs known bug(s) in the code shown above (BUG; model/README.md)"
  [ -n "${SHMRING_MODEL_STRICT:-}" ] && failed=$((failed + bugs))
fi
if [ "$failed" -ne 0 ]; then
  echo "==> model check FAILED: $failed run(s) not as expected"
  exit 1
fi
echo "==> model check passed: every correct model holds, every weakened variant is caught"
