// Condition (condition.hpp) across real processes: Python's rules (the lock
// must be held, timeouts, wait_for), notify(n) order and counts, an RLock
// released fully and restored, producer/consumer, waiters killed while
// waiting, a notifier that dies holding the lock, the waiter table's limit.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/condition.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

Condition create_or_throw(const UniqueName& name, bool recursive = true) {
  ConditionOptions o;
  o.recursive = recursive;
  return or_throw(Condition::create(name, o));
}

// A forked waiter on the named condition: holds the lock, says "ready", then
// waits (which releases the lock) and reports "<status> <owned>".
Child forked_waiter(const UniqueName& name, Wait wait = forever) {
  return test::fork_child([&name, wait](int out) {
    auto c = Condition::open(name);
    if (!c || c->acquire() != AcquireStatus::acquired) return 1;
    test::write_line(out, "ready");
    const ConditionStatus st = c->wait(wait);
    const bool owned = c->is_owned();
    (void)c->release();
    test::write_line(out, std::string(to_string(st)) + (owned ? " owned" : " not-owned"));
    return 0;
  });
}

// After a waiter said "ready" (holding the lock), taking the lock proves it
// is inside wait() with its slot claimed.
void until_waiting(Condition& c, Child& w) {
  ASSERT_EQ(w.read_line(), "ready");
  ASSERT_EQ(c.acquire(10s), AcquireStatus::acquired);
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
}

// ---- Python's rules ---------------------------------------------------------------

TEST(Condition, WaitAndNotifyWithoutTheLockAreNotOwnerAndChangeNothing) {
  for (const bool recursive : {true, false}) {
    UniqueName name("cond-not-owner");
    Condition c = create_or_throw(name, recursive);
    EXPECT_EQ(c.wait(10ms), ConditionStatus::not_owner);
    EXPECT_EQ(c.notify(), ConditionStatus::not_owner);
    EXPECT_EQ(c.notify_all(), ConditionStatus::not_owner);
    EXPECT_EQ(c.wait_for([] { return true; }, 10ms), ConditionStatus::not_owner);
    // Held by another process: still not ours (Python: RuntimeError).
    test::SharedMemory<std::atomic<std::uint32_t>> held;
    Child holder = test::fork_child([&](int) {
      auto o = Condition::open(name);
      if (!o || o->acquire() != AcquireStatus::acquired) return 1;
      held->store(1);
      for (;;) ::pause();
    });
    while (held->load() == 0) ::usleep(200);
    EXPECT_EQ(c.notify(), ConditionStatus::not_owner);
    EXPECT_EQ(c.wait(10ms), ConditionStatus::not_owner);
    EXPECT_EQ(c.n_waiting(), 0u);
  }
}

TEST(Condition, WaitWithTimeoutInASpawnedPeerReturnsTimeoutNoEarlierAndHoldsTheLockAgain) {
  UniqueName name("cond-timeout");
  Condition c = create_or_throw(name);
  ASSERT_NO_FATAL_FAILURE(expect_peer_times_out("cond-wait", name, "timeout", "owned"));
  // nowait: releases and re-takes the lock, returns timeout at once.
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(c.wait(nowait), ConditionStatus::timeout);
  EXPECT_EQ(c.wait(0ms), ConditionStatus::timeout);
  EXPECT_LT(monotonic_ns() - t0, 100 * kMs);
  EXPECT_TRUE(c.is_owned());
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
}

TEST(Condition, ANotifyFromASpawnedProcessWakesAForkedWaiterWhichHoldsTheLockAgain) {
  UniqueName name("cond-spawned-notify");
  Condition c = create_or_throw(name);
  Child w = forked_waiter(name, 10s);
  until_waiting(c, w);
  EXPECT_EQ(c.n_waiting(), 1u);
  Child n = test::spawn(test::sync_peer_path(), {"cond-notify", name.str(), "1"});
  EXPECT_EQ(n.read_line().rfind("notified ok", 0), 0u);
  EXPECT_EQ(n.wait(), 0);
  EXPECT_EQ(w.read_line(), "ok owned");
  EXPECT_EQ(w.wait(), 0);
  EXPECT_EQ(c.n_waiting(), 0u);
}

TEST(Condition, ASpawnedWaiterIsWokenByANotifyFromThisProcess) {
  UniqueName name("cond-spawned-wait");
  Condition c = create_or_throw(name);
  Child peer = test::spawn(test::sync_peer_path(), {"cond-wait", name.str(), "-1"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  ASSERT_EQ(c.acquire(10s), AcquireStatus::acquired);  // the peer is in wait()
  const std::int64_t notified_at = monotonic_ns();
  EXPECT_EQ(c.notify(), ConditionStatus::ok);
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
  const Timed t = parse_timed(peer.read_line());
  EXPECT_EQ(t.status, "ok");
  EXPECT_EQ(t.word, "owned");
  EXPECT_GE(t.t1, notified_at);
  EXPECT_EQ(peer.wait(), 0);
}

// notify(n) wakes n waiters, oldest first (threading.Condition is FIFO).
TEST(Condition, NotifyWakesTheOldestWaitersNAtATimeAndNotifyAllTheRest) {
  UniqueName name("cond-fifo");
  Condition c = create_or_throw(name);
  std::vector<Child> w;
  for (int i = 0; i < 5; ++i) {
    w.push_back(forked_waiter(name, 30s));
    until_waiting(c, w.back());
  }
  EXPECT_EQ(c.n_waiting(), 5u);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.notify(), ConditionStatus::ok);  // n = 1
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_EQ(w[0].read_line(), "ok owned");
  ASSERT_EQ(w[0].wait(), 0);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.n_waiting(), 4u);
  EXPECT_EQ(c.notify(2), ConditionStatus::ok);
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_EQ(w[1].read_line(), "ok owned");
  EXPECT_EQ(w[2].read_line(), "ok owned");
  ASSERT_EQ(w[1].wait(), 0);
  ASSERT_EQ(w[2].wait(), 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c.n_waiting(), 2u) << "notify(2) woke exactly two";
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.notify(0), ConditionStatus::ok);
  EXPECT_EQ(c.notify_all(), ConditionStatus::ok);
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_EQ(w[3].read_line(), "ok owned");
  EXPECT_EQ(w[4].read_line(), "ok owned");
  EXPECT_EQ(w[3].wait(), 0);
  EXPECT_EQ(w[4].wait(), 0);
  EXPECT_EQ(c.n_waiting(), 0u);
}

TEST(Condition, ANotifyWithNobodyWaitingIsNotRemembered) {
  UniqueName name("cond-no-memory");
  Condition c = create_or_throw(name);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.notify_all(), ConditionStatus::ok);
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(c.wait(100ms), ConditionStatus::timeout);
  EXPECT_GE(monotonic_ns() - t0, 100 * kMs);
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
}

// Python's Condition(RLock) waits at any depth: _release_save / _acquire_restore.
TEST(Condition, WaitReleasesAnRLockHeldTwiceEntirelyAndRestoresItsDepth) {
  UniqueName name("cond-rlock-depth");
  Condition c = create_or_throw(name, /*recursive=*/true);
  RLockRef lock(*c.lock_layout());
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  ASSERT_EQ(lock.depth(), 2u);
  Child notifier = test::fork_child([&](int out) {
    auto o = Condition::open(name);
    if (!o) return 1;
    // Only once the parent's wait released the RLock entirely can we take it.
    const AcquireStatus st = o->acquire(10s);
    test::write_line(out, to_string(st));
    if (st != AcquireStatus::acquired) return 2;
    (void)o->notify();
    return o->release() == ReleaseStatus::ok ? 0 : 3;
  });
  EXPECT_EQ(c.wait(20s), ConditionStatus::ok);
  EXPECT_EQ(notifier.read_line(), "acquired");
  EXPECT_EQ(notifier.wait(), 0);
  EXPECT_TRUE(c.is_owned());
  EXPECT_EQ(lock.depth(), 2u);
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_TRUE(lock.locked());
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, WaitForReturnsOkOnceThePredicateHoldsAndTimeoutWhenItNeverDoes) {
  struct Shared {
    LockLayout lock;
    ConditionLayout cond;
    std::atomic<std::uint32_t> counter;  // protected by `lock` (atomic only for the test's reads)
  };
  test::SharedMemory<Shared> sh;
  ConditionRef c(sh->cond, LockRef(sh->lock));
  Child producer = test::fork_child([&](int) {
    ConditionRef pc(sh->cond, LockRef(sh->lock));
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(20ms);
      std::scoped_lock g(pc);
      sh->counter.store(sh->counter.load() + 1);
      if (pc.notify_all() != ConditionStatus::ok) return 1;
    }
    return 0;
  });
  {
    std::unique_lock g(c);
    EXPECT_EQ(c.wait_for([&] { return sh->counter.load() >= 3; }, 10s), ConditionStatus::ok);
    EXPECT_GE(sh->counter.load(), 3u);
    EXPECT_TRUE(c.is_owned());
  }
  EXPECT_EQ(producer.wait(), 0);
  std::unique_lock g(c);
  int calls = 0;
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(c.wait_for([&] { return ++calls, sh->counter.load() > 100; }, 150ms), ConditionStatus::timeout);
  EXPECT_GE(monotonic_ns() - t0, 150 * kMs);
  EXPECT_GE(calls, 2) << "checked before waiting and after the timeout";
  EXPECT_EQ(c.wait_for([] { return true; }, nowait), ConditionStatus::ok);
}

// The classic bounded buffer: two conditions on one lock (Python's
// Condition(lock)), two producer and two consumer processes, every item once.
TEST(Condition, ProducersAndConsumersInFourProcessesPassEveryItemOnceThroughABoundedBuffer) {
  constexpr std::uint32_t kCap = 4, kPerProducer = 3000;
  struct Shared {
    LockLayout lock;
    ConditionLayout not_empty, not_full;
    std::uint64_t head, tail;  // protected by `lock`
    std::uint32_t buf[kCap];
    std::atomic<std::uint64_t> sum;
    std::atomic<std::uint32_t> got;
  };
  test::SharedMemory<Shared> sh;
  std::vector<Child> kids;
  for (std::uint32_t p = 0; p < 2; ++p) {
    kids.push_back(test::fork_child([&, p](int) {
      LockRef lock(sh->lock);
      ConditionRef not_empty(sh->not_empty, lock), not_full(sh->not_full, lock);
      for (std::uint32_t i = 0; i < kPerProducer; ++i) {
        std::scoped_lock g(lock);
        if (not_full.wait_for([&] { return sh->tail - sh->head < kCap; }) != ConditionStatus::ok) return 1;
        sh->buf[sh->tail++ % kCap] = p * kPerProducer + i + 1;
        if (not_empty.notify() != ConditionStatus::ok) return 2;
      }
      return 0;
    }));
  }
  for (int k = 0; k < 2; ++k) {
    kids.push_back(test::fork_child([&](int) {
      LockRef lock(sh->lock);
      ConditionRef not_empty(sh->not_empty, lock), not_full(sh->not_full, lock);
      for (std::uint32_t i = 0; i < kPerProducer; ++i) {
        std::scoped_lock g(lock);
        if (not_empty.wait_for([&] { return sh->tail != sh->head; }) != ConditionStatus::ok) return 1;
        sh->sum.fetch_add(sh->buf[sh->head++ % kCap]);
        sh->got.fetch_add(1);
        if (not_full.notify() != ConditionStatus::ok) return 2;
      }
      return 0;
    }));
  }
  for (auto& k : kids) ASSERT_EQ(k.wait(), 0);
  const std::uint64_t n = 2ull * kPerProducer;
  EXPECT_EQ(sh->got.load(), n);
  EXPECT_EQ(sh->sum.load(), n * (n + 1) / 2) << "every item exactly once";
  EXPECT_EQ(sh->head, sh->tail);
}

// ---- dying processes ----------------------------------------------------------------

TEST(Condition, AWaiterKilledWhileWaitingDoesNotAbsorbANotifyMeantForALiveOne) {
  UniqueName name("cond-dead-waiter");
  Condition c = create_or_throw(name);
  Child doomed = forked_waiter(name);  // the oldest: notify(1) would pick it
  until_waiting(c, doomed);
  Child live = forked_waiter(name, 30s);
  until_waiting(c, live);
  doomed.kill(SIGKILL);
  (void)doomed.wait();
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.n_waiting(), 2u) << "the dead waiter's slot is still there";
  EXPECT_EQ(c.notify(1), ConditionStatus::ok);
  ASSERT_EQ(c.release(), ReleaseStatus::ok);
  EXPECT_EQ(live.read_line(5s), "ok owned");
  EXPECT_EQ(live.wait(), 0);
  EXPECT_EQ(c.reclaimed(), 1u);
  EXPECT_EQ(c.n_waiting(), 0u);
}

TEST(Condition, ANotifierThatDiesHoldingTheLockLeavesTheWaiterOwnerDiedHoldingIt) {
  UniqueName name("cond-dead-notifier");
  Condition c = create_or_throw(name);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  Child notifier = test::fork_child([&](int) {
    auto o = Condition::open(name);
    if (!o || o->acquire(10s) != AcquireStatus::acquired) return 1;
    (void)o->notify();
    ::raise(SIGKILL);  // holding the lock
    return 2;
  });
  EXPECT_EQ(c.wait(20s), ConditionStatus::owner_died);
  EXPECT_TRUE(c.is_owned());
  EXPECT_EQ(notifier.wait(), 128 + SIGKILL);
  EXPECT_EQ(RLockRef(*c.lock_layout()).takeovers(), 1u);
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
}

// ---- the waiter table ------------------------------------------------------------------

TEST(Condition, AFullTableOfLiveWaitersGivesTooManyWaitersAndADeadOnesSlotIsReused) {
  struct Shared {
    LockLayout lock;
    ConditionLayout cond;
  };
  test::SharedMemory<Shared> sh;
  ConditionRef c(sh->cond, LockRef(sh->lock));
  // Fill the table with "waiters" named by this (live) thread's token.
  const std::uint64_t live = detail::my_token();
  for (auto& s : sh->cond.waiters.slots) {
    s.owner.store(live);
    s.state.store(kSlotWaiting);
  }
  sh->cond.in_use.store(kWaiterSlots);
  ASSERT_EQ(c.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(c.wait(10ms), ConditionStatus::too_many_waiters);
  EXPECT_TRUE(c.is_owned());
  // A token of a thread that is gone: a child's, after it was reaped.
  test::SharedMemory<std::atomic<std::uint64_t>> token;
  Child gone = test::fork_child([&](int) {
    token->store(detail::my_token());
    return 0;
  });
  ASSERT_EQ(gone.wait(), 0);
  sh->cond.waiters.slots[77].owner.store(token->load());
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(c.wait(50ms), ConditionStatus::timeout) << "took the dead waiter's slot";
  EXPECT_GE(monotonic_ns() - t0, 50 * kMs);
  EXPECT_EQ(sh->cond.waiters.slots[77].owner.load(), 0u) << "freed again after the wait";
  EXPECT_EQ(c.release(), ReleaseStatus::ok);
}

// ---- named -----------------------------------------------------------------------------

// A notify killed between a waiter's outcome and its wake (here: the slot
// set to signalled in the file, no wake at all): the waiter finds it within a
// park slice (intervals.hpp, kParkSlice) instead of sleeping forever.
TEST(Condition, AWaiterSeesASignalWhoseNotifierDiedBeforeWaking) {
  UniqueName name("cond-lost-wake");
  Condition c = create_or_throw(name);
  Child w = forked_waiter(name, forever);
  until_waiting(c, w);
  ::usleep(100'000);  // let it park
  const std::uint64_t table = 128 + offsetof(NamedConditionLayout, cond) + offsetof(ConditionLayout, waiters);
  int signalled = 0;
  for (std::uint64_t i = 0; i < kWaiterSlots; ++i) {
    const std::uint64_t state = table + i * sizeof(WaiterSlotLayout) + offsetof(WaiterSlotLayout, state);
    if (peek<std::uint32_t>(name.path(), state) == kSlotSleeping) {
      poke(name.path(), state, kSlotSignalled);
      ++signalled;
    }
  }
  ASSERT_EQ(signalled, 1) << "one parked waiter expected";
  EXPECT_EQ(w.read_line(5s), "ok owned");
  EXPECT_EQ(w.wait(10s), 0);
}

TEST(ConditionOpen, ALockFileIsNotAConditionAndABadLockKindIsCorrupt) {
  UniqueName cn("cond-open"), ln("cond-open-lock");
  Condition c = create_or_throw(cn, /*recursive=*/false);
  EXPECT_FALSE(c.recursive());
  auto l = Lock::create(ln);
  ASSERT_TRUE(l);
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto as_cond = Condition::open(ln, o);
  ASSERT_FALSE(as_cond);
  EXPECT_EQ(as_cond.error().code, Errc::wrong_kind);
  auto again = Condition::open(cn, o);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->recursive()) << "the lock kind comes from the file";
  c.layout()->lock_kind = 12345;
  auto bad = Condition::open(cn, o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  Child peer = test::spawn(test::sync_peer_path(), {"open", "cond", cn.str()});
  EXPECT_EQ(peer.read_line().rfind("error ", 0), 0u);
  EXPECT_EQ(peer.wait(), 0);
}

}  // namespace
}  // namespace shmring
