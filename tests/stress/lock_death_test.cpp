// Owner death, again and again: a holder process loops acquire / work /
// release on a named Lock (or RLock, recursively) while a waiter process
// loops on the same lock; the test kills the holder with SIGKILL at seeded
// random moments — while it holds the lock, while it waits for it, while it
// releases — and starts a new holder each round. Checked, every round:
//  * a holder that died holding the lock (its token still in the owner word,
//    or a takeover happened) is taken over with owner_died, by the waiter,
//    within 100 ms of the kill — never a hang, never a normal `acquired`.
//    The 100 ms exclude the time the waiter spent runnable but not running
//    (its /proc schedstat run-queue delay between the kill and the takeover):
//    at nice 19 on a machine busy with other work the scheduler may withhold
//    the CPU for seconds, which no lock design can shorten. Both numbers are
//    printed;
//  * mutual exclusion: a mark in shared memory says who is inside; nobody
//    finds another's mark on a normal acquire or loses its own mark;
//  * no takeover before the kill (a live holder is never declared dead);
//  * the lock is usable at the end.
//
// SHMRING_LOCK_KILLS (per lock type, default 150) and SHMRING_LOCK_SEED set
// the run; the seed is printed. The kill schedule is seeded; process timing
// is not, so which kills land inside the lock differs from run to run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns

constexpr std::uint32_t kHolderMark = 1, kWaiterMark = 2;

struct Ledger {
  std::atomic<std::uint32_t> in_cs;            // who is inside: 0, kHolderMark, kWaiterMark
  std::atomic<std::uint64_t> violations;       // mutual exclusion broken (see above)
  std::atomic<std::uint64_t> holder_errors;    // wrong status or depth seen by a holder
  std::atomic<std::uint64_t> owner_died;       // the waiter's owner_died results
  std::atomic<std::int64_t> owner_died_at;     // when the last one returned
  std::atomic<std::int64_t> owner_died_rq_ns;  // the waiter's run-queue delay counter then
  std::atomic<std::uint64_t> waiter_timeouts;  // acquire(5 s) ran out: a hang
  std::atomic<std::uint64_t> waiter_acquired;
  std::atomic<std::uint64_t> holder_token;  // pack_owner(current_thread()) of this round's holder
  std::atomic<std::uint32_t> holder_ready;  // the holder got the lock once
  std::atomic<std::uint32_t> holding_long;  // the holder is in a long hold (the waiter parks)
  std::atomic<std::uint32_t> stop;
};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

template <class L>
int holder_main(const UniqueName& name, Ledger& g, bool recursive, std::uint64_t seed) {
  auto l = L::open(name);
  if (!l) return 1;
  g.holder_token.store(platform::pack_owner(platform::current_thread()));
  std::mt19937_64 rng(seed);
  for (;;) {
    const int depth = recursive ? 1 + static_cast<int>(rng() % 3) : 1;
    const AcquireStatus st = l->acquire();
    if (st == AcquireStatus::timeout) g.holder_errors.fetch_add(1);
    // owner_died: the previous round's holder, not yet taken over by the waiter.
    if (st == AcquireStatus::acquired && g.in_cs.load() != 0) g.violations.fetch_add(1);
    g.in_cs.store(kHolderMark);
    g.holder_ready.store(1);
    for (int d = 1; d < depth; ++d) {
      if (l->acquire(std::chrono::milliseconds(0)) != AcquireStatus::acquired) g.holder_errors.fetch_add(1);
    }
    if constexpr (std::is_same_v<L, RLock>) {
      if (l->depth() != static_cast<std::uint64_t>(depth)) g.holder_errors.fetch_add(1);
    }
    if (rng() % 16 == 0) {
      g.holding_long.store(1);
      ::usleep(30'000);  // long enough for the waiter to park in futex_wait
      g.holding_long.store(0);
    } else {
      ::usleep(static_cast<useconds_t>(rng() % 500));
    }
    if (g.in_cs.load() != kHolderMark) g.violations.fetch_add(1);
    g.in_cs.store(0);
    for (int d = 0; d < depth; ++d) {
      if (l->release() != ReleaseStatus::ok) g.holder_errors.fetch_add(1);
    }
    ::usleep(static_cast<useconds_t>(rng() % 100));
  }
}

template <class L>
int waiter_main(const UniqueName& name, Ledger& g, std::uint64_t seed) {
  auto l = L::open(name);
  if (!l) return 1;
  std::mt19937_64 rng(seed);
  while (g.stop.load() == 0) {
    const AcquireStatus st = l->acquire(std::chrono::seconds(60));
    if (st == AcquireStatus::timeout) {
      g.waiter_timeouts.fetch_add(1);
      continue;
    }
    if (st == AcquireStatus::owner_died) {
      g.owner_died_at.store(monotonic_ns());
      g.owner_died_rq_ns.store(test::runqueue_wait_ns(::getpid()));
      g.owner_died.fetch_add(1);
    } else {
      if (g.in_cs.load() != 0) g.violations.fetch_add(1);
      g.waiter_acquired.fetch_add(1);
    }
    g.in_cs.store(kWaiterMark);
    ::usleep(static_cast<useconds_t>(rng() % 100));
    if (g.in_cs.load() != kWaiterMark) g.violations.fetch_add(1);
    g.in_cs.store(0);
    if (l->release() != ReleaseStatus::ok) g.violations.fetch_add(1);
    ::usleep(static_cast<useconds_t>(rng() % 1000));
  }
  return 0;
}

template <class L>
void kill_holders_at_random(bool recursive, const char* what) {
  const std::uint64_t kills = env_or("SHMRING_LOCK_KILLS", 150);
  const std::uint64_t seed = env_or("SHMRING_LOCK_SEED", std::random_device{}());
  std::printf("%s: %llu kills, SHMRING_LOCK_SEED=%llu\n", what, static_cast<unsigned long long>(kills),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);

  UniqueName name("lock-death");
  auto created = L::create(name);
  ASSERT_TRUE(created) << created.error().message();
  L& lock = *created;
  test::SharedMemory<Ledger> g;
  Child waiter = test::fork_child([&](int) { return waiter_main<L>(name, *g, seed ^ 0x5eed); });

  std::uint64_t takeovers = 0, long_hold_takeovers = 0, held_at_death = 0;
  std::int64_t worst_ns = 0, worst_raw_ns = 0;
  for (std::uint64_t round = 0; round < kills; ++round) {
    g->holder_ready.store(0);
    g->holder_token.store(0);
    g->holding_long.store(0);  // a holder killed in a long hold left it set
    Child holder = test::fork_child([&](int) { return holder_main<L>(name, *g, recursive, seed + round); });
    std::int64_t until = monotonic_ns() + 60'000 * kMs;
    while (g->holder_ready.load() == 0 && monotonic_ns() < until) ::usleep(100);
    ASSERT_EQ(g->holder_ready.load(), 1u) << "round " << round << ": the holder never got the lock";
    const std::uint64_t token = g->holder_token.load();
    // Mostly within a couple of short holds; one round in four reaches into long holds.
    const std::int64_t delay_us = static_cast<std::int64_t>(rng() % 4 == 0 ? rng() % 60'000 : rng() % 2'000);
    ::usleep(static_cast<useconds_t>(delay_us));
    const std::uint64_t died_before = g->owner_died.load();
    const std::int64_t waiter_rq_before = test::runqueue_wait_ns(waiter.pid());
    const std::int64_t killed_at = monotonic_ns();
    holder.kill(SIGKILL);
    const bool was_long = g->holding_long.load() != 0;
    ASSERT_EQ(holder.wait(), 128 + SIGKILL);
    // relaxed: the test reads the owner word as an observer.
    const bool held = lock.layout()->owner.load(std::memory_order_relaxed) == token;
    // Resolved: nobody may be left holding the dead token (60 s: a hang, even
    // for a starved waiter; the latency is checked below).
    until = monotonic_ns() + 60'000 * kMs;
    while (lock.layout()->owner.load(std::memory_order_relaxed) == token && monotonic_ns() < until) ::usleep(200);
    ASSERT_NE(lock.layout()->owner.load(std::memory_order_relaxed), token)
        << "round " << round << ": the dead holder's lock was never taken over";
    // The waiter's takeover is counted just after its acquire returns.
    until = monotonic_ns() + 60'000 * kMs;
    while (held && g->owner_died.load() == died_before && monotonic_ns() < until) ::usleep(200);
    const bool took_over = g->owner_died.load() != died_before;
    if (held) {
      EXPECT_TRUE(took_over) << "round " << round << ": the holder died holding the lock, no owner_died";
    }
    if (held || took_over) ++held_at_death;  // the waiter may have taken over before we looked
    if (took_over) {
      ++takeovers;
      if (was_long) ++long_hold_takeovers;
      const std::int64_t raw = g->owner_died_at.load() - killed_at;
      EXPECT_GE(raw, 0) << "round " << round << ": a live holder was taken for dead";
      const std::int64_t starved = std::max<std::int64_t>(0, g->owner_died_rq_ns.load() - waiter_rq_before);
      const std::int64_t latency = raw - starved;
      worst_raw_ns = std::max(worst_raw_ns, raw);
      worst_ns = std::max(worst_ns, latency);
      EXPECT_LT(latency, 100 * kMs) << "round " << round << ": owner_died " << raw / kMs << " ms after the kill, "
                                    << starved / kMs << " ms of it waiting for a CPU";
    }
  }
  g->stop.store(1);
  EXPECT_EQ(waiter.wait(std::chrono::seconds(120)), 0);
  std::printf(
      "%s: %llu kills, %llu with the lock held (%llu taken over; %llu of them while the waiter was parked "
      "behind a 30 ms hold), worst takeover %.1f ms after the kill (%.1f ms before subtracting the waiter's "
      "run-queue delay), waiter acquired normally %llu times\n",
      what, static_cast<unsigned long long>(kills), static_cast<unsigned long long>(held_at_death),
      static_cast<unsigned long long>(takeovers), static_cast<unsigned long long>(long_hold_takeovers),
      static_cast<double>(worst_ns) / 1e6, static_cast<double>(worst_raw_ns) / 1e6,
      static_cast<unsigned long long>(g->waiter_acquired.load()));
  EXPECT_EQ(g->violations.load(), 0u);
  EXPECT_EQ(g->holder_errors.load(), 0u);
  EXPECT_EQ(g->waiter_timeouts.load(), 0u) << "the waiter hung for 60 s";
  // Every takeover the lock counted was reported to its acquirer (the waiter:
  // nobody else runs while a dead token is in the owner word) as owner_died.
  // Not `takeovers` above: a round whose takeover landed between the kill and
  // the `held` read, and was counted by the waiter just after the round looked,
  // is missing from it (seen once in CI under ASan: 118 vs 117).
  EXPECT_EQ(lock.takeovers(), g->owner_died.load());
  EXPECT_LE(takeovers, g->owner_died.load());
  EXPECT_GT(takeovers, kills / 10) << "too few kills landed inside the lock to test anything";
  const AcquireStatus last = lock.acquire(std::chrono::seconds(1));
  EXPECT_TRUE(last == AcquireStatus::acquired || last == AcquireStatus::owner_died) << "the lock is still usable";
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
}

TEST(LockDeath, HoldersKilledAtRandomAreTakenOverWithOwnerDiedWithin100ms) {
  kill_holders_at_random<Lock>(false, "Lock");
}

TEST(LockDeath, RecursiveHoldersKilledAtRandomAreTakenOverWithOwnerDiedWithin100ms) {
  kill_holders_at_random<RLock>(true, "RLock");
}

}  // namespace
}  // namespace shmring
