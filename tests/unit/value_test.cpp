// Value<T> and Array<T> (value.hpp) across real processes: the tutorials'
// scenarios (ten processes incrementing a Value<double> under its lock;
// children writing a[i] = -i), the lock's reach (get()/set() wait for a
// holder; recursive inside get_lock()), the atomic fast path with
// lock = false, bounds, and open-time validation of kind, type and size.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/ipc/value.hpp"

namespace shmring {
namespace {

using namespace test;  // helpers.hpp: Child, UniqueName, kMs, monotonic_ns, or_throw, 10ms

// The tutorial: ten processes each add 1 to a shared Value('d') 10,000
// times inside `with v.get_lock():` — exactly 100,000 at the end. Nine are
// forked, one is a separately started executable.
TEST(Value, TenProcessesIncrementingUnderItsLockCountExactly100000) {
  UniqueName name("value-count");
  auto v = or_throw(Value<double>::create(name, 0.0));
  EXPECT_TRUE(v.has_lock());
  constexpr int kTimes = 10'000;
  std::vector<Child> kids;
  kids.push_back(test::spawn(test::sync_peer_path(), {"value-add", name.str(), std::to_string(kTimes)}));
  for (int p = 0; p < 9; ++p) {
    kids.push_back(test::fork_child([&](int) {
      auto o = Value<double>::open(name);
      if (!o) return 1;
      for (int i = 0; i < kTimes; ++i) {
        std::scoped_lock g(o->get_lock());  // recursive: get() and set() take it again
        o->set(o->get() + 1.0);
      }
      return 0;
    }));
  }
  EXPECT_EQ(kids[0].read_line(), "done");
  for (auto& k : kids) EXPECT_EQ(k.wait(), 0);
  EXPECT_EQ(v.get(), 100'000.0);
  EXPECT_FALSE(v.get_lock().locked());
}

// The tutorial: Array('i', range(10)); children write a[i] = -i.
TEST(Array, ChildrenWritingMinusIGiveZeroToMinusNine) {
  UniqueName name("array-neg");
  std::vector<std::int32_t> init(10);
  for (std::size_t i = 0; i < 10; ++i) init[i] = static_cast<std::int32_t>(i);
  auto a = or_throw(Array<std::int32_t>::create(name, std::span<const std::int32_t>(init)));
  EXPECT_EQ(a.to_vector(), init);
  std::vector<Child> kids;
  for (int i = 0; i < 9; ++i) {
    kids.push_back(test::fork_child([&, i](int) {
      auto o = Array<std::int32_t>::open(name);
      return o && o->set(static_cast<std::size_t>(i), -i) ? 0 : 1;
    }));
  }
  Child peer = test::spawn(test::sync_peer_path(), {"array-set", name.str(), "9", "-9"});
  EXPECT_EQ(peer.read_line(), "ok");
  EXPECT_EQ(peer.wait(), 0);
  for (auto& k : kids) EXPECT_EQ(k.wait(), 0);
  EXPECT_EQ(a.to_vector(), (std::vector<std::int32_t>{0, -1, -2, -3, -4, -5, -6, -7, -8, -9}));
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(a[3], -3);
  Child bad = test::spawn(test::sync_peer_path(), {"array-set", name.str(), "10", "1"});
  EXPECT_EQ(bad.read_line(), "out-of-range") << "Python: IndexError";
  EXPECT_EQ(bad.wait(), 0);
  EXPECT_FALSE(a.at(10).has_value());
  EXPECT_EQ(a.at(9), -9);
  EXPECT_FALSE(a.set(10, 5));
}

TEST(Value, SetWaitsForAnotherProcessHoldingItsLock) {
  UniqueName name("value-locked");
  auto v = or_throw(Value<std::int64_t>::create(name, 0));
  test::SharedMemory<std::atomic<std::uint32_t>> held;
  Child holder = test::fork_child([&](int) {
    auto o = Value<std::int64_t>::open(name);
    if (!o || o->get_lock().acquire() != AcquireStatus::acquired) return 1;
    held->store(1);
    std::this_thread::sleep_for(200ms);
    o->set(1);
    return o->get_lock().release() == ReleaseStatus::ok ? 0 : 2;
  });
  while (held->load() == 0) ::usleep(200);
  const std::int64_t t0 = monotonic_ns();
  v.set(2);  // waits for the holder's release
  EXPECT_GE(monotonic_ns() - t0, 100 * kMs);
  EXPECT_EQ(holder.wait(), 0);
  EXPECT_EQ(v.get(), 2) << "our set came after the holder's";
  EXPECT_EQ(v.load(), 2);
}

TEST(Value, WithoutALockTheAtomicFastPathCountsExactlyAcrossProcesses) {
  UniqueName name("value-atomic");
  ValueOptions o;
  o.lock = false;
  auto v = or_throw(Value<std::int64_t>::create(name, 5, o));
  static_assert(Value<std::int64_t>::kLockFree);
  EXPECT_FALSE(v.has_lock());
  std::vector<Child> kids;
  for (int p = 0; p < 4; ++p) {
    kids.push_back(test::fork_child([&](int) {
      auto w = Value<std::int64_t>::open(name);
      if (!w || w->has_lock()) return 1;
      for (int i = 0; i < 20'000; ++i) (void)w->fetch_add(1);
      for (int i = 0; i < 5'000; ++i) (void)w->fetch_sub(1);
      return 0;
    }));
  }
  for (auto& k : kids) EXPECT_EQ(k.wait(), 0);
  EXPECT_EQ(v.load(), 5 + 4 * 15'000);
  std::int64_t expected = 60'005;
  EXPECT_TRUE(v.compare_exchange(expected, 7));
  EXPECT_EQ(v.get(), 7);
  v.store(-1);
  EXPECT_EQ(*v.get_obj(), -1);
}

struct Point {
  double x, y, z;
};

TEST(Array, HoldsStructsThatAreNotLockFreeAndGivesTheSpanUnderTheLock) {
  static_assert(!Array<Point>::kLockFree);
  UniqueName name("array-struct");
  auto a = or_throw(Array<Point>::create(name, 4));
  EXPECT_EQ(a.get(2).x, 0.0) << "zero-filled";
  Child c = test::fork_child([&](int) {
    auto o = Array<Point>::open(name);
    if (!o) return 1;
    std::scoped_lock g(o->get_lock());
    for (std::size_t i = 0; i < o->size(); ++i) {
      const double d = static_cast<double>(i);
      o->get_span()[i] = Point{d, 2 * d, 3 * d};
    }
    return 0;
  });
  EXPECT_EQ(c.wait(), 0);
  const Point p = a[3];
  EXPECT_EQ(p.x, 3.0);
  EXPECT_EQ(p.y, 6.0);
  EXPECT_EQ(p.z, 9.0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.get_span().data()) % 128, 0u);
}

TEST(ValueOpen, KindTypeTagAndSizeAreCheckedAtOpen) {
  UniqueName vn("value-open"), an("array-open");
  auto v = or_throw(Value<double>::create(vn, 1.5));
  auto a = or_throw(Array<std::int32_t>::create(an, 3));
  ValueOpenOptions o;
  o.ready_timeout = 0ms;
  EXPECT_TRUE(Value<double>::open(vn, o));
  EXPECT_EQ(Value<std::int64_t>::open(vn, o).error().code, Errc::bad_layout) << "same size, other class";
  EXPECT_EQ(Value<float>::open(vn, o).error().code, Errc::bad_layout);
  EXPECT_EQ(Array<double>::open(vn, o).error().code, Errc::wrong_kind) << "a Value is not an Array";
  EXPECT_EQ(Value<std::int32_t>::open(an, o).error().code, Errc::wrong_kind);
  EXPECT_EQ(Array<std::uint32_t>::open(an, o).error().code, Errc::bad_layout) << "signedness";
  ValueOpenOptions tagged = o;
  tagged.type_tag = 42;
  EXPECT_EQ(Array<std::int32_t>::open(an, tagged).error().code, Errc::bad_layout) << "type_tag";
  // A count larger than the file.
  auto* h = platform::layout_at<TypedHeaderLayout>(reinterpret_cast<std::byte*>(a.get_span().data()) - 384);
  h->count = 1'000'000;
  EXPECT_EQ(Array<std::int32_t>::open(an, o).error().code, Errc::bad_size);
  h->count = 3;
  EXPECT_TRUE(Array<std::int32_t>::open(an, o));
  auto empty = Array<std::int32_t>::create("shmring-test-never-created", 0);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace shmring
