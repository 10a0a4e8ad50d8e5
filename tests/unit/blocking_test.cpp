// The spin-then-park protocol (blocking.hpp) against a late notifier: one that
// stored S, was preempted, and notifies only after the waiter has consumed S
// and started parking for the next value. A lost wakeup shows up as a wait
// that runs into its deadline although its value was stored and notified.
#include "shmring/blocking/blocking.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <vector>
#include <thread>

#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/platform/cpu.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;

struct Shared {
  ParkingLayout park{};
  alignas(128) std::atomic<std::uint64_t> value{0};
};

// Both ways of ordering the handshake: full fences on both sides, and the
// asymmetric plan (compiler barrier in notify, membarrier in the waiter).
std::vector<BarrierPlan> plans() {
  std::vector<BarrierPlan> p{BarrierPlan{}};
  if (platform::can_issue_heavy_barrier() && platform::register_for_heavy_barriers()) {
    p.push_back(BarrierPlan{true, true});
  } else {
    std::printf("membarrier unavailable: only the fence plan is tested\n");
  }
  return p;
}

// Runs the late notify at the waiter's most delicate point (after its flag
// and barrier), once.
struct LateNotifier {
  Shared* s;
  BlockingStats* stats;
  BarrierPlan plan;
  bool done = false;
  void after_flag_set() noexcept {
    if (done) return;
    done = true;
    notify(s->park, *stats, plan);  // the notify for value 1, which the waiter already has
  }
};

TEST(Blocking, LateNotifyDuringParkingDoesNotLoseTheNextWakeup) {
  for (const BarrierPlan plan : plans()) {
    SCOPED_TRACE(plan.notifier_light ? "asymmetric" : "fences");
    Shared s;
    s.value.store(1);  // value 1 was stored; its notify is late
    BlockingStats notifier_stats;
    BlockingStats late_stats;  // the late notify runs on the waiter's thread: its own counters
    std::thread next([&] {
      ::usleep(100'000);  // the waiter is asleep by now
      s.value.store(2, std::memory_order_release);
      notify(s.park, notifier_stats, plan);
    });
    AdaptiveSpin spin;
    BlockingStats stats;
    const auto t0 = std::chrono::steady_clock::now();
    const bool woke = wait_until(
        s.park, [&] { return s.value.load(std::memory_order_acquire) >= 2; }, platform::Deadline::after(2s), spin,
        stats, plan, LateNotifier{&s, &late_stats, plan});
    const auto waited = std::chrono::steady_clock::now() - t0;
    next.join();
    EXPECT_TRUE(woke);
    EXPECT_LT(waited, 1500ms) << "the wait ran into its deadline: the wakeup for value 2 was lost";
    EXPECT_GE(stats.futex_waits, 1u) << "the waiter should have parked";
  }
}

TEST(Blocking, EveryNotifyAfterTheFlagIsSetWakesOrIsSeen) {
  // The same at every round of a ping-pong between two threads: the late
  // notify of the previous round lands at the delicate point of every park.
  for (const BarrierPlan plan : plans()) {
    SCOPED_TRACE(plan.notifier_light ? "asymmetric" : "fences");
    Shared s;
    BlockingStats notifier_stats;
    BlockingStats late_stats;  // the late notify runs on the waiter's thread: its own counters
    constexpr std::uint64_t kRounds = 200;
    std::thread producer([&] {
      for (std::uint64_t i = 1; i <= kRounds; ++i) {
        ::usleep(500);
        s.value.store(i, std::memory_order_release);
        notify(s.park, notifier_stats, plan);
      }
    });
    AdaptiveSpin spin;
    BlockingStats stats;
    // A lost wakeup ends at the deadline, where the predicate is checked once
    // more and may well be true by then: so a slow wait counts as lost too.
    std::uint64_t lost = 0;
    for (std::uint64_t want = 1; want <= kRounds; ++want) {
      LateNotifier late{&s, &late_stats, plan};
      const auto t0 = std::chrono::steady_clock::now();
      const bool woke = wait_until(
          s.park, [&] { return s.value.load(std::memory_order_acquire) >= want; }, platform::Deadline::after(1s), spin,
          stats, plan, late);
      if (!woke || std::chrono::steady_clock::now() - t0 >= 1s) {
        ++lost;
        want = s.value.load();
      }
    }
    producer.join();
    EXPECT_EQ(lost, 0u);
  }
}

// ---- Yield, then park ----------------------------------------------------------

// A waiter and the process it waits for, both pinned to one CPU: the partner
// runs only when the waiter gives that CPU up. The yields between the spin
// and the park hand it over, so a wait ends without a park; a waiter that
// went from its spin straight to the futex would park in every round (the
// partner, runnable, cannot answer while the waiter spins).
struct YieldShared {
  ParkingLayout park{};
  alignas(128) std::atomic<std::uint64_t> armed{0};  // the round the waiter is about to wait for
  alignas(128) std::atomic<std::uint64_t> value{0};  // the last round the partner answered
};

// What the waiter saw over kYieldRounds waits for a partner on its CPU.
struct SharedCpuWaits {
  std::uint64_t parked_rounds = 0;  // waits that parked
  std::uint32_t budget = 0;         // the spin budget after the last wait
};
constexpr std::uint64_t kYieldRounds = 20;

SharedCpuWaits wait_for_a_partner_on_cpu_0() {
  const test::AffinityGuard guard;
  EXPECT_TRUE(guard.saved());
  EXPECT_TRUE(platform::pin_to_cpu(0));  // the child inherits the mask
  test::SharedMemory<YieldShared> s;
  test::Child partner = test::fork_child([&](int) {
    BlockingStats stats;
    for (std::uint64_t round = 1; round <= kYieldRounds; ++round) {
      // Never sleeping, so runnable whenever the waiter is; yielding, as a
      // waiting participant does, so the scheduler still owes it CPU time
      // when the waiter yields (one that spun through whole slices would
      // not be picked until the waiter parked).
      while (s->armed.load(std::memory_order_acquire) < round) platform::yield_cpu();
      s->value.store(round, std::memory_order_release);
      notify(s->park, stats);
    }
    return 0;
  });
  AdaptiveSpin spin;
  BlockingStats stats;
  SharedCpuWaits seen;
  for (std::uint64_t round = 1; round <= kYieldRounds; ++round) {
    const std::uint64_t parks_before = stats.futex_waits;
    s->armed.store(round, std::memory_order_release);
    const bool answered = wait_until(
        s->park, [&] { return s->value.load(std::memory_order_acquire) >= round; }, platform::Deadline::after(10s),
        spin, stats);
    EXPECT_TRUE(answered) << "round " << round;
    if (stats.futex_waits != parks_before) ++seen.parked_rounds;
  }
  EXPECT_EQ(partner.wait(), 0);
  seen.budget = spin.budget();
  std::printf("%llu of %llu waits parked; spin budget %u\n", static_cast<unsigned long long>(seen.parked_rounds),
              static_cast<unsigned long long>(kYieldRounds), seen.budget);
  return seen;
}

TEST(Blocking, AWaiterYieldsToAPartnerOnItsOwnCpuInsteadOfParking) {
  const SharedCpuWaits seen = wait_for_a_partner_on_cpu_0();
  // A few rounds may park if the scheduler keeps the yielder on the CPU;
  // without the yields every round does.
  EXPECT_LE(seen.parked_rounds, kYieldRounds / 4) << "the waiter parked instead of yielding to its partner";
}

// The partner cannot answer while the waiter spins on their one CPU, so the
// spin is wasted: a wait that a yield ended must shrink the budget, or every
// wait would spin its ceiling first (512 pauses, several microseconds, per
// wait: it halved the lane engine's one-CPU stream).
TEST(Blocking, AWaiterWhosePartnerSharesItsCpuStopsSpinning) {
  const SharedCpuWaits seen = wait_for_a_partner_on_cpu_0();
  // From 256, three misses reach the floor; a wait that parks, or that a
  // preemption ends inside the spin, counts as a hit and doubles it.
  EXPECT_LE(seen.budget, 2 * AdaptiveSpin::kMin) << "the waiter kept spinning for a partner that needs its CPU";
}

}  // namespace
}  // namespace shmring
