// List (list.hpp): Python's list API on byte strings across real processes
// (forked children and shmring_sync_peer processes that open it by name),
// against a model through random edits, hostile files, and the crash test:
// writers killed with SIGKILL mid-update while readers check every element
// and every snapshot (each element whole, each snapshot one state).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/list.hpp"
#include "shmring/ipc/list_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::UniqueName;

struct TestList {
  explicit TestList(ListOptions o = {}) : name("list"), l(test::or_throw(List::create(name, o))) {}
  UniqueName name;
  List l;
};

std::string text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
std::vector<std::string> texts(const std::vector<Bytes>& v) {
  std::vector<std::string> out;
  for (const Bytes& b : v) out.push_back(text(b));
  return out;
}
using Strings = std::vector<std::string>;

TEST(List, ThePythonListOperations) {
  TestList t;
  List& l = t.l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.append("a"), ListStatus::ok);
  EXPECT_EQ(l.extend(Strings{"b", "c", "d"}), ListStatus::ok);
  EXPECT_EQ(l.size(), 4u);
  EXPECT_EQ(l.get(0).text(), "a");
  EXPECT_EQ(l.get(-1).text(), "d");  // l[-1]
  EXPECT_EQ(l.get(4).status, ListStatus::out_of_range);
  EXPECT_EQ(l.get(-5).status, ListStatus::out_of_range);
  EXPECT_EQ(l[1] = "B", ListStatus::ok);  // l[1] = 'B'
  EXPECT_EQ(l[1].get().text(), "B");
  EXPECT_EQ(l.insert(0, "start"), ListStatus::ok);
  EXPECT_EQ(l.insert(100, "end"), ListStatus::ok) << "insert clamps, as Python's";
  EXPECT_EQ(l.insert(-1, "before end"), ListStatus::ok);
  EXPECT_EQ(texts(l.to_vector()), (Strings{"start", "a", "B", "c", "d", "before end", "end"}));
  EXPECT_EQ(texts(l.slice(1, 3)), (Strings{"a", "B"}));
  EXPECT_EQ(texts(l.slice(-2)), (Strings{"before end", "end"}));
  EXPECT_EQ(texts(l.slice(5, 2)), Strings{});
  EXPECT_EQ(l.pop().text(), "end");
  EXPECT_EQ(l.pop(0).text(), "start");
  EXPECT_EQ(l.pop(2).text(), "c");
  EXPECT_EQ(texts(l.to_vector()), (Strings{"a", "B", "d", "before end"}));
  EXPECT_EQ(l.pop(10).status, ListStatus::out_of_range);
  EXPECT_EQ(l.append_value(std::int32_t{7}), ListStatus::ok);
  EXPECT_EQ(l.get_value<std::int32_t>(-1), 7);
  l.clear();
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.pop().status, ListStatus::out_of_range);
}

TEST(List, SizesAreRefusedClearly) {
  TestList t({.capacity = 3, .max_value = 4});
  EXPECT_EQ(t.l.append("12345"), ListStatus::too_large);
  EXPECT_EQ(t.l.extend(Strings{"1", "2", "3", "4"}), ListStatus::full) << "all or nothing";
  EXPECT_TRUE(t.l.empty());
  EXPECT_EQ(t.l.extend(Strings{"1", "2", "3"}), ListStatus::ok);
  EXPECT_EQ(t.l.append("4"), ListStatus::full);
  EXPECT_EQ(t.l.insert(0, "0"), ListStatus::full);
  EXPECT_FALSE(List::create(UniqueName("list").str(), {.capacity = 0}));
}

TEST(List, RandomEditsMatchAModel) {
  TestList t({.capacity = 64, .max_value = 16});
  std::vector<std::string> model;
  std::mt19937_64 rng(3);
  for (int step = 0; step < 20000; ++step) {
    const std::string v = std::to_string(rng() % 100000);
    const auto n = static_cast<std::int64_t>(model.size());
    switch (rng() % 5) {
      case 0:
        if (model.size() < 64) {
          ASSERT_EQ(t.l.append(v), ListStatus::ok);
          model.push_back(v);
        }
        break;
      case 1:
        if (model.size() < 64) {
          const std::int64_t at = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n + 3)) - 1;
          ASSERT_EQ(t.l.insert(at, v), ListStatus::ok);
          const std::int64_t c = std::clamp<std::int64_t>(at < 0 ? at + n : at, 0, n);
          model.insert(model.begin() + static_cast<std::ptrdiff_t>(c), v);
        }
        break;
      case 2:
        if (!model.empty()) {
          const auto at = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
          ASSERT_EQ(t.l.pop(at).text(), model[static_cast<std::size_t>(at)]);
          model.erase(model.begin() + static_cast<std::ptrdiff_t>(at));
        }
        break;
      case 3:
        if (!model.empty()) {
          const auto at = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
          ASSERT_EQ(t.l.set(at, v), ListStatus::ok);
          model[static_cast<std::size_t>(at)] = v;
        }
        break;
      default:
        if (rng() % 50 == 0) {
          t.l.clear();
          model.clear();
        }
        break;
    }
    if (step % 500 == 0) {
      ASSERT_EQ(texts(t.l.to_vector()), model) << step;
    }
  }
}

// Ten processes append their number; the parent sees all ten. Five forked,
// five separately started processes that open the list by name.
TEST(List, TenProcessesAppend) {
  TestList t;
  std::vector<Child> writers;
  for (std::int32_t i = 0; i < 5; ++i) {
    writers.push_back(test::fork_child([&t, i](int) { return t.l.append_value(i) == ListStatus::ok ? 0 : 10; }));
  }
  for (std::int32_t i = 5; i < 10; ++i) {
    writers.push_back(test::spawn(test::sync_peer_path(), {"list-append", t.name.str(), std::to_string(i)}));
  }
  for (std::size_t w = 5; w < writers.size(); ++w) EXPECT_EQ(writers[w].read_line(), "ok");
  for (Child& w : writers) EXPECT_EQ(w.wait(), 0);
  std::set<std::int32_t> got;
  for (std::int64_t i = 0; i < 10; ++i) got.insert(t.l.get_value<std::int32_t>(i).value_or(-1));
  EXPECT_EQ(got, (std::set<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(ListOpen, DamagedFilesGiveClearErrors) {
  constexpr std::uint64_t kPayload = sizeof(platform::SegmentHeaderLayout);
  const auto damaged_open = [](std::uint64_t offset, std::uint64_t value) {
    TestList t({.capacity = 8});
    test::poke<std::uint64_t>(t.l.path(), kPayload + offset, value);
    return List::open(t.name.str());
  };
  EXPECT_EQ(damaged_open(offsetof(ListConfigLayout, capacity), 0).error().code, Errc::corrupt);
  EXPECT_EQ(damaged_open(offsetof(ListConfigLayout, capacity), 1u << 20).error().code, Errc::bad_size);
  EXPECT_EQ(damaged_open(offsetof(ListConfigLayout, slot_bytes), 64).error().code, Errc::corrupt);
  // A header naming more elements than the list holds, and a slot size out of range.
  TestList t({.capacity = 8, .max_value = 8});
  ASSERT_EQ(t.l.append("x"), ListStatus::ok);
  List l = test::or_throw(List::open(t.name.str()));
  test::poke<std::uint64_t>(t.l.path(), kPayload + offsetof(ListLayout, header),
                            std::uint64_t{1000} << kListLengthShift);
  EXPECT_EQ(l.get(5).status, ListStatus::corrupt);
  EXPECT_LE(l.to_vector().size(), 8u);
  test::poke<std::uint64_t>(t.l.path(), kPayload + offsetof(ListLayout, header), std::uint64_t{1} << kListLengthShift);
  test::poke<std::uint64_t>(t.l.path(), kPayload + sizeof(ListLayout) + offsetof(ListSlotHeader, size),
                            ~std::uint64_t{0});
  EXPECT_EQ(l.get(0).status, ListStatus::corrupt);
  EXPECT_EQ(l.append("y"), ListStatus::ok) << "writes still work";
}

// The crash test: writers killed with SIGKILL at random moments while they
// append, insert, pop and set checksummed elements; two readers check every
// element of every snapshot (to_vector) and single gets. Pass: no torn
// element, no snapshot with a damaged element, readers never stall.
TEST(ListCrash, WritersKilledMidUpdateNeverLeaveATornElementAndReadersNeverBlock) {
  const bool emulated = std::getenv("SHMRING_TEST_EMULATOR") != nullptr;
  const int kills = emulated ? 100 : 600;
  const std::uint64_t slow = emulated ? 20 : 1;  // a writer's lifetime: long enough to write under qemu
  struct Shared {
    std::atomic<int> stop;
    std::atomic<std::uint64_t> reads[2];
    std::atomic<std::uint64_t> checked;
    std::atomic<std::uint64_t> torn;
    std::atomic<std::uint64_t> edits;
  };
  TestList t({.capacity = 48, .max_value = 200});
  test::SharedMemory<Shared> sh;
  const auto sum_of = [](const std::byte* p, std::size_t n) {
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ std::to_integer<std::uint64_t>(p[i])) * 1099511628211ull;
    return h;
  };
  const auto valid = [&](const Bytes& e) {
    if (e.size() < 8) return false;
    std::uint64_t s = 0;
    std::memcpy(&s, e.data(), 8);
    return sum_of(e.data() + 8, e.size() - 8) == s;
  };
  std::vector<Child> readers;
  for (int r = 0; r < 2; ++r) {
    readers.push_back(test::fork_child([&, r](int) {
      List l = test::or_throw(List::open(t.name.str()));
      for (std::uint64_t k = 0; sh->stop.load() == 0; ++k) {
        if (k % 2 == 0) {
          for (const Bytes& e : l.to_vector()) {
            if (!valid(e)) sh->torn.fetch_add(1);
            sh->checked.fetch_add(1);
          }
        } else {
          const ListValue v = l.get(static_cast<std::int64_t>(k % 40));
          if (v && !valid(v.bytes)) sh->torn.fetch_add(1);
          if (v) sh->checked.fetch_add(1);
        }
        sh->reads[r].fetch_add(1);
      }
      return 0;
    }));
  }
  std::mt19937_64 rng(11);
  std::uint64_t stalls = 0;
  for (int k = 0; k < kills; ++k) {
    Child w = test::fork_child([&, k](int) -> int {
      List l = test::or_throw(List::open(t.name.str()));
      std::mt19937_64 r(static_cast<std::uint64_t>(k) + 1);
      std::vector<Bytes> made(8);
      for (Bytes& e : made) {
        e.resize(static_cast<std::size_t>(8 + r() % 180));
        for (std::size_t i = 8; i < e.size(); ++i) e[i] = static_cast<std::byte>(r());
        const std::uint64_t s = sum_of(e.data() + 8, e.size() - 8);
        std::memcpy(e.data(), &s, 8);
      }
      for (std::uint64_t n = 0;; ++n) {
        const Bytes& e = made[static_cast<std::size_t>(n % made.size())];
        const auto len = static_cast<std::int64_t>(l.size());
        switch (r() % 4) {
          case 0: (void)l.append(e); break;
          case 1: (void)l.insert(static_cast<std::int64_t>(r() % 48), e); break;
          case 2:
            if (len > 24) (void)l.pop(static_cast<std::int64_t>(r() % static_cast<std::uint64_t>(len)));
            break;
          default:
            if (len > 0) (void)l.set(static_cast<std::int64_t>(r() % static_cast<std::uint64_t>(len)), e);
            break;
        }
        sh->edits.fetch_add(1, std::memory_order_relaxed);
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds((300 + rng() % 1500) * slow));
    // The readers go on after the kill, whatever the writer held.
    if (!test::others_go_on_after_kill(w, [&] { return sh->reads[0].load() + sh->reads[1].load(); })) ++stalls;
  }
  sh->stop.store(1);
  for (Child& r : readers) EXPECT_EQ(r.wait(), 0);
  // A writer after the kills takes over a lock left held.
  const ListValue last = t.l.pop();
  EXPECT_EQ(last.status, ListStatus::ok);
  EXPECT_TRUE(valid(last.bytes));
  std::printf(
      "list crash: %d writers killed, %llu edits, %llu elements read and checked, %llu torn, %llu reader "
      "stalls, %llu lock takeovers (kills inside the lock)\n",
      kills, static_cast<unsigned long long>(sh->edits.load()), static_cast<unsigned long long>(sh->checked.load()),
      static_cast<unsigned long long>(sh->torn.load()), static_cast<unsigned long long>(stalls),
      static_cast<unsigned long long>(t.l.repairs()));
  EXPECT_EQ(sh->torn.load(), 0u);
  EXPECT_EQ(stalls, 0u);
  EXPECT_GT(sh->checked.load(), 0u);
  for (const Bytes& e : t.l.to_vector()) EXPECT_TRUE(valid(e));
}

}  // namespace
}  // namespace shmring
