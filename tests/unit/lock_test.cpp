// Lock and RLock (lock.hpp) across real processes: mutual exclusion, Python's
// timeout and release rules, recursion, std::scoped_lock, owner death
// (SIGKILL of a holder, of a separately started holder) and a stopped holder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

template <class L>
L create_or_throw(const UniqueName& name) {
  return or_throw(L::create(name));
}

// Spins (politely) until `flag` is non-zero or 10 s pass.
bool await(const std::atomic<std::uint32_t>& flag) {
  const std::int64_t until = monotonic_ns() + 10'000 * kMs;
  while (flag.load() == 0) {
    if (monotonic_ns() > until) return false;
    ::usleep(200);
  }
  return true;
}

// ---- mutual exclusion ------------------------------------------------------------

// docs/contract.md tutorial scenario 7: ten processes print under one Lock. Each writes its
// lines one character per write(2), yielding between characters, so any two
// lines that overlapped in time would interleave in the file.
TEST(Lock, TenProcessesPrintingUnderOneLockNeverInterleaveTheirLines) {
  UniqueName name("lock-print"), out("lock-print-out");
  Lock lock = create_or_throw<Lock>(name);
  constexpr int kProcs = 10, kLines = 20, kWidth = 24;
  std::vector<Child> children;
  for (int p = 0; p < kProcs; ++p) {
    children.push_back(test::fork_child([&, p](int) {
      auto l = Lock::open(name);
      if (!l) return 1;
      const int fd = ::open(out.path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) return 2;
      for (int i = 0; i < kLines; ++i) {
        std::string line = "p" + std::to_string(p) + " l" + std::to_string(i) + " ";
        line += std::string(kWidth, static_cast<char>('a' + p));
        line += '\n';
        std::scoped_lock guard(*l);  // Lockable: lock()/unlock()
        for (const char c : line) {
          if (::write(fd, &c, 1) != 1) return 3;
          ::sched_yield();
        }
      }
      ::close(fd);
      return 0;
    }));
  }
  for (auto& c : children) ASSERT_EQ(c.wait(), 0);
  std::ifstream in(out.path());
  std::string line;
  std::set<std::pair<int, int>> seen;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    int p = -1, i = -1;
    char rest[64] = {0};
    ASSERT_EQ(std::sscanf(line.c_str(), "p%d l%d %63s", &p, &i, rest), 3) << "interleaved: " << line;
    ASSERT_TRUE(p >= 0 && p < kProcs) << line;
    EXPECT_EQ(std::string(rest), std::string(kWidth, static_cast<char>('a' + p))) << "interleaved: " << line;
    EXPECT_TRUE(seen.insert({p, i}).second) << "twice: " << line;
  }
  EXPECT_EQ(lines, kProcs * kLines);
  EXPECT_FALSE(lock.locked());
}

// ---- Python's acquire/release rules -------------------------------------------------

TEST(Lock, AcquireWithTimeoutReturnsTimeoutNoEarlierThanTheTimeout) {
  UniqueName name("lock-timeout");
  Lock lock = create_or_throw<Lock>(name);
  test::SharedMemory<std::atomic<std::uint32_t>> held;
  Child holder = test::fork_child([&](int) {
    auto l = Lock::open(name);
    if (!l || l->acquire() != AcquireStatus::acquired) return 1;
    held->store(1);
    for (;;) ::pause();
  });
  ASSERT_TRUE(await(*held));
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(lock.acquire(200ms), AcquireStatus::timeout);
  const std::int64_t waited = monotonic_ns() - t0;
  EXPECT_GE(waited, 200 * kMs);
  EXPECT_LT(waited, 1500 * kMs);
  const std::int64_t t1 = monotonic_ns();
  EXPECT_EQ(lock.try_acquire(), AcquireStatus::timeout);
  EXPECT_EQ(lock.acquire(nowait), AcquireStatus::timeout);
  EXPECT_FALSE(lock.try_lock());
  EXPECT_LT(monotonic_ns() - t1, 100 * kMs) << "nowait must not wait";
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.is_owned());
}

TEST(Lock, ReleasingAnUnlockedLockIsNotHeldAndChangesNothing) {
  UniqueName name("lock-not-held");
  Lock lock = create_or_throw<Lock>(name);
  EXPECT_EQ(lock.release(), ReleaseStatus::not_held);
  ASSERT_EQ(lock.acquire(), AcquireStatus::acquired);
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
  EXPECT_EQ(lock.release(), ReleaseStatus::not_held);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, IsNotRecursiveASecondAcquireBySameThreadTimesOut) {
  UniqueName name("lock-nonrec");
  Lock lock = create_or_throw<Lock>(name);
  ASSERT_EQ(lock.acquire(), AcquireStatus::acquired);
  EXPECT_TRUE(lock.is_owned());
  const std::int64_t t0 = monotonic_ns();
  EXPECT_EQ(lock.acquire(50ms), AcquireStatus::timeout);
  EXPECT_GE(monotonic_ns() - t0, 50 * kMs);
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
}

// Python: "any process or thread may release it".
TEST(Lock, AnotherProcessMayReleaseIt) {
  UniqueName name("lock-other-release");
  Lock lock = create_or_throw<Lock>(name);
  ASSERT_EQ(lock.acquire(), AcquireStatus::acquired);
  Child releaser = test::fork_child([&](int out) {
    auto l = Lock::open(name);
    if (!l) return 1;
    test::write_line(out, to_string(l->release()));
    return 0;
  });
  EXPECT_EQ(releaser.read_line(), "ok");
  ASSERT_EQ(releaser.wait(), 0);
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.acquire(nowait), AcquireStatus::acquired);
}

TEST(Lock, AWaiterInAnotherProcessGetsTheLockWhenItIsReleased) {
  UniqueName name("lock-handoff");
  Lock lock = create_or_throw<Lock>(name);
  ASSERT_EQ(lock.acquire(), AcquireStatus::acquired);
  Child waiter = test::fork_child([&](int out) {
    auto l = Lock::open(name);
    if (!l) return 1;
    test::write_line(out, "waiting");
    const AcquireStatus st = l->acquire();
    test::write_line(out, std::string(to_string(st)) + " " + std::to_string(monotonic_ns()));
    return l->release() == ReleaseStatus::ok ? 0 : 2;
  });
  ASSERT_EQ(waiter.read_line(), "waiting");
  std::this_thread::sleep_for(100ms);  // the waiter parks
  const std::int64_t released_at = monotonic_ns();
  ASSERT_EQ(lock.release(), ReleaseStatus::ok);
  long long got_at = 0;
  char status[32] = {0};
  const std::string line = waiter.read_line();
  ASSERT_EQ(std::sscanf(line.c_str(), "%31s %lld", status, &got_at), 2) << line;
  EXPECT_STREQ(status, "acquired");
  EXPECT_GE(got_at, released_at);
  EXPECT_LT(got_at - released_at, 1000 * kMs);
  EXPECT_EQ(waiter.wait(), 0);
}

TEST(Lock, WorksWithStdUniqueLock) {
  UniqueName name("lock-unique");
  Lock lock = create_or_throw<Lock>(name);
  {
    std::unique_lock guard(lock);
    EXPECT_TRUE(guard.owns_lock());
    EXPECT_TRUE(lock.is_owned());
    guard.unlock();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(guard.try_lock());
  }
  EXPECT_FALSE(lock.locked());
}

// LockLayout is embeddable: here in anonymous shared memory (all zeroes: a
// free lock) that forked children inherit, guarding a non-atomic counter.
TEST(Lock, WorksEmbeddedInMemorySharedWithForkedChildren) {
  struct Guarded {
    LockLayout lock;
    std::uint64_t counter;  // plain: only the lock keeps the increments whole
  };
  test::SharedMemory<Guarded> g;
  constexpr int kProcs = 4, kIncrements = 20000;
  std::vector<Child> children;
  for (int p = 0; p < kProcs; ++p) {
    children.push_back(test::fork_child([&](int) {
      LockRef lock(g->lock);
      for (int i = 0; i < kIncrements; ++i) {
        std::scoped_lock guard(lock);
        const std::uint64_t v = g->counter;
        if (i % 64 == 0) ::sched_yield();  // widen the window a lost update needs
        g->counter = v + 1;
      }
      return 0;
    }));
  }
  for (auto& c : children) ASSERT_EQ(c.wait(), 0);
  EXPECT_EQ(g->counter, static_cast<std::uint64_t>(kProcs) * kIncrements);
  EXPECT_FALSE(LockRef(g->lock).locked());
}

// ---- RLock ---------------------------------------------------------------------

TEST(RLock, IsRecursiveForItsThreadAndFreeOnlyAfterAsManyReleases) {
  UniqueName name("rlock-rec");
  RLock r = create_or_throw<RLock>(name);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(r.acquire(nowait), AcquireStatus::acquired);
    EXPECT_EQ(r.depth(), static_cast<std::uint64_t>(i));
  }
  const auto other_process_try = [&] {
    Child c = test::fork_child([&](int out) {
      auto o = RLock::open(name);
      if (!o) return 1;
      test::write_line(out, to_string(o->acquire(nowait)));
      return 0;
    });
    std::string s = c.read_line();
    return c.wait() == 0 ? s : "child failed";
  };
  EXPECT_EQ(other_process_try(), "timeout");
  ASSERT_EQ(r.release(), ReleaseStatus::ok);
  ASSERT_EQ(r.release(), ReleaseStatus::ok);
  EXPECT_EQ(r.depth(), 1u);
  EXPECT_EQ(other_process_try(), "timeout");
  ASSERT_EQ(r.release(), ReleaseStatus::ok);
  EXPECT_FALSE(r.locked());
  EXPECT_EQ(r.depth(), 0u);
  EXPECT_EQ(other_process_try(), "acquired");  // and that process exited holding it:
  EXPECT_EQ(r.acquire(1s), AcquireStatus::owner_died);
  EXPECT_EQ(r.depth(), 1u);
  EXPECT_EQ(r.release(), ReleaseStatus::ok);
}

TEST(RLock, ReleaseByANonOwnerThreadOrProcessIsNotOwnerAndChangesNothing) {
  UniqueName name("rlock-nonowner");
  RLock r = create_or_throw<RLock>(name);
  EXPECT_EQ(r.release(), ReleaseStatus::not_owner);  // not held at all
  ASSERT_EQ(r.acquire(), AcquireStatus::acquired);
  ReleaseStatus from_thread = ReleaseStatus::ok;
  std::thread t([&] { from_thread = r.release(); });
  t.join();
  EXPECT_EQ(from_thread, ReleaseStatus::not_owner);
  Child c = test::fork_child([&](int out) {
    auto o = RLock::open(name);
    if (!o) return 1;
    test::write_line(out, to_string(o->release()));
    return 0;
  });
  EXPECT_EQ(c.read_line(), "not_owner");
  EXPECT_EQ(c.wait(), 0);
  EXPECT_TRUE(r.is_owned());
  EXPECT_EQ(r.depth(), 1u);
  EXPECT_EQ(r.release(), ReleaseStatus::ok);
  EXPECT_EQ(r.release(), ReleaseStatus::not_owner);
}

TEST(RLock, AnotherThreadOfTheSameProcessWaitsForTheHolder) {
  UniqueName name("rlock-threads");
  RLock r = create_or_throw<RLock>(name);
  ASSERT_EQ(r.acquire(), AcquireStatus::acquired);
  AcquireStatus other = AcquireStatus::acquired;
  std::thread t([&] { other = r.acquire(50ms); });
  t.join();
  EXPECT_EQ(other, AcquireStatus::timeout);
  ASSERT_EQ(r.release(), ReleaseStatus::ok);
  std::thread t2([&] {
    other = r.acquire(1s);
    (void)r.release();
  });
  t2.join();
  EXPECT_EQ(other, AcquireStatus::acquired);
}

// ---- owner death -------------------------------------------------------------------

// A holder in a separately started executable, killed with SIGKILL while this
// process is already blocked in acquire(): owner_died within 100 ms.
template <class L>
void blocked_waiter_gets_owner_died_when_a_spawned_holder_is_killed(const char* mode) {
  UniqueName name("lock-spawned");
  L lock = create_or_throw<L>(name);
  Child peer = test::spawn(test::sync_peer_path(), {mode, name.str(), "-1"});
  ASSERT_EQ(peer.read_line().rfind("ready", 0), 0u);
  ASSERT_EQ(peer.read_line().rfind("acquired", 0), 0u);
  std::int64_t killed_at = 0, rq_before = 0;
  std::thread killer([&] {
    std::this_thread::sleep_for(150ms);              // the waiter below is parked by then
    rq_before = test::runqueue_wait_ns(::getpid());  // the main thread's run-queue delay
    killed_at = monotonic_ns();
    peer.kill(SIGKILL);
  });
  const AcquireStatus st = lock.acquire(60s);
  const std::int64_t got_at = monotonic_ns();
  const std::int64_t rq_after = test::runqueue_wait_ns(::getpid());
  killer.join();
  EXPECT_EQ(st, AcquireStatus::owner_died);
  // Minus the time this thread waited for a CPU (a nice 19 test on a busy machine).
  const std::int64_t starved = std::max<std::int64_t>(0, rq_after - rq_before);
  EXPECT_LT(got_at - killed_at - starved, 100 * kMs)
      << "death noticed " << (got_at - killed_at) / kMs << " ms after the kill, " << starved / kMs
      << " ms of it waiting for a CPU";
  EXPECT_EQ(lock.takeovers(), 1u);
  EXPECT_TRUE(lock.is_owned());
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
  EXPECT_EQ(lock.acquire(nowait), AcquireStatus::acquired) << "the lock stays usable";
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
  EXPECT_EQ(peer.wait(), 128 + SIGKILL);
}

TEST(Lock, ABlockedWaiterGetsOwnerDiedWithin100msWhenASpawnedHolderIsKilled) {
  blocked_waiter_gets_owner_died_when_a_spawned_holder_is_killed<Lock>("lock");
}

TEST(RLock, ABlockedWaiterGetsOwnerDiedWithin100msWhenASpawnedHolderIsKilled) {
  blocked_waiter_gets_owner_died_when_a_spawned_holder_is_killed<RLock>("rlock");
}

TEST(Lock, TryAcquireTakesOverFromAHolderThatAlreadyDied) {
  UniqueName name("lock-dead-try");
  Lock lock = create_or_throw<Lock>(name);
  Child c = test::fork_child([&](int) {
    auto l = Lock::open(name);
    return l && l->acquire() == AcquireStatus::acquired ? 0 : 1;  // exits holding it
  });
  ASSERT_EQ(c.wait(), 0);
  EXPECT_TRUE(lock.locked());
  EXPECT_EQ(lock.try_acquire(), AcquireStatus::owner_died);
  EXPECT_EQ(lock.try_acquire(), AcquireStatus::timeout) << "we hold it now";
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
}

TEST(Lock, AThreadThatExitsHoldingTheLockIsADeadHolder) {
  UniqueName name("lock-dead-thread");
  Lock lock = create_or_throw<Lock>(name);
  std::thread t([&] { (void)lock.acquire(); });
  t.join();
  EXPECT_EQ(lock.acquire(1s), AcquireStatus::owner_died);
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
}

// A stopped holder is alive: a waiter keeps waiting through a SIGSTOP three
// times longer than the detection window, then gets the lock normally.
TEST(Lock, AStoppedHolderIsNeverDeclaredDead) {
  UniqueName name("lock-stopped");
  Lock lock = create_or_throw<Lock>(name);
  struct Flags {
    std::atomic<std::uint32_t> held, release;
    std::atomic<std::int64_t> released_at;
  };
  test::SharedMemory<Flags> f;
  Child holder = test::fork_child([&](int) {
    auto l = Lock::open(name);
    if (!l || l->acquire() != AcquireStatus::acquired) return 1;
    f->held.store(1);
    while (f->release.load() == 0) ::usleep(1000);
    f->released_at.store(monotonic_ns());
    return l->release() == ReleaseStatus::ok ? 0 : 2;
  });
  ASSERT_TRUE(await(f->held));
  Child waiter = test::fork_child([&](int out) {
    auto l = Lock::open(name);
    if (!l) return 1;
    const AcquireStatus st = l->acquire();
    test::write_line(out, std::string(to_string(st)) + " " + std::to_string(monotonic_ns()));
    return 0;
  });
  std::this_thread::sleep_for(100ms);  // the waiter parks
  holder.kill(SIGSTOP);
  const auto stopped_for = std::max<std::chrono::milliseconds>(3 * kOwnerCheckInterval, 300ms);
  std::this_thread::sleep_for(stopped_for);
  EXPECT_EQ(waiter.read_line(0ms), "") << "a stopped holder was taken for dead";
  holder.kill(SIGCONT);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(waiter.read_line(0ms), "");
  f->release.store(1);
  const std::string line = waiter.read_line(10s);
  long long got_at = 0;
  char status[32] = {0};
  ASSERT_EQ(std::sscanf(line.c_str(), "%31s %lld", status, &got_at), 2) << line;
  EXPECT_STREQ(status, "acquired");
  EXPECT_GE(got_at, f->released_at.load());
  EXPECT_EQ(holder.wait(), 0);
  EXPECT_EQ(waiter.wait(), 0);
  EXPECT_EQ(lock.takeovers(), 0u);
}

// ---- hostile files ----------------------------------------------------------------

std::string error_line(Errc e) { return "error " + std::string(to_string(e)); }

std::string peer_open(const char* kind, const UniqueName& name) {
  Child c = test::spawn(test::sync_peer_path(), {"open", kind, name.str()});
  std::string s = c.read_line();
  return c.wait() == 0 ? s : "peer failed";
}

TEST(LockOpen, ALockFileIsNotAnRLockAndARandomFileIsNotALock) {
  UniqueName lock_name("lock-kind"), rlock_name("rlock-kind"), junk("lock-junk");
  Lock lock = create_or_throw<Lock>(lock_name);
  RLock rlock = create_or_throw<RLock>(rlock_name);
  EXPECT_EQ(peer_open("rlock", lock_name), error_line(Errc::wrong_kind));
  EXPECT_EQ(peer_open("lock", rlock_name), error_line(Errc::wrong_kind));
  EXPECT_EQ(peer_open("lock", lock_name), "ok");
  EXPECT_EQ(peer_open("rlock", rlock_name), "ok");
  {
    std::ofstream f(junk.path());
    f << std::string(4096, 'x');
  }
  EXPECT_EQ(peer_open("lock", junk), error_line(Errc::bad_magic));
}

// Damages a freshly created named lock's file, then opens it.
Errc open_after(void (*damage)(const std::string& path)) {
  UniqueName name("lock-damaged");
  { Lock l = create_or_throw<Lock>(name); }
  damage(name.path());
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto r = Lock::open(name, o);
  return r ? Errc{} : r.error().code;
}

void truncate_to_200(const std::string& path) { (void)::truncate(path.c_str(), 200); }
void truncate_to_64(const std::string& path) { (void)::truncate(path.c_str(), 64); }
void empty(const std::string& path) { (void)::truncate(path.c_str(), 0); }
void unpublish(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR);
  const std::uint32_t zero = 0;
  (void)::pwrite(fd, &zero, sizeof(zero), 80);  // SegmentHeaderLayout::state
  ::close(fd);
}
void other_layout_hash(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR);
  std::uint64_t h = 0;
  (void)::pread(fd, &h, sizeof(h), 24);  // SegmentHeaderLayout::layout_hash
  h ^= 1;
  (void)::pwrite(fd, &h, sizeof(h), 24);
  ::close(fd);
}

TEST(LockOpen, DamagedFilesGiveAClearErrorAtOpen) {
  EXPECT_EQ(open_after(truncate_to_200), Errc::truncated);
  EXPECT_EQ(open_after(truncate_to_64), Errc::truncated);
  EXPECT_EQ(open_after(empty), Errc::empty_file);
  EXPECT_EQ(open_after(unpublish), Errc::not_ready);
  EXPECT_EQ(open_after(other_layout_hash), Errc::bad_layout);
}

TEST(LockOpen, AHostileOwnerWordIsADeadHolderNotACrash) {
  UniqueName name("lock-hostile-owner");
  Lock lock = create_or_throw<Lock>(name);
  // A token naming no live thread (pid 4194303 with start time 1).
  lock.layout()->owner.store(platform::pack_owner({(1u << 22) - 1, 1}));
  EXPECT_EQ(lock.acquire(1s), AcquireStatus::owner_died);
  EXPECT_EQ(lock.release(), ReleaseStatus::ok);
}

}  // namespace
}  // namespace shmring
