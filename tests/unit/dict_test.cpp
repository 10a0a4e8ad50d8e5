// Dict (dict.hpp): Python's dict API on byte strings, across real processes
// (forked children and shmring_sync_peer processes that open it by name),
// the sizes it refuses, churn through tombstones, hostile files, and the
// crash test: writers killed with SIGKILL mid-update while readers check
// every value's checksum (never torn, never a blocked reader).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "process.hpp"
#include "shared_memory.hpp"
#include "shmring/ipc/dict.hpp"
#include "shmring/ipc/dict_layout.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::UniqueName;

struct TestDict {
  explicit TestDict(DictOptions o = {}) : name("dict"), d(test::or_throw(Dict::create(name, o))) {}
  UniqueName name;
  Dict d;
};

std::string text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(Dict, ThePythonDictOperations) {
  TestDict t;
  Dict& d = t.d;
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.set("spam", "eggs"), DictStatus::ok);
  EXPECT_EQ(d["ham"] = "jam", DictStatus::ok);  // d['ham'] = 'jam'
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.get("spam").text(), "eggs");
  EXPECT_EQ(d["ham"].get().text(), "jam");
  EXPECT_TRUE(d.contains("ham"));
  EXPECT_FALSE(d.contains("nope"));
  EXPECT_EQ(d.get("nope").status, DictStatus::not_found);  // KeyError
  EXPECT_EQ(d.set("spam", "more eggs"), DictStatus::ok);   // replaces
  EXPECT_EQ(d.get("spam").text(), "more eggs");
  EXPECT_EQ(d.size(), 2u);

  const DictValue popped = d.pop("ham");
  EXPECT_EQ(popped.status, DictStatus::ok);
  EXPECT_EQ(popped.text(), "jam");
  EXPECT_EQ(d.pop("ham").status, DictStatus::not_found);
  EXPECT_EQ(d.erase("spam"), DictStatus::ok);  // del d['spam']
  EXPECT_EQ(d.erase("spam"), DictStatus::not_found);
  EXPECT_TRUE(d.empty());

  EXPECT_EQ(d.setdefault("k", "first").text(), "first");
  EXPECT_EQ(d.setdefault("k", "second").text(), "first") << "an existing key keeps its value";
  const std::vector<std::pair<std::string, std::string>> more = {{"a", "1"}, {"b", "2"}, {"c", ""}};
  EXPECT_EQ(d.update(more), DictStatus::ok);
  EXPECT_EQ(d.size(), 4u);
  EXPECT_EQ(d.get("c").status, DictStatus::ok);
  EXPECT_TRUE(d.get("c").bytes.empty()) << "an empty value is a value";

  std::map<std::string, std::string> seen;
  for (const auto& [k, v] : d.items()) seen[text(k)] = text(v);
  EXPECT_EQ(seen, (std::map<std::string, std::string>{{"k", "first"}, {"a", "1"}, {"b", "2"}, {"c", ""}}));
  EXPECT_EQ(d.keys().size(), 4u);
  EXPECT_EQ(d.values().size(), 4u);

  EXPECT_EQ(d.set_value("pi", 3.25), DictStatus::ok);
  EXPECT_EQ(d.get_value<double>("pi"), 3.25);
  EXPECT_FALSE(d.get_value<std::int32_t>("pi").has_value()) << "another size: no value";
  d.clear();
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(d.items().empty());
  EXPECT_FALSE(d.contains("k"));
}

TEST(Dict, SizesAndCapacityAreRefusedClearly) {
  TestDict t({.capacity = 10, .max_key = 8, .max_value = 16});
  Dict& d = t.d;
  EXPECT_EQ(d.set("123456789", "v"), DictStatus::too_large);
  EXPECT_EQ(d.set("k", std::string(17, 'v')), DictStatus::too_large);
  EXPECT_EQ(d.get("123456789").status, DictStatus::too_large);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(d.set("k" + std::to_string(i), "v"), DictStatus::ok) << i;
  EXPECT_EQ(d.set("k10", "v"), DictStatus::full);
  EXPECT_EQ(d.setdefault("k10", "v").status, DictStatus::full);
  EXPECT_EQ(d.set("k3", "replaced"), DictStatus::ok) << "an existing key is not a new entry";
  EXPECT_EQ(d.erase("k0"), DictStatus::ok);
  EXPECT_EQ(d.set("k10", "v"), DictStatus::ok);
  EXPECT_EQ(d.capacity(), 10u);
  // The documented way to grow: a larger dict, and a copy.
  TestDict big({.capacity = 100, .max_key = 8, .max_value = 16});
  EXPECT_EQ(big.d.update(d.items()), DictStatus::ok);
  EXPECT_EQ(big.d.size(), 10u);
  EXPECT_EQ(big.d.get("k3").text(), "replaced");
  EXPECT_FALSE(Dict::create(UniqueName("dict").str(), {.capacity = 0}));
  EXPECT_FALSE(Dict::create(UniqueName("dict").str(), {.max_key = 0}));
}

TEST(Dict, CompareSetChangesOnlyWhatItExpected) {
  TestDict t({.capacity = 4, .max_key = 8, .max_value = 16});
  Dict& d = t.d;
  const std::optional<ByteView> absent;
  EXPECT_EQ(d.compare_set("k", ByteView("x"), ByteView("v")), DictStatus::mismatch) << "absent, x expected";
  EXPECT_FALSE(d.contains("k"));
  EXPECT_EQ(d.compare_set("k", absent, ByteView("v1")), DictStatus::ok);
  EXPECT_EQ(d.compare_set("k", absent, ByteView("v2")), DictStatus::mismatch) << "present, absence expected";
  EXPECT_EQ(d.compare_set("k", ByteView("v2"), ByteView("v3")), DictStatus::mismatch);
  EXPECT_EQ(d.compare_set("k", ByteView("v"), ByteView("v3")), DictStatus::mismatch) << "a prefix is not equal";
  EXPECT_EQ(d.get("k").text(), "v1");
  EXPECT_EQ(d.compare_set("k", ByteView("v1"), ByteView("")), DictStatus::ok);
  EXPECT_EQ(d.compare_set("k", ByteView("v1"), absent), DictStatus::mismatch);
  EXPECT_EQ(d.compare_set("k", ByteView(""), absent), DictStatus::ok) << "an empty value is a value";
  EXPECT_FALSE(d.contains("k"));
  EXPECT_EQ(d.compare_set("k", absent, absent), DictStatus::ok) << "absent stays absent";
  EXPECT_EQ(d.compare_set("k", absent, ByteView(std::string(17, 'v'))), DictStatus::too_large);
  EXPECT_EQ(d.compare_set("123456789", absent, ByteView("v")), DictStatus::too_large);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(d.set("f" + std::to_string(i), "v"), DictStatus::ok);
  EXPECT_EQ(d.compare_set("k", absent, ByteView("v")), DictStatus::full);
  EXPECT_EQ(d.compare_set("f0", ByteView("v"), ByteView("w")), DictStatus::ok) << "a full dict still updates";
  EXPECT_EQ(d.size(), 4u);
}

// Read, compare_set, retry on mismatch: increments from two processes and
// this one are all counted, which a look-then-set would not give.
TEST(Dict, CompareSetIncrementsFromThreeProcessesLoseNone) {
  TestDict t;
  constexpr std::uint64_t kEach = 20000;
  ASSERT_EQ(t.d.set_value("n", std::uint64_t{0}), DictStatus::ok);
  const auto increment = [](Dict& d) {
    std::uint64_t mismatches = 0;
    for (std::uint64_t i = 0; i < kEach;) {
      const std::uint64_t v = d.get_value<std::uint64_t>("n").value();
      const std::uint64_t next = v + 1;
      const DictStatus st = d.compare_set("n", ByteView(bytes_of(v)), ByteView(bytes_of(next)));
      if (st == DictStatus::ok) ++i;
      else if (st == DictStatus::mismatch) ++mismatches;
      else return std::uint64_t{~0ull};
    }
    return mismatches;
  };
  std::vector<Child> others;
  for (int c = 0; c < 2; ++c) {
    others.push_back(test::fork_child([&t, &increment](int) {
      Dict d = test::or_throw(Dict::open(t.name.str()));
      return increment(d) == ~0ull ? 10 : 0;
    }));
  }
  EXPECT_NE(increment(t.d), ~0ull);
  for (Child& c : others) EXPECT_EQ(c.wait(), 0);
  EXPECT_EQ(t.d.get_value<std::uint64_t>("n"), 3 * kEach);
}

// Inserts and erases through many generations of tombstones: every key is
// found while it is there, and only then.
TEST(Dict, ChurnThroughTombstonesKeepsEveryKeyFindable) {
  TestDict t({.capacity = 64});
  Dict& d = t.d;
  std::mt19937_64 rng(7);
  std::map<std::uint32_t, std::uint32_t> model;
  for (int step = 0; step < 200000; ++step) {
    const auto k = static_cast<std::uint32_t>(rng() % 200);
    const auto v = static_cast<std::uint32_t>(rng());
    if (rng() % 2 == 0 && (model.size() < 64 || model.count(k) != 0)) {
      ASSERT_EQ(d.set(bytes_of(k), bytes_of(v)), DictStatus::ok) << step;
      model[k] = v;
    } else {
      ASSERT_EQ(d.erase(bytes_of(k)), model.erase(k) != 0 ? DictStatus::ok : DictStatus::not_found) << step;
    }
    if (step % 1000 == 0) {
      ASSERT_EQ(d.size(), model.size());
      for (std::uint32_t q = 0; q < 200; ++q) {
        const auto got = d.get_value<std::uint32_t>(bytes_of(q));
        const auto it = model.find(q);
        ASSERT_EQ(got.has_value(), it != model.end()) << "key " << q << " step " << step;
        if (got) {
          ASSERT_EQ(*got, it->second);
        }
      }
    }
  }
}

// A writer killed inside clear(): every key the dict lists is found, and
// its count matches what it lists.
TEST(DictCrash, AWriterKilledInsideClearLeavesEveryListedKeyFindable) {
  TestDict t({.capacity = 100000, .max_key = 8, .max_value = 8});
  test::SharedMemory<std::atomic<int>> clearing;
  std::mt19937_64 rng(5);
  int stranded_rounds = 0;
  for (int round = 0; round < 30; ++round) {
    clearing->store(0);
    Child w = test::fork_child([&t, &clearing](int) -> int {
      for (std::uint64_t k = 0; k < 60000; ++k) (void)t.d.set(bytes_of(k), bytes_of(k));
      clearing->store(1);
      t.d.clear();
      clearing->store(2);
      for (;;) ::pause();
    });
    while (clearing->load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));  // into the clear
    w.kill(SIGKILL);
    (void)w.wait();
    const bool mid_clear = clearing->load() == 1;
    ASSERT_EQ(t.d.set("probe", "x"), DictStatus::ok);  // takes the lock over and repairs
    std::size_t listed = 0;
    for (const Bytes& k : t.d.keys()) {
      ++listed;
      ASSERT_TRUE(t.d.contains(k)) << "round " << round << ": a listed key cannot be found";
    }
    ASSERT_EQ(t.d.size(), listed) << "round " << round;
    stranded_rounds += mid_clear ? 1 : 0;
    t.d.clear();
  }
  std::printf("%d of 30 kills landed inside clear()\n", stranded_rounds);
  EXPECT_GT(stranded_rounds, 0);
}

// Tutorial scenario 9: ten processes write d[i] = i * i; the parent reads
// all ten. Five are forked children, five separately started processes
// that open the dict by name.
TEST(Dict, TenProcessesWriteSquaresAndTheParentReadsAllTen) {
  TestDict t;
  std::vector<Child> writers;
  for (std::int32_t i = 0; i < 5; ++i) {
    writers.push_back(test::fork_child([&t, i](int) {
      Dict d = test::or_throw(Dict::open(t.name.str()));  // or the inherited handle: both work
      return d.set(bytes_of(i), bytes_of(i * i)) == DictStatus::ok ? 0 : 10;
    }));
  }
  for (std::int32_t i = 5; i < 10; ++i) {
    writers.push_back(test::spawn(test::sync_peer_path(), {"dict-square", t.name.str(), std::to_string(i)}));
  }
  for (std::size_t w = 5; w < writers.size(); ++w) EXPECT_EQ(writers[w].read_line(), "ok");
  for (Child& w : writers) EXPECT_EQ(w.wait(), 0);
  EXPECT_EQ(t.d.size(), 10u);
  for (std::int32_t i = 0; i < 10; ++i) EXPECT_EQ(t.d.get_value<std::int32_t>(bytes_of(i)), i * i) << i;
}

// Damaged files: a clear error at open, or corrupt from a read, never a crash.
TEST(DictOpen, DamagedFilesGiveClearErrors) {
  constexpr std::uint64_t kPayload = sizeof(platform::SegmentHeaderLayout);
  const auto damaged_open = [](std::uint64_t offset, std::uint64_t value) {
    TestDict t({.capacity = 8});
    test::poke<std::uint64_t>(t.d.path(), kPayload + offset, value);
    return Dict::open(t.name.str());
  };
  EXPECT_EQ(damaged_open(offsetof(DictConfigLayout, slots), 3).error().code, Errc::corrupt);
  EXPECT_EQ(damaged_open(offsetof(DictConfigLayout, slots), std::uint64_t{1} << 30).error().code, Errc::bad_size);
  EXPECT_EQ(damaged_open(offsetof(DictConfigLayout, slot_bytes), 64).error().code, Errc::corrupt);
  EXPECT_EQ(damaged_open(offsetof(DictConfigLayout, data_offset), 0).error().code, Errc::corrupt);
  EXPECT_EQ(damaged_open(offsetof(DictConfigLayout, max_entries), 1u << 20).error().code, Errc::corrupt);

  // A slot whose sizes are out of range: reads say corrupt; snapshots skip it.
  TestDict t({.capacity = 8, .max_key = 8, .max_value = 8});
  ASSERT_EQ(t.d.set("key", "value"), DictStatus::ok);
  Dict d = test::or_throw(Dict::open(t.name.str()));
  const std::uint64_t slot_bytes = 64 + 8 + 16;
  for (std::uint64_t i = 0; i < 16; ++i) {
    const std::uint64_t header = kPayload + sizeof(DictLayout) + i * ((slot_bytes + 63) / 64 * 64);
    test::poke<std::uint64_t>(t.d.path(), header + offsetof(DictSlotHeader, value_size), ~std::uint64_t{0});
  }
  EXPECT_EQ(d.get("key").status, DictStatus::corrupt);
  EXPECT_TRUE(d.items().empty());
  EXPECT_EQ(d.set("other", "v"), DictStatus::ok) << "writes still work";
}

// The crash test: writers killed with SIGKILL at random moments while they
// set values (each a writer id, a counter, a random-length payload and a
// checksum over all of it); two readers check every value they get. Pass:
// no torn value, the readers never stop making progress (no reader waits on
// a dead writer), and the next writer repairs after a kill inside the lock.
TEST(DictCrash, WritersKilledMidUpdateNeverLeaveATornValueAndReadersNeverBlock) {
  constexpr int kKeys = 32;
  const bool emulated = std::getenv("SHMRING_TEST_EMULATOR") != nullptr;
  const int kills = emulated ? 100 : 1000;
  const std::uint64_t slow = emulated ? 20 : 1;  // a writer's lifetime: long enough to write under qemu
  struct Shared {
    std::atomic<int> stop;
    std::atomic<std::uint64_t> reads[2];  // gets made, per reader
    std::atomic<std::uint64_t> checked;   // values found and checked
    std::atomic<std::uint64_t> sets;      // sets the writers completed
    std::atomic<std::uint64_t> torn;
    std::atomic<std::uint64_t> bad_status;
  };
  TestDict t({.capacity = 64, .max_key = 16, .max_value = 512});
  test::SharedMemory<Shared> sh;
  const auto checksum = [](const std::byte* p, std::size_t n) {
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ std::to_integer<std::uint64_t>(p[i])) * 1099511628211ull;
    return h;
  };
  // Payloads are made before the loop, so that nearly all of a writer's
  // time (and so most kills) falls inside set().
  const auto write_forever = [&](std::uint64_t id) {
    Dict d = test::or_throw(Dict::open(t.name.str()));
    std::mt19937_64 rng(id);
    std::vector<Bytes> payloads(16);
    std::vector<std::uint64_t> sums(16);
    for (std::size_t j = 0; j < payloads.size(); ++j) {
      payloads[j].resize(static_cast<std::size_t>(24 + rng() % 480));
      for (std::size_t i = 24; i < payloads[j].size(); ++i) payloads[j][i] = static_cast<std::byte>(rng());
      sums[j] = checksum(payloads[j].data() + 24, payloads[j].size() - 24);
    }
    for (std::uint64_t n = 0;; ++n) {
      const auto key = static_cast<std::uint32_t>(n * 7 % kKeys);
      Bytes& v = payloads[static_cast<std::size_t>(n % payloads.size())];
      const std::uint64_t sum = sums[static_cast<std::size_t>(n % payloads.size())] ^ id ^ n;
      std::memcpy(v.data(), &id, 8);
      std::memcpy(v.data() + 8, &n, 8);
      std::memcpy(v.data() + 16, &sum, 8);
      if (d.set(bytes_of(key), v) != DictStatus::ok) return 10;
      sh->sets.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<Child> readers;
  for (int r = 0; r < 2; ++r) {
    readers.push_back(test::fork_child([&, r](int) {
      Dict d = test::or_throw(Dict::open(t.name.str()));
      Bytes v;
      while (sh->stop.load() == 0) {
        for (std::uint32_t key = 0; key < kKeys; ++key) {
          const DictStatus st = d.get_into(bytes_of(key), v);
          sh->reads[r].fetch_add(1);  // progress, found or not
          if (st == DictStatus::not_found) continue;
          if (st != DictStatus::ok || v.size() < 24) {
            sh->bad_status.fetch_add(1);
            continue;
          }
          std::uint64_t id = 0, n = 0, sum = 0;
          std::memcpy(&id, v.data(), 8);
          std::memcpy(&n, v.data() + 8, 8);
          std::memcpy(&sum, v.data() + 16, 8);
          if ((checksum(v.data() + 24, v.size() - 24) ^ id ^ n) != sum) sh->torn.fetch_add(1);
          sh->checked.fetch_add(1);
        }
      }
      return 0;
    }));
  }
  std::mt19937_64 rng(99);
  std::uint64_t stalls = 0;
  const std::uint64_t repairs_before = t.d.repairs();
  for (int k = 0; k < kills; ++k) {
    Child w = test::fork_child([&, k](int) { return write_forever(static_cast<std::uint64_t>(k) + 1); });
    std::this_thread::sleep_for(std::chrono::microseconds((300 + rng() % 1500) * slow));
    // The readers go on after the kill, whatever the writer held.
    if (!test::others_go_on_after_kill(w, [&] { return sh->reads[0].load() + sh->reads[1].load(); })) ++stalls;
  }
  // A last writer after the last kill: takes over a lock left held, if it was.
  EXPECT_EQ(t.d.set("final", "ok"), DictStatus::ok);
  sh->stop.store(1);
  for (Child& r : readers) EXPECT_EQ(r.wait(), 0);
  const std::uint64_t reads = sh->checked.load();
  std::printf(
      "dict crash: %d writers killed, %llu values read and checked, %llu torn, %llu bad statuses, %llu reader "
      "stalls, %llu repairs (kills inside the lock), %llu sets\n",
      kills, static_cast<unsigned long long>(reads), static_cast<unsigned long long>(sh->torn.load()),
      static_cast<unsigned long long>(sh->bad_status.load()), static_cast<unsigned long long>(stalls),
      static_cast<unsigned long long>(t.d.repairs() - repairs_before),
      static_cast<unsigned long long>(sh->sets.load()));
  EXPECT_EQ(sh->torn.load(), 0u);
  EXPECT_EQ(sh->bad_status.load(), 0u);
  EXPECT_EQ(stalls, 0u);
  EXPECT_GT(reads, static_cast<std::uint64_t>(kills));
  std::size_t live = 0;
  for (std::uint32_t key = 0; key < kKeys; ++key) live += t.d.contains(bytes_of(key)) ? 1u : 0u;
  EXPECT_EQ(t.d.size(), live + 1) << "the count matches the entries (+ 'final')";
}

}  // namespace
}  // namespace shmring
