// Semaphore and BoundedSemaphore (semaphore.hpp) across real processes:
// counts, timeouts, the bounded release error, embedding, hostile files.
#include <fcntl.h>
#include <gtest/gtest.h>
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
#include "shmring/platform/clock.hpp"
#include "shmring/ipc/semaphore.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

template <class S>
S create_or_throw(const UniqueName& name, std::uint32_t value) {
  return or_throw(S::create(name, value));
}

TEST(Semaphore, AtMostValueProcessesAreInsideAtOnceAndTheCountComesBack) {
  UniqueName name("sem-count");
  Semaphore sem = create_or_throw<Semaphore>(name, 3);
  struct Counts {
    std::atomic<std::uint32_t> inside, most;
  };
  test::SharedMemory<Counts> c;
  std::vector<Child> children;
  for (int p = 0; p < 8; ++p) {
    children.push_back(test::fork_child([&](int) {
      auto s = Semaphore::open(name);
      if (!s) return 1;
      for (int i = 0; i < 5; ++i) {
        if (s->acquire(10s) != AcquireStatus::acquired) return 2;
        const std::uint32_t now_inside = c->inside.fetch_add(1) + 1;
        std::uint32_t most = c->most.load();
        while (now_inside > most && !c->most.compare_exchange_weak(most, now_inside)) {
        }
        ::usleep(5'000);
        c->inside.fetch_sub(1);
        if (s->release() != ReleaseStatus::ok) return 3;
      }
      return 0;
    }));
  }
  for (auto& ch : children) ASSERT_EQ(ch.wait(), 0);
  EXPECT_LE(c->most.load(), 3u);
  EXPECT_GE(c->most.load(), 2u) << "8 processes never overlapped: the test proves nothing";
  EXPECT_EQ(sem.get_value(), 3u);
}

TEST(Semaphore, AcquireWithTimeoutInASpawnedProcessTimesOutNoEarlierThanTheTimeout) {
  UniqueName name("sem-timeout");
  Semaphore sem = create_or_throw<Semaphore>(name, 0);
  ASSERT_NO_FATAL_FAILURE(expect_peer_times_out("sem-acquire", name, "timeout"));
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(sem.try_acquire(), AcquireStatus::timeout);
  EXPECT_EQ(sem.acquire(nowait), AcquireStatus::timeout);
  EXPECT_LT(monotonic_ns() - t0, 100 * kMs);
  EXPECT_EQ(sem.get_value(), 0u);
}

TEST(Semaphore, AReleaseWakesAWaiterInASpawnedProcess) {
  UniqueName name("sem-wake");
  Semaphore sem = create_or_throw<Semaphore>(name, 0);
  Child peer = test::spawn(test::sync_peer_path(), {"sem-acquire", name.str(), "-1"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  std::this_thread::sleep_for(100ms);  // the peer parks
  const std::int64_t released_at = monotonic_ns();
  ASSERT_EQ(sem.release(), ReleaseStatus::ok);
  const Timed t = parse_timed(peer.read_line());
  EXPECT_EQ(t.status, "acquired");
  EXPECT_GE(t.t1, released_at);
  EXPECT_EQ(peer.wait(), 0);
  EXPECT_EQ(sem.get_value(), 0u);
}

TEST(Semaphore, ReleasesByOtherProcessesAreCountedAndGetValueSeesThem) {
  UniqueName name("sem-others");
  Semaphore sem = create_or_throw<Semaphore>(name, 0);
  for (int i = 0; i < 4; ++i) {
    Child peer = test::spawn(test::sync_peer_path(), {"sem-release", name.str()});
    EXPECT_EQ(peer.read_line(), "ok");
    EXPECT_EQ(peer.wait(), 0);
  }
  EXPECT_EQ(sem.get_value(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(sem.acquire(nowait), AcquireStatus::acquired);
  EXPECT_EQ(sem.acquire(nowait), AcquireStatus::timeout);
}

TEST(Semaphore, AnUnboundedSemaphoreStopsAtSemValueMax) {
  UniqueName name("sem-max");
  Semaphore sem = create_or_throw<Semaphore>(name, kSemaphoreValueMax);
  EXPECT_EQ(sem.release(), ReleaseStatus::too_many);
  EXPECT_EQ(sem.get_value(), kSemaphoreValueMax);
  UniqueName over("sem-over");
  auto bad = Semaphore::create(over, kSemaphoreValueMax + 1u);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

TEST(BoundedSemaphore, ReleaseAboveTheInitialValueIsTooManyAndChangesNothing) {
  UniqueName name("bsem");
  BoundedSemaphore sem = create_or_throw<BoundedSemaphore>(name, 2);
  EXPECT_TRUE(sem.bounded());
  EXPECT_EQ(sem.release(), ReleaseStatus::too_many);  // Python: ValueError
  EXPECT_EQ(sem.get_value(), 2u);
  Child taker = test::fork_child([&](int out) {
    auto s = BoundedSemaphore::open(name);
    if (!s) return 1;
    test::write_line(out, to_string(s->acquire(nowait)));
    return 0;
  });
  EXPECT_EQ(taker.read_line(), "acquired");
  EXPECT_EQ(taker.wait(), 0);
  EXPECT_EQ(sem.get_value(), 1u);
  EXPECT_EQ(sem.release(), ReleaseStatus::ok);  // any process may give it back
  EXPECT_EQ(sem.release(), ReleaseStatus::too_many);
  EXPECT_EQ(sem.get_value(), 2u);
}

TEST(BoundedSemaphore, ZeroIsAValidBoundEveryReleaseIsTooMany) {
  UniqueName name("bsem-zero");
  BoundedSemaphore sem = create_or_throw<BoundedSemaphore>(name, 0);
  EXPECT_EQ(sem.acquire(nowait), AcquireStatus::timeout);
  EXPECT_EQ(sem.release(), ReleaseStatus::too_many);
}

TEST(Semaphore, WorksEmbeddedInMemorySharedWithForkedChildren) {
  test::SharedMemory<SemaphoreLayout> layout;
  SemaphoreRef::initialize(*layout, 1, true);
  SemaphoreRef sem(*layout);
  ASSERT_EQ(sem.acquire(), AcquireStatus::acquired);
  Child c = test::fork_child([&](int out) {
    SemaphoreRef s(*layout);
    const AcquireStatus st = s.acquire(5s);
    const ReleaseStatus first = s.release();
    const ReleaseStatus second = s.release();
    test::write_line(out, std::string(to_string(st)) + " " + to_string(first) + " " + to_string(second));
    return 0;
  });
  std::this_thread::sleep_for(50ms);
  {
    std::unique_lock<SemaphoreRef> adopt(sem, std::adopt_lock);  // BasicLockable: released by the guard
  }
  EXPECT_EQ(c.read_line(), "acquired ok too_many");
  EXPECT_EQ(c.wait(), 0);
  EXPECT_EQ(sem.get_value(), 1u);
}

// ---- hostile files ----------------------------------------------------------------

Errc open_error_semaphore(const UniqueName& name) {
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto r = Semaphore::open(name, o);
  return r ? Errc{} : r.error().code;
}
Errc open_error_bounded(const UniqueName& name) {
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto r = BoundedSemaphore::open(name, o);
  return r ? Errc{} : r.error().code;
}

// Writes `v` at `offset` bytes into the file's payload (after the 128-byte header).
void poke_payload(const UniqueName& name, std::size_t offset, std::uint32_t v) { poke(name.path(), 128 + offset, v); }

// A release killed between its count and its wake (here: the count written
// into the file, no wake at all) must not leave a waiter asleep while the
// count says go: parks last one slice at most (intervals.hpp, kParkSlice).
TEST(Semaphore, AWaiterSeesACountWhoseReleaserDiedBeforeWaking) {
  UniqueName name("sem-lost-wake");
  Semaphore sem = create_or_throw<Semaphore>(name, 0);
  Child waiter = test::fork_child([&](int out) {
    auto s = Semaphore::open(name);
    if (!s) return 1;
    write_line(out, "waiting");
    write_line(out, s->acquire(forever) == AcquireStatus::acquired ? "acquired" : "other");
    return 0;
  });
  ASSERT_EQ(waiter.read_line(10s), "waiting");
  ::usleep(100'000);  // let it park
  poke_payload(name, offsetof(SemaphoreLayout, value), 1);
  EXPECT_EQ(waiter.read_line(5s), "acquired");
  EXPECT_EQ(waiter.wait(10s), 0);
  EXPECT_EQ(sem.get_value(), 0u);
}

TEST(SemaphoreOpen, KindsAreDistinctAndDamagedCountsAreCorrupt) {
  UniqueName plain("sem-kind"), bounded("bsem-kind");
  Semaphore s = create_or_throw<Semaphore>(plain, 1);
  BoundedSemaphore b = create_or_throw<BoundedSemaphore>(bounded, 2);
  EXPECT_EQ(open_error_bounded(plain), Errc::wrong_kind);
  EXPECT_EQ(open_error_semaphore(bounded), Errc::wrong_kind);
  EXPECT_EQ(open_error_semaphore(plain), Errc{});
  EXPECT_EQ(open_error_bounded(bounded), Errc{});

  poke_payload(bounded, offsetof(SemaphoreLayout, value), 3);  // above its bound of 2
  EXPECT_EQ(open_error_bounded(bounded), Errc::corrupt);
  poke_payload(bounded, offsetof(SemaphoreLayout, value), 2);
  poke_payload(bounded, offsetof(SemaphoreLayout, bounded), 0);  // the flag disagrees with the kind
  EXPECT_EQ(open_error_bounded(bounded), Errc::corrupt);
  poke_payload(plain, offsetof(SemaphoreLayout, value), 0x80000000u);  // above SEM_VALUE_MAX
  EXPECT_EQ(open_error_semaphore(plain), Errc::corrupt);
  (void)::truncate(plain.path().c_str(), 200);
  EXPECT_EQ(open_error_semaphore(plain), Errc::truncated);
}

}  // namespace
}  // namespace shmring
