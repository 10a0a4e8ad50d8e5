// Event (event.hpp) across real processes: wait timeouts, set wakes every
// waiter, a set() followed at once by clear() still wakes parked waiters with
// true (Python's documented Event.wait), hostile files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/event.hpp"
#include "shmring/ipc/lock.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/ipc/sync_layout.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

Event create_or_throw(const UniqueName& name) { return or_throw(Event::create(name)); }

TEST(Event, WaitWithTimeoutOnAClearEventReturnsFalseNoEarlierThanTheTimeout) {
  UniqueName name("event-timeout");
  Event e = create_or_throw(name);
  ASSERT_NO_FATAL_FAILURE(expect_peer_times_out("event-wait", name, "false"));
  const std::int64_t t0 = monotonic_ns();
  EXPECT_FALSE(e.wait(nowait));
  EXPECT_FALSE(e.wait(0ms));
  EXPECT_LT(monotonic_ns() - t0, 100 * kMs);
}

TEST(Event, SetInASpawnedProcessWakesEveryForkedWaiter) {
  UniqueName name("event-set");
  Event e = create_or_throw(name);
  std::vector<Child> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.push_back(test::fork_child([&](int out) {
      auto ev = Event::open(name);
      if (!ev) return 1;
      test::write_line(out, "waiting");
      const bool got = ev->wait();
      test::write_line(out, std::string(got ? "true " : "false ") + std::to_string(monotonic_ns()));
      return 0;
    }));
  }
  for (auto& w : waiters) ASSERT_EQ(w.read_line(), "waiting");
  std::this_thread::sleep_for(100ms);  // they park
  EXPECT_FALSE(e.is_set());
  Child setter = test::spawn(test::sync_peer_path(), {"event-set", name.str()});
  long long set_at = 0;
  ASSERT_EQ(std::sscanf(setter.read_line().c_str(), "set %lld", &set_at), 1);
  EXPECT_EQ(setter.wait(), 0);
  for (auto& w : waiters) {
    long long woke_at = 0;
    const std::string line = w.read_line(10s);
    ASSERT_EQ(std::sscanf(line.c_str(), "true %lld", &woke_at), 1) << line;
    EXPECT_GE(woke_at, set_at);
    EXPECT_EQ(w.wait(), 0);
  }
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait(nowait));
  EXPECT_TRUE(e.wait()) << "a set event returns at once";
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(10ms));
}

// threading.Event.wait: "returns True if and only if the internal flag has
// been set to true, either before the wait call or after the wait starts".
TEST(Event, AWaiterParkedThroughASetAndAnImmediateClearReturnsTrue) {
  UniqueName name("event-pulse");
  Event e = create_or_throw(name);
  Child waiter = test::fork_child([&](int out) {
    auto ev = Event::open(name);
    if (!ev) return 1;
    test::write_line(out, "waiting");
    test::write_line(out, ev->wait(5s) ? "true" : "false");
    return 0;
  });
  ASSERT_EQ(waiter.read_line(), "waiting");
  std::this_thread::sleep_for(100ms);
  e.set();
  e.clear();
  EXPECT_EQ(waiter.read_line(10s), "true");
  EXPECT_EQ(waiter.wait(), 0);
  EXPECT_FALSE(e.is_set());
}

TEST(Event, WorksEmbeddedInMemorySharedWithForkedChildren) {
  test::SharedMemory<EventLayout> layout;  // all zeroes: a clear event
  EventRef e(*layout);
  Child c = test::fork_child([&](int out) {
    EventRef ev(*layout);
    test::write_line(out, ev.wait(5s) ? "true" : "false");
    return 0;
  });
  std::this_thread::sleep_for(50ms);
  e.set();
  EXPECT_EQ(c.read_line(), "true");
  EXPECT_EQ(c.wait(), 0);
}

// A set() killed between its store and its wake (here: the state written
// into the file, no wake at all): the waiter sees it within a park slice
// (intervals.hpp, kParkSlice) instead of sleeping forever.
TEST(Event, AWaiterSeesASetWhoseSetterDiedBeforeWaking) {
  UniqueName name("event-lost-wake");
  Event e = or_throw(Event::create(name));
  Child waiter = test::fork_child([&](int out) {
    auto ev = Event::open(name);
    if (!ev) return 1;
    write_line(out, "waiting");
    write_line(out, ev->wait(forever) ? "set" : "timeout");
    return 0;
  });
  ASSERT_EQ(waiter.read_line(10s), "waiting");
  ::usleep(100'000);                                                           // let it park
  poke(name.path(), 128 + offsetof(EventLayout, state), std::uint32_t{0b11});  // one set(), flag up
  EXPECT_EQ(waiter.read_line(5s), "set");
  EXPECT_EQ(waiter.wait(10s), 0);
  EXPECT_TRUE(e.is_set());
}

TEST(EventOpen, AnEventIsNotALockNorALockAnEvent) {
  UniqueName ev("event-kind"), lk("lock-kind-ev");
  Event e = create_or_throw(ev);
  auto l = Lock::create(lk);
  ASSERT_TRUE(l);
  SyncOpenOptions o;
  o.ready_timeout = 0ms;
  auto as_lock = Lock::open(ev, o);
  ASSERT_FALSE(as_lock);
  EXPECT_EQ(as_lock.error().code, Errc::wrong_kind);
  auto as_event = Event::open(lk, o);
  ASSERT_FALSE(as_event);
  EXPECT_EQ(as_event.error().code, Errc::wrong_kind);
  (void)::truncate(ev.path().c_str(), 100);
  auto truncated = Event::open(ev, o);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, Errc::truncated);
}

}  // namespace
}  // namespace shmring
