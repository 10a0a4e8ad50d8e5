// The blocking layer: spin briefly (adaptive), yield the CPU a few times,
// then park on a futex with an absolute deadline; the other side makes the
// wake system call only when a waiter's flag says someone may sleep, so
// steady streaming makes none.
//
// Protocol (an eventcount). State S is whatever the waiter's predicate reads
// (ring positions, the closed flag); F is ParkingLayout::sleeping, a flag
// meaning "someone may be asleep"; Q is ParkingLayout::sequence, the futex word.
//
//   waiter                                notifier
//   q = Q               (acquire)         store S             (release, by caller)
//   F = mark(q)         (seq_cst; raised)  fence(seq_cst)
//   fence(seq_cst)                        if F == 0: return   (relaxed)
//   if pred(S): done                      if F.exchange(0) == 0: return
//   futex_wait(Q, q, deadline)            Q += 1              (release)
//   loop                                  futex_wake(Q, all)
//
// No lost wakeup. By the two seq_cst fences (Dekker), either the notifier's
// load sees the waiter's mark (F != 0), or the waiter's pred() sees the new
// S. In the first case some notifier's exchange takes that flag, and since the waiter
// read Q before setting F, that notifier's bump of Q comes after the value q
// in Q's modification order: the kernel's compare in futex_wait fails, or the
// wake finds the waiter asleep. Either way the waiter re-checks pred(). If a
// second notifier then finds F already cleared, its S is still seen: the
// waiter's next mark comes after that clear, so by the same fence argument
// its next pred() sees S. Checked by model/wakeup.pml.
//
// Q must be read before F is set. Read after, a late notifier — one whose
// message the waiter already took while spinning — could clear the flag of
// the waiter's *next* sleep and bump Q before the waiter read it; the waiter
// would then sleep on the new Q value and the next notifier, finding F == 0,
// would not wake it (model/wakeup.pml -DOLD_ORDER is that order, and the
// model catches it).
//
// Asymmetric barriers (BarrierPlan, platform/membarrier.hpp). The two seq_cst
// fences above cost the notifier — every put and every get — a full barrier,
// which waits for its store of S to reach the other core: a large part of
// the cost of a small message (docs/notes-from-comments.md has the
// measurement). When the queue was created in asymmetric mode, a notifier in a
// registered process replaces its fence by a compiler barrier, and every
// waiter calls platform::heavy_barrier() (membarrier GLOBAL_EXPEDITED) after
// setting F and before its last pred(). The kernel runs a barrier on each
// notifier's CPU at some point P during that call; at P the notifier's
// accesses are in program order. If its load of F comes after P, it sees
// the mark (the waiter's store preceded the call); if before P, its store of S,
// which precedes that load, is visible by the time the call returns, so the
// waiter's pred() sees S. The rest of the argument is unchanged. A waiter
// pays a membarrier system call per park; notifiers pay nothing extra
// (model/wakeup.pml -DASYMMETRIC).
//
// Yield, then park. Between the spin and the park a waiter gives up its CPU
// a few times (sched_yield). When more participants are runnable than there
// are CPUs (a crowd of producers and consumers on a small machine), the one
// we wait for is often runnable on our own CPU: a yield hands it the CPU for
// the price of one context switch, where a park costs a membarrier (an IPI to
// every CPU), a futex wait and the notifier's wake call, and then a switch
// back. When nothing else is runnable a yield returns at once (one system
// call) and the waiter parks a moment later. Measured (perf/RESULTS.md,
// "yield before parking"): the lane engine's 2P2C and 4P4C streams went
// from 14-17 M to 23-28 M msgs/s, parking a tenth as often or less.
// A wait that a yield ended counts as a miss for the spin budget: the
// partner could not run while we spun. Counted as a hit (as a short park
// is), it kept the budget at its ceiling, and a producer and consumer
// sharing a CPU each spun 512 pauses before every hand-over: the lane
// engine's one-CPU stream ran at 23-26 M msgs/s, and at 36-44 M without it.
//
// Why a flag and not a count of sleepers: the notifier that clears the flag
// wakes everyone parked on the word, so one sleep costs one wake system call.
// With a count, every put made while the consumer was still waking up (the
// count not yet decremented) would pay a wake call.
// A waiter killed while parked leaves its mark in F: the next notify clears
// it with one needless wake, never a lost one.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "shmring/platform/membarrier.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/futex.hpp"
#include "shmring/platform/poll_socket.hpp"
#include "shmring/blocking/intervals.hpp"

namespace shmring {

// Event-loop pollers (poller.hpp) a parking word can have at once.
inline constexpr std::uint32_t kPollerSlots = 14;
inline constexpr std::uint32_t kPollerMask = (1u << kPollerSlots) - 1u;

// Shared: one per direction ("not empty", "not full"), on its own block.
struct alignas(platform::kFalseSharingRange) ParkingLayout {
  std::atomic<std::uint32_t> sequence;  // the futex word; bumped by each wake
  std::atomic<std::uint32_t> sleeping;  // 1: someone may be parked (or about to park)
  // Pollers (poller.hpp): bit i set asks the next notifier to poke the
  // socket whose token is in pollers[i]. Untrusted, like every shared word:
  // bits beyond kPollerMask are ignored, a bad token costs a wasted send.
  std::atomic<std::uint32_t> armed;
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> pollers[kPollerSlots];  // a poller's socket token; 0: free
};
static_assert(std::is_standard_layout_v<ParkingLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(ParkingLayout) == platform::kFalseSharingRange,
              "a parking word owns its 128-byte block: the hot side polls it");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "futex words must be lock-free");

// Process-local counters, so tests and benchmarks can show the system calls made.
struct BlockingStats {
  std::uint64_t futex_waits = 0;    // futex_wait calls (parks)
  std::uint64_t futex_wakes = 0;    // futex_wake calls
  std::uint64_t spin_hits = 0;      // waits that ended while spinning
  std::uint64_t pokes = 0;          // pokes sent to event-loop pollers (a system call each)
  std::uint64_t poller_drains = 0;  // this process's pollers re-armed (a system call each)
};

// Adaptive spin budget (process-local). It adapts to how long waits really
// last: a wait that ended while spinning, or soon after parking (within
// kShortWaitNs, about what a park and wake cost), says spinning pays: the
// budget doubles. Only a wait that lasted longer halves it (or one that a
// yield ended: see "Yield, then park"). Halving on every
// park would not settle: a few descheduling hiccups drive the budget to its
// floor, after which every wait parks and each park makes the next wait end
// parked too, for good. The ceiling is low (512 pauses, a few microseconds):
// a longer spin takes resources its partner may need (an SMT sibling, or a
// virtual CPU on a shared host). The measurements behind both choices are in
// docs/notes-from-comments.md.
class AdaptiveSpin {
 public:
  static constexpr std::uint32_t kMin = 32;
  static constexpr std::uint32_t kMax = 512;
  static constexpr std::int64_t kShortWaitNs = 100'000;
  // sched_yield calls between the spin and the park (see "Yield, then park").
  static constexpr std::uint32_t kYields = 2;
  [[nodiscard]] std::uint32_t budget() const noexcept { return budget_; }
  void hit() noexcept { budget_ = budget_ >= kMax / 2 ? kMax : budget_ * 2; }
  void miss() noexcept { budget_ = budget_ <= kMin * 2 ? kMin : budget_ / 2; }
  // A wait that parked and was over after `parked_ns`.
  void parked_for(std::int64_t parked_ns) noexcept { parked_ns < kShortWaitNs ? hit() : miss(); }

 private:
  std::uint32_t budget_ = 256;
};

// How this process orders its side of the handshake (see "Asymmetric
// barriers" above). All false: seq_cst fences on both sides.
struct BarrierPlan {
  bool waiter_heavy = false;    // every waiter of this object calls heavy_barrier() before sleeping
  bool notifier_light = false;  // this process is registered: its notifies use a compiler barrier
};

// Test seam: called at the protocol's most delicate point, after the waiter's
// flag and fence and before its last check. Tests inject a late notifier
// there; the default does nothing and compiles away.
struct NoWaitHooks {
  void after_flag_set() noexcept {}
};

// The flag a waiter sets: non-zero, and different for each value of Q it
// read (notify_one clears the flag only if it still holds the value it saw).
[[nodiscard]] constexpr std::uint32_t sleep_mark(std::uint32_t seen_sequence) noexcept {
  return seen_sequence + 1 == 0 ? 1 : seen_sequence + 1;
}

// Sets the flag to `mark` unless it holds a newer one (wrap-safe: marks are
// sequence values + 1). Never lowers it: a waiter that read Q before a bump
// must not overwrite the mark of one that read it after, which notify_one's
// CAS would then clear while that waiter sleeps (a lost wakeup:
// model/wakeone.pml, whose -DSTORE_MARK variant, the plain store, it
// catches). SYNC(park): seq_cst CAS —
// the flag is visible before the waiter's last check of S, as the store was.
inline void raise_mark(std::atomic<std::uint32_t>& flag, std::uint32_t mark) noexcept {
  std::uint32_t current = flag.load(std::memory_order_relaxed);
  while (current == 0 || static_cast<std::int32_t>(mark - current) > 0) {
    if (flag.compare_exchange_weak(current, mark, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
  }
}

// The end of the next park: `deadline`, or one kParkSlice from now if sooner
// (intervals.hpp: a notifier killed between its store and its wake sends no
// wake; a waiter must not sleep to its deadline with the word saying go).
[[nodiscard]] inline platform::Deadline park_slice(platform::Deadline deadline) noexcept {
  return slice_end(deadline, kParkSlice);
}

// After the kernel refused a futex wait (ENOSYS under some emulators,
// EFAULT): sleep a millisecond, never past `deadline`, so the caller polls
// gently instead of spinning until the deadline.
inline void pause_after_refused_wait(platform::Deadline deadline) noexcept {
  platform::sleep_until_ns(slice_end(deadline, std::chrono::milliseconds(1)).ns());
}

// Waits until `ready()` is true or `deadline` passes; returns ready()'s last
// verdict. `ready` must read shared state with acquire loads.
template <class Ready, class Hooks = NoWaitHooks>
[[nodiscard]] bool wait_until(ParkingLayout& park, Ready&& ready, platform::Deadline deadline, AdaptiveSpin& spin,
                              BlockingStats& stats, BarrierPlan plan = {}, Hooks&& hooks = Hooks{}) noexcept {
  for (std::uint32_t i = 0; i < spin.budget(); ++i) {
    if (ready()) {
      spin.hit();
      ++stats.spin_hits;
      return true;
    }
    platform::cpu_relax();
  }
  const std::int64_t parked_at = platform::monotonic_ns();  // vDSO: only on the slow path
  // Yield before parking (see "Yield, then park" above).
  for (std::uint32_t i = 0; i < AdaptiveSpin::kYields; ++i) {
    if (ready()) {
      // Before any yield: the partner runs elsewhere and was just late (a
      // hit). After one: it needed our CPU, and spinning only kept it out.
      i == 0 ? spin.hit() : spin.miss();
      return true;
    }
    platform::yield_cpu();
  }
  for (;;) {
    if (ready()) {
      spin.parked_for(platform::monotonic_ns() - parked_at);
      return true;
    }
    if (deadline.passed()) {
      spin.miss();
      return false;
    }
    // SYNC(park): acquire — pairs with the notifier's release bump of sequence.
    // Read before the flag is set: see "Q must be read before F" above.
    const std::uint32_t seen = park.sequence.load(std::memory_order_acquire);
    // SYNC(park): seq_cst CAS (raise_mark) + fence — the flag must be visible
    // before we read S, paired with the notifier's fence between its store of
    // S and its load of the flag.
    raise_mark(park.sleeping, sleep_mark(seen));
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // SYNC(park): heavy barrier — stands in for the fence light notifiers omit.
    if (plan.waiter_heavy) platform::heavy_barrier();
    hooks.after_flag_set();
    if (ready()) {  // the flag stays set: costs the notifier one wake at most
      spin.parked_for(platform::monotonic_ns() - parked_at);
      return true;
    }
    ++stats.futex_waits;
    // Whatever comes back (woken, value changed, EINTR, timeout, spurious),
    // the loop re-checks the predicate against the same absolute deadline.
    if (platform::futex_wait(park.sequence, seen, park_slice(deadline)) == platform::FutexResult::failed) {
      pause_after_refused_wait(deadline);
    }
  }
}

// The wake half of notify(), out of line: keeps the common case (nobody
// asleep) free of the register saves a system call needs.
[[gnu::noinline]] inline void wake_sleepers(ParkingLayout& park, BlockingStats& stats) noexcept {
  // acq_rel: exactly one notifier per sleep episode goes on to wake.
  if (park.sleeping.exchange(0, std::memory_order_acq_rel) == 0) return;
  // SYNC(park): release — a waiter that reads the new sequence sees S.
  park.sequence.fetch_add(1, std::memory_order_release);
  ++stats.futex_wakes;
  (void)platform::futex_wake(park.sequence, platform::kWakeAll);
}

// Pokes every armed poller of `park` (poller.hpp) — the pollers' half of a
// notify, out of line. Pollers arm as waiters mark the flag (a seq_cst
// read-modify-write, then a fence, then their last check of S), so the
// Dekker argument above holds for them word for word: a notifier that stored
// S and then finds no bit set is one whose S the poller's check sees.
// exchange(acq_rel): each armed bit is taken by exactly one notifier, so an
// episode costs one send.
[[gnu::noinline]] inline void poke_pollers(ParkingLayout& park, BlockingStats& stats) noexcept {
  std::uint32_t bits = park.armed.exchange(0, std::memory_order_acq_rel) & kPollerMask;
  while (bits != 0) {
    const auto i = static_cast<std::uint32_t>(__builtin_ctz(bits));
    bits &= bits - 1;
    // acquire: the token a poller published before arming.
    std::uint64_t token = park.pollers[i].load(std::memory_order_acquire);
    if (token == 0) continue;
    ++stats.pokes;
    switch (platform::poke(token)) {
      case platform::PokeResult::delivered: break;
      case platform::PokeResult::gone:
        // Nobody is bound to the token: the poller closed or died. Free its
        // slot (only if it still holds that token: a new poller may have it).
        (void)park.pollers[i].compare_exchange_strong(token, 0, std::memory_order_relaxed);
        break;
      case platform::PokeResult::failed:
        // This process cannot send now (no descriptor left): leave the
        // request for the next notifier rather than lose it.
        park.armed.fetch_or(1u << i, std::memory_order_relaxed);
        break;
    }
  }
}

// The slow half of notify(): whoever the flags say may be waiting.
[[gnu::noinline]] inline void wake_parked(ParkingLayout& park, BlockingStats& stats) noexcept {
  if (park.sleeping.load(std::memory_order_relaxed) != 0) wake_sleepers(park, stats);
  if (park.armed.load(std::memory_order_relaxed) != 0) poke_pollers(park, stats);
}

inline void notify(ParkingLayout& park, BlockingStats& stats, BarrierPlan plan = {}) noexcept {
  // SYNC(park): seq_cst fence — orders the caller's store of S before our load
  // of the flag (Dekker with the waiter's store + fence). A registered process
  // of an asymmetric object needs only the compiler barrier: the waiter's
  // heavy barrier does the rest.
  if (plan.notifier_light) {
    platform::light_barrier();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  // relaxed: ordered by the fence above (light: by the waiters' heavy
  // barrier); the common case ends here.
  // Both words are on the block the notifier reads anyway: no extra miss.
  if ((park.sleeping.load(std::memory_order_relaxed) | park.armed.load(std::memory_order_relaxed)) == 0) return;
  wake_parked(park, stats);
}

// Wakes one sleeper (many-producer/many-consumer objects: one message needs
// one waiter, not a herd). The flag is not cleared when a sleeper was woken,
// since others may still sleep behind it; a wake that finds nobody asleep
// clears it, but only if it still holds the mark this notifier saw, so a
// waiter that set its mark after our bump of Q keeps it:
//
//   notifier                               waiter (as in wait_until)
//   store S; fence                         q = Q; F = max(F, mark(q)); fence
//   f = F; if f == 0: return               if pred(S): done
//   Q += 1                                 futex_wait(Q, q)
//   if futex_wake(Q, 1) == 0: CAS(F, f, 0)
//
// No lost wakeup: a waiter asleep on q when we bump Q is either woken by our
// wake(1) (which then reports 1: F stays set for the others) or was not yet in
// the kernel, in which case its compare sees Q != q and it re-checks. A
// waiter that reads Q after our bump marks F with mark(q') != f (Q only
// grows; equality needs 2^32 bumps in between), so our CAS leaves its mark
// and the next notifier wakes it — provided no waiter that read Q earlier
// puts an older mark back over it: waiters only ever raise F (raise_mark).
// The Dekker argument for S is the one above. Checked by model/wakeone.pml.
// Cost: one extra wake call per sleep episode (the notify after the waiter
// woke finds nobody and clears the flag); a waiter killed while parked
// leaves a mark that the next notify clears the same way.
inline void notify_one(ParkingLayout& park, BlockingStats& stats, BarrierPlan plan = {}) noexcept {
  // SYNC(park): the same fence (or light barrier) as notify().
  if (plan.notifier_light) {
    platform::light_barrier();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  // relaxed: as in notify(), ordered by the fence (or the waiters' barrier).
  std::uint32_t mark = park.sleeping.load(std::memory_order_relaxed);
  // relaxed: ordered by the same fence; pollers are poked on every notify
  // (a poller stands for a whole event loop, not one waiter of many).
  if (park.armed.load(std::memory_order_relaxed) != 0) [[unlikely]]
    poke_pollers(park, stats);
  if (mark == 0) return;
  // SYNC(park): release — a waiter that reads the new sequence sees S.
  park.sequence.fetch_add(1, std::memory_order_release);
  ++stats.futex_wakes;
  if (platform::futex_wake(park.sequence, 1) == 0) {
    // relaxed: a failed CAS changes nothing; a successful one only removes a
    // mark whose owners all saw our bump of Q.
    (void)park.sleeping.compare_exchange_strong(mark, 0, std::memory_order_relaxed, std::memory_order_relaxed);
  }
}

// Wakes everyone, unconditionally (close()): rare, so no flag check and no
// barrier plan — the bump alone orders it, whatever the waiter read.
inline void notify_all(ParkingLayout& park, BlockingStats& stats) noexcept {
  // SYNC(park): seq_cst (release would do) — a waiter that reads the new
  // sequence sees S; one that read the old one fails futex_wait's compare.
  park.sequence.fetch_add(1, std::memory_order_seq_cst);
  ++stats.futex_wakes;
  (void)platform::futex_wake(park.sequence, platform::kWakeAll);
  // SYNC(park): seq_cst fence — the caller's store of S before our load of
  // the pollers' bits (the Dekker argument of poke_pollers).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (park.armed.load(std::memory_order_relaxed) != 0) poke_pollers(park, stats);
}

}  // namespace shmring
