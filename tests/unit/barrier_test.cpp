// Barrier (barrier.hpp) across real processes: arrival indices and the
// action over several generations (forked and spawned parties), what the
// parties wrote before arriving is seen after, a timeout breaks it for all,
// reset and abort, an action that throws, a party killed while waiting.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/barrier.hpp"
#include "shmring/platform/clock.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

Barrier create_or_throw(const UniqueName& name, std::uint32_t parties, BarrierRef::Action action = {}) {
  return or_throw(Barrier::create(name, parties, std::move(action)));
}

// A forked party: waits once with `wait`, reports "<status> <index>".
Child forked_party(const UniqueName& name, Wait wait = forever) {
  return test::fork_child([&name, wait](int out) {
    auto b = Barrier::open(name);
    if (!b) return 1;
    const BarrierResult r = b->wait(wait);
    test::write_line(out, std::string(to_string(r.status)) + " " + std::to_string(r.index));
    return 0;
  });
}

// Until `n` parties of the current generation wait.
bool until_waiting(const BarrierRef& b, std::uint32_t n) {
  const std::int64_t until = monotonic_ns() + 10'000 * kMs;
  while (b.n_waiting() != n) {
    if (monotonic_ns() > until) return false;
    ::usleep(200);
  }
  return true;
}

TEST(Barrier, FourProcessesPassTenGenerationsWithDistinctIndicesAndOneActionEach) {
  constexpr std::uint32_t kParties = 4, kRounds = 10;
  struct Shared {
    std::atomic<std::uint32_t> actions;
    std::atomic<std::uint32_t> wrote[kRounds][kParties];  // each party's write before round r
    std::atomic<std::uint32_t> index_seen[kRounds][kParties];
    std::atomic<std::uint32_t> missing;  // a party that did not see every write of its round
  };
  test::SharedMemory<Shared> sh;
  UniqueName name("barrier-rounds");
  auto action = [&] { sh->actions.fetch_add(1); };
  Barrier b = create_or_throw(name, kParties, action);
  EXPECT_EQ(b.parties(), kParties);
  auto party = [&](std::uint32_t p, BarrierRef& bar) {
    for (std::uint32_t r = 0; r < kRounds; ++r) {
      // relaxed: the barrier must order it (its ender's release, our acquire).
      sh->wrote[r][p].store(1, std::memory_order_relaxed);
      const BarrierResult res = bar.wait(30s);
      if (!res.passed()) return 1;
      sh->index_seen[r][res.index].fetch_add(1);
      for (std::uint32_t q = 0; q < kParties; ++q) {
        if (sh->wrote[r][q].load(std::memory_order_relaxed) != 1) sh->missing.fetch_add(1);
      }
    }
    return 0;
  };
  std::vector<Child> kids;
  for (std::uint32_t p = 1; p < kParties; ++p) {
    kids.push_back(test::fork_child([&, p](int) {
      auto o = Barrier::open(name, action);
      return o ? party(p, *o) : 9;
    }));
  }
  EXPECT_EQ(party(0, b), 0);
  for (auto& k : kids) EXPECT_EQ(k.wait(), 0);
  EXPECT_EQ(sh->actions.load(), kRounds) << "the action runs once per generation";
  for (std::uint32_t r = 0; r < kRounds; ++r) {
    for (std::uint32_t i = 0; i < kParties; ++i) EXPECT_EQ(sh->index_seen[r][i].load(), 1u) << r << " " << i;
  }
  EXPECT_EQ(sh->missing.load(), 0u) << "writes before wait() are seen after it";
  EXPECT_EQ(b.generation(), kRounds);
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, ASpawnedPartyPassesThreeGenerationsWithForkedOnes) {
  UniqueName name("barrier-spawned");
  Barrier b = create_or_throw(name, 4);
  Child peer = test::spawn(test::sync_peer_path(), {"barrier-wait", name.str(), "3", "30000"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  std::vector<Child> kids;
  for (int k = 0; k < 2; ++k) {
    kids.push_back(test::fork_child([&](int out) {
      auto o = Barrier::open(name);
      if (!o) return 1;
      for (int r = 0; r < 3; ++r) {
        const BarrierResult res = o->wait(30s);
        test::write_line(out, std::string(to_string(res.status)) + " " + std::to_string(res.index));
      }
      return 0;
    }));
  }
  const auto index_of = [](const std::string& line) {
    char status[32] = {0};
    unsigned idx = 99;
    return std::sscanf(line.c_str(), "%31s %u", status, &idx) == 2 && std::string(status) == "passed" ? idx : 99u;
  };
  for (int r = 0; r < 3; ++r) {
    const BarrierResult res = b.wait(30s);
    ASSERT_TRUE(res.passed());
    std::set<std::uint32_t> indices{res.index, index_of(peer.read_line())};
    for (auto& k : kids) indices.insert(index_of(k.read_line()));
    EXPECT_EQ(indices, (std::set<std::uint32_t>{0, 1, 2, 3})) << "generation " << r;
  }
  for (auto& k : kids) EXPECT_EQ(k.wait(), 0);
  EXPECT_EQ(peer.wait(), 0);
  EXPECT_EQ(b.generation(), 3u);
}

// Python: a wait that times out breaks the barrier; every waiter gets
// BrokenBarrierError, and so does every later wait until reset().
TEST(Barrier, ATimeoutBreaksItForEveryWaiterUntilReset) {
  UniqueName name("barrier-timeout");
  Barrier b = create_or_throw(name, 3);
  Child w = forked_party(name);  // forever: only the break frees it
  ASSERT_TRUE(until_waiting(b, 1));
  const std::int64_t t0 = monotonic_ns();
  const BarrierResult r = b.wait(150ms);
  EXPECT_GE(monotonic_ns() - t0, 150 * kMs);
  EXPECT_EQ(r.status, BarrierStatus::timeout);
  EXPECT_EQ(w.read_line(), "broken 0");
  EXPECT_EQ(w.wait(), 0);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  const std::int64_t t1 = monotonic_ns();
  EXPECT_EQ(b.wait().status, BarrierStatus::broken) << "at once, even with forever";
  EXPECT_LT(monotonic_ns() - t1, 100 * kMs);
  Child peer = test::spawn(test::sync_peer_path(), {"barrier-wait", name.str(), "1", "-1"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  EXPECT_EQ(peer.read_line().rfind("broken", 0), 0u);
  EXPECT_EQ(peer.wait(), 0);
  b.reset();
  EXPECT_FALSE(b.broken());
  Child a = forked_party(name, 30s), c = forked_party(name, 30s);
  EXPECT_TRUE(b.wait(30s).passed());
  EXPECT_EQ(a.read_line().rfind("passed", 0), 0u);
  EXPECT_EQ(c.read_line().rfind("passed", 0), 0u);
  EXPECT_EQ(a.wait(), 0);
  EXPECT_EQ(c.wait(), 0);
}

TEST(Barrier, NowaitOnAnIncompleteBarrierTimesOutAtOnceAndBreaksIt) {
  UniqueName name("barrier-nowait");
  Barrier b = create_or_throw(name, 2);
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(b.wait(nowait).status, BarrierStatus::timeout);
  EXPECT_LT(monotonic_ns() - t0, 100 * kMs);
  EXPECT_TRUE(b.broken());
}

TEST(Barrier, AbortBreaksItForCurrentAndLaterWaitersAndResetRepairsIt) {
  UniqueName name("barrier-abort");
  Barrier b = create_or_throw(name, 3);
  Child w1 = forked_party(name), w2 = forked_party(name);
  ASSERT_TRUE(until_waiting(b, 2));
  Child aborter = test::fork_child([&](int) {
    auto o = Barrier::open(name);
    if (!o) return 1;
    o->abort();
    return 0;
  });
  EXPECT_EQ(aborter.wait(), 0);
  EXPECT_EQ(w1.read_line().rfind("broken", 0), 0u);
  EXPECT_EQ(w2.read_line().rfind("broken", 0), 0u);
  EXPECT_EQ(w1.wait(), 0);
  EXPECT_EQ(w2.wait(), 0);
  EXPECT_EQ(b.wait(10s).status, BarrierStatus::broken);
  b.reset();
  Child a = forked_party(name, 30s), c = forked_party(name, 30s);
  EXPECT_TRUE(b.wait(30s).passed());
  EXPECT_EQ(a.wait(), 0);
  EXPECT_EQ(c.wait(), 0);
}

// Python's reset(): waiting threads get BrokenBarrierError; the barrier is
// not left broken.
TEST(Barrier, ResetReleasesCurrentWaitersWithBrokenAndLeavesItEmptyAndUsable) {
  UniqueName name("barrier-reset");
  Barrier b = create_or_throw(name, 3);
  Child w1 = forked_party(name), w2 = forked_party(name);
  ASSERT_TRUE(until_waiting(b, 2));
  const std::uint64_t g = b.generation();
  b.reset();
  EXPECT_EQ(w1.read_line().rfind("broken", 0), 0u);
  EXPECT_EQ(w2.read_line().rfind("broken", 0), 0u);
  EXPECT_EQ(w1.wait(), 0);
  EXPECT_EQ(w2.wait(), 0);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_EQ(b.generation(), g + 1);
  Child a = forked_party(name, 30s), c = forked_party(name, 30s);
  const BarrierResult r = b.wait(30s);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(a.wait(), 0);
  EXPECT_EQ(c.wait(), 0);
}

// Python: if the action raises, the barrier is broken and the exception
// propagates in the thread that ran it.
TEST(Barrier, AnActionThatThrowsBreaksItAndPropagatesFromTheLastArrival) {
  UniqueName name("barrier-action-throws");
  Barrier b = create_or_throw(name, 2, [] { throw std::runtime_error("action failed"); });
  Child w = forked_party(name);  // its own handle has no action: it arrives first
  ASSERT_TRUE(until_waiting(b, 1));
  EXPECT_THROW((void)b.wait(10s), std::runtime_error);
  EXPECT_EQ(w.read_line(), "broken 0");
  EXPECT_EQ(w.wait(), 0);
  EXPECT_TRUE(b.broken());
}

TEST(Barrier, APartyKilledWhileWaitingHasArrivedOthersPassAndTheNextGenerationTimesOut) {
  UniqueName name("barrier-killed");
  Barrier b = create_or_throw(name, 3);
  Child doomed = forked_party(name);
  ASSERT_TRUE(until_waiting(b, 1));
  // Arrived is not yet parked: the party counts itself under the internal
  // lock, then lets go of it. Killed in between, it dies holding the lock,
  // and the takeover breaks the barrier (by design) — a race this test lost
  // once under ASan. Kill it only once the lock is free.
  const std::int64_t give_up = monotonic_ns() + 10'000 * kMs;
  while (b.layout()->lock.owner.load(std::memory_order_acquire) != 0) {
    ASSERT_LT(monotonic_ns(), give_up) << "the waiting party never released the internal lock";
    ::usleep(200);
  }
  doomed.kill(SIGKILL);
  (void)doomed.wait();
  Child other = forked_party(name, 30s);
  const BarrierResult r = b.wait(30s);
  EXPECT_TRUE(r.passed()) << "the dead party had arrived";
  EXPECT_EQ(other.read_line().rfind("passed", 0), 0u);
  EXPECT_EQ(other.wait(), 0);
  // Next generation: the dead party never arrives; timeouts end the wait.
  Child late = forked_party(name);  // forever: freed by our timeout's break
  ASSERT_TRUE(until_waiting(b, 1));
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(b.wait(200ms).status, BarrierStatus::timeout);
  EXPECT_GE(monotonic_ns() - t0, 200 * kMs);
  EXPECT_EQ(late.read_line(), "broken 0");
  EXPECT_EQ(late.wait(), 0);
}

TEST(Barrier, OnePartyPassesAtOnceWithIndexZeroAndRunsTheAction) {
  test::SharedMemory<BarrierLayout> layout;
  BarrierRef::initialize(*layout, 1);
  int ran = 0;
  BarrierRef b(*layout, [&] { ++ran; });
  const BarrierResult r = b.wait(nowait);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(ran, 1);
}

TEST(BarrierOpen, PartiesOutOfRangeAreRefusedAtCreateAndCorruptAtOpen) {
  UniqueName name("barrier-parties");
  auto zero = Barrier::create(name, 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, Errc::invalid_argument);
  auto big = Barrier::create(name, kWaiterSlots + 1);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::invalid_argument);
  Barrier b = create_or_throw(name, kWaiterSlots);
  b.layout()->parties = 0;
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto bad = Barrier::open(name, {}, o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  Child peer = test::spawn(test::sync_peer_path(), {"open", "barrier", name.str()});
  EXPECT_EQ(peer.read_line().rfind("error ", 0), 0u);
  EXPECT_EQ(peer.wait(), 0);
}

}  // namespace
}  // namespace shmring
