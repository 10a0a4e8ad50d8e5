// Create/open races on one name (platform/linux/segment.cpp, "Why this is
// right"), through Queue: a 4 KiB SPSC queue, a 4 MiB MPMC queue and a
// 256 MiB fixed-size SPSC queue (every byte reserved at create, the slowest
// create there is).
//
// 1. Openers in other processes hammer a name while a creator makes,
//    publishes and unlinks queues of each shape: every open succeeds on a
//    published queue, or fails with not_found (nothing at the name), or
//    not_ready only after its whole ready timeout. Never bad_magic,
//    empty_file, truncated: an opener never sees a file in the making.
// 2. Creators are killed (SIGKILL, their own pid only) at seeded random
//    moments inside Queue::create, over the measured length of a create of
//    that shape, on the O_TMPFILE path and on the temporary-name path: each
//    time the name stays usable — open succeeds (the create finished) or
//    says not_found / creator_died, a create after it succeeds, and no
//    temporary name of the dead creator is left once the next create ran.
//
// 3. Creators in three processes race for one name, make it, hold it
//    briefly and unlink it, while the test kills one of them at random
//    moments and starts another, and an opener hammers the name: create's
//    O_EXCL holds (never two holders at once), no holder loses its file to a
//    taker (the name still leads to its file when it unlinks it), and every
//    open ends in a specific error or a published segment.
//
// SHMRING_SEGMENT_RACE_KILLS (default 60) and SHMRING_SEGMENT_RACE_SEED
// (printed) change parts 2 and 3; SHMRING_SEGMENT_RACE_MS (default 500) is
// the hammering time per shape in part 1 and the length of part 3. A few
// seconds with the defaults.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "shared_memory.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using namespace test;
using platform::sleep_until_ns;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Shape {
  const char* what;
  QueueOptions options;
};

std::vector<Shape> shapes() {
  QueueOptions tiny;
  tiny.engine = Engine::spsc;
  tiny.capacity_bytes = 4096;
  QueueOptions mpmc;
  mpmc.engine = Engine::mpmc;
  mpmc.capacity_bytes = std::uint64_t{4} << 20;
  QueueOptions large;
  large.engine = Engine::spsc;
  large.capacity_bytes = std::uint64_t{256} << 20;
  large.message_size = 64;
  return {{"4 KiB spsc", tiny}, {"4 MiB mpmc", mpmc}, {"256 MiB fixed-size spsc", large}};
}

// Temporary names a creator with this pid may have left in /dev/shm.
std::vector<std::string> temp_names_of(pid_t pid) {
  const std::string prefix = ".shmring-tmp." + std::to_string(pid) + ".";
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    std::string leaf = e.path().filename().string();
    if (leaf.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(leaf));
  }
  EXPECT_FALSE(ec) << ec.message();
  return out;
}

// ---- 1. openers hammering a name --------------------------------------------

constexpr auto kReadyTimeout = std::chrono::milliseconds(300);

// Opens `name` until `stop` is set; reports "ok <n> not_found <n>" and one
// "bad <error>" line per kind of unexpected failure. Exit 0.
int hammer(const UniqueName& name, const std::atomic<int>& stop, int out) {
  std::uint64_t ok = 0;
  std::uint64_t not_found = 0;
  std::map<std::string, std::uint64_t> bad;
  // relaxed: a stop request; nothing is read on its strength.
  while (stop.load(std::memory_order_relaxed) == 0) {
    const std::int64_t t0 = monotonic_ns();
    auto q = Queue::open(name, {.ready_timeout = kReadyTimeout});
    const std::int64_t waited = monotonic_ns() - t0;
    if (q) {
      ++ok;
      (void)q->qsize();
      continue;
    }
    const Errc e = q.error().code;
    if (e == Errc::not_found) {
      ++not_found;
    } else if (e == Errc::not_ready && waited >= kReadyTimeout.count() * kMs) {
      // A creator slower than the ready timeout: allowed, after the timeout.
    } else if (e != Errc::creator_died) {
      ++bad[q.error().message() + " after " + std::to_string(waited / kMs) + " ms"];
    }
  }
  write_line(out, "ok " + std::to_string(ok) + " not_found " + std::to_string(not_found));
  for (const auto& [what, n] : bad) write_line(out, "bad " + std::to_string(n) + "x " + what);
  return 0;
}

TEST(SegmentRace, OpenersHammeringANameSeeOnlyPublishedQueues) {
  const std::int64_t window_ns = static_cast<std::int64_t>(env_or("SHMRING_SEGMENT_RACE_MS", 500)) * kMs;
  for (const Shape& shape : shapes()) {
    SCOPED_TRACE(shape.what);
    UniqueName name("race-open");
    SharedMemory<std::atomic<int>> stop;
    std::vector<Child> openers;
    for (int i = 0; i < 2; ++i) openers.push_back(fork_child([&](int out) { return hammer(name, *stop, out); }));
    const std::int64_t until = monotonic_ns() + window_ns;
    int created = 0;
    while (monotonic_ns() < until || created < 3) {
      {
        auto q = Queue::create(name, shape.options);
        ASSERT_TRUE(q) << q.error().message();
        ++created;
        const std::string m(64, 'm');
        ASSERT_EQ(q->put_nowait(std::as_bytes(std::span(m))), PutStatus::ok);
        sleep_until_ns(monotonic_ns() + 10 * kMs);  // openers find it published
      }
      ASSERT_TRUE(Queue::unlink(name));
    }
    stop->store(1, std::memory_order_relaxed);  // relaxed: see hammer()
    std::uint64_t opened = 0;
    for (Child& c : openers) {
      for (std::string line = c.read_line(30s); !line.empty(); line = c.read_line(30s)) {
        if (line.rfind("bad ", 0) == 0) ADD_FAILURE() << "an open failed with " << line.substr(4);
        unsigned long long ok = 0;
        unsigned long long nf = 0;
        if (std::sscanf(line.c_str(), "ok %llu not_found %llu", &ok, &nf) == 2) opened += ok;
      }
      EXPECT_EQ(c.wait(30s), 0);
    }
    std::printf("%s: %d creates, %llu opens succeeded\n", shape.what, created, static_cast<unsigned long long>(opened));
    EXPECT_GT(opened, 0u);
  }
}

// ---- 2. creators killed inside create ---------------------------------------

// Median wall time of a create + unlink of `shape` in this process.
std::int64_t create_ns(const Shape& shape) {
  std::vector<std::int64_t> t;
  for (int i = 0; i < 3; ++i) {
    UniqueName name("race-measure");
    const std::int64_t t0 = monotonic_ns();
    auto q = Queue::create(name, shape.options);
    t.push_back(monotonic_ns() - t0);
    if (!q) ADD_FAILURE() << q.error().message();
  }
  std::sort(t.begin(), t.end());
  return t[1];
}

TEST(SegmentRace, CreatorsKilledAtRandomMomentsNeverLeaveTheNameUnusable) {
  const std::uint64_t kills = env_or("SHMRING_SEGMENT_RACE_KILLS", 60);
  const std::uint64_t seed = env_or("SHMRING_SEGMENT_RACE_SEED", std::random_device{}());
  std::printf("%llu kills, SHMRING_SEGMENT_RACE_SEED=%llu\n", static_cast<unsigned long long>(kills),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  const std::vector<Shape> all = shapes();
  std::vector<std::int64_t> length;
  for (const Shape& s : all) length.push_back(create_ns(s));

  std::map<std::string, int> outcomes;  // what the kill left, by the first open after it
  for (std::uint64_t round = 0; round < kills; ++round) {
    const auto which = static_cast<std::size_t>(rng() % 5 == 0 ? 2 : rng() % 2);  // the large one in one round of five
    const Shape& shape = all[which];
    const bool named_temp = rng() % 4 == 0;
    // From the creator's "go" to a little past a typical create's end.
    const std::int64_t delay = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(length[which] * 5 / 4 + 1));
    SCOPED_TRACE(std::string(shape.what) + (named_temp ? ", temporary names" : ", O_TMPFILE") + ", round " +
                 std::to_string(round) + ", kill after " + std::to_string(delay / 1000) + " us");
    UniqueName name("race-kill");
    Child creator = fork_child([&](int out) {
      platform::detail::use_named_temp_files(named_temp);
      write_line(out, "go");
      auto q = Queue::create(name, shape.options);
      if (!q) return 1;
      write_line(out, "done");
      ::pause();
      return 0;
    });
    ASSERT_EQ(creator.read_line(10s), "go");
    const pid_t creator_pid = creator.pid();
    sleep_until_ns(monotonic_ns() + delay);
    creator.kill(SIGKILL);
    const int status = creator.wait(10s);
    ASSERT_TRUE(status == 128 + SIGKILL) << "creator exit " << status;

    // The name must be usable: an open finds the finished queue, or nothing,
    // or a dead creator's file it removes.
    platform::detail::use_named_temp_files(named_temp);
    auto opened = Queue::open(name, {.ready_timeout = 1s});
    const char* outcome = opened                                      ? "a published queue"
                          : opened.error().code == Errc::not_found    ? "nothing (not_found)"
                          : opened.error().code == Errc::creator_died ? "a dead creator's file (creator_died)"
                                                                      : "an unusable name";
    ++outcomes[outcome];
    if (opened) {
      EXPECT_TRUE(Queue::unlink(name));
    } else {
      EXPECT_TRUE(opened.error().code == Errc::not_found || opened.error().code == Errc::creator_died)
          << opened.error().message();
    }
    // ... and a create works after it, which also collects the dead creator's
    // temporary name (temporary-name path).
    {
      auto again = Queue::create(name, all[0].options);
      EXPECT_TRUE(again) << again.error().message();
    }
    platform::detail::use_named_temp_files(false);
    EXPECT_EQ(temp_names_of(creator_pid), std::vector<std::string>{});
    if (::testing::Test::HasFailure()) break;
  }
  for (const auto& [what, n] : outcomes) std::printf("  the kill left %s: %d\n", what.c_str(), n);
}

// ---- 3. creators racing for one name, some killed ---------------------------

constexpr std::uint32_t kRaceKind = 0x45434152u;  // "RACE"

platform::SegmentSpec race_spec(std::uint64_t payload) {
  platform::SegmentSpec s;
  s.kind = kRaceKind;
  s.layout_version = 1;
  s.layout_hash = 1;
  s.payload_size = payload;
  return s;
}

platform::SegmentExpect race_expect(std::chrono::nanoseconds ready_timeout) {
  platform::SegmentExpect e;
  e.kind = kRaceKind;
  e.layout_version = 1;
  e.layout_hash = 1;
  e.ready_timeout = ready_timeout;
  return e;
}

struct RaceLedger {
  std::atomic<std::uint64_t> holder;       // pid of the creator holding the name, 0: none
  std::atomic<std::uint64_t> held;         // successful creates
  std::atomic<std::uint64_t> two_holders;  // a create succeeded while another holder held the name
  std::atomic<std::uint64_t> lost_file;    // a holder found the name leading to another file
  std::atomic<std::uint64_t> bad_unlink;   // a holder's unlink of its own file failed
  std::atomic<std::uint64_t> bad_create;   // a create failed with something other than exists
  std::atomic<int> stop;
};

int race_creator(const UniqueName& name, RaceLedger& g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto self = static_cast<std::uint64_t>(::getpid());
  // relaxed (every atomic here): counters and the stop flag are read by the
  // parent after this process exited; `holder` is a CAS token whose only
  // question is "was anyone else holding it".
  while (g.stop.load(std::memory_order_relaxed) == 0) {
    const std::uint64_t payload = std::uint64_t{4096} << (rng() % 11);  // 4 KiB .. 4 MiB
    auto seg = platform::Segment::create(name, race_spec(payload));
    if (!seg) {
      if (seg.error().code != Errc::exists) g.bad_create.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // Unpublished for a while: takers must leave a live creator's file alone.
    sleep_until_ns(monotonic_ns() + static_cast<std::int64_t>(rng() % 300'000));
    seg->publish();
    std::uint64_t none = 0;
    if (!g.holder.compare_exchange_strong(none, self, std::memory_order_relaxed)) {
      g.two_holders.fetch_add(1, std::memory_order_relaxed);
    }
    g.held.fetch_add(1, std::memory_order_relaxed);
    auto mine = platform::Segment::open(name, race_expect(std::chrono::nanoseconds(0)));
    if (!mine || mine->header().creator_pid != self ||
        mine->header().created_realtime_ns != seg->header().created_realtime_ns) {
      g.lost_file.fetch_add(1, std::memory_order_relaxed);
    }
    sleep_until_ns(monotonic_ns() + static_cast<std::int64_t>(rng() % 200'000));
    // Give the token back before the name: nobody can create while it exists.
    g.holder.store(0, std::memory_order_relaxed);
    if (!platform::Segment::unlink(name, kRaceKind)) g.bad_unlink.fetch_add(1, std::memory_order_relaxed);
  }
  return 0;
}

TEST(SegmentRace, CreatorsRacingForANameWhileSomeAreKilledNeverShareIt) {
  const std::uint64_t kills = env_or("SHMRING_SEGMENT_RACE_KILLS", 60);
  const std::uint64_t seed = env_or("SHMRING_SEGMENT_RACE_SEED", std::random_device{}());
  const std::int64_t length_ns = static_cast<std::int64_t>(env_or("SHMRING_SEGMENT_RACE_MS", 500)) * kMs;
  std::printf("%llu kills over at least %lld ms, SHMRING_SEGMENT_RACE_SEED=%llu\n",
              static_cast<unsigned long long>(kills), static_cast<long long>(length_ns / kMs),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  UniqueName name("race-creators");
  SharedMemory<RaceLedger> g;
  SharedMemory<std::atomic<int>> stop_opener;
  Child opener = fork_child([&](int out) {
    std::map<std::string, std::uint64_t> bad;
    std::uint64_t died = 0;
    // relaxed: a stop request; nothing is read on its strength.
    while (stop_opener->load(std::memory_order_relaxed) == 0) {
      const std::int64_t t0 = monotonic_ns();
      auto s = platform::Segment::open(name, race_expect(kReadyTimeout));
      if (s) continue;
      const Errc e = s.error().code;
      died += e == Errc::creator_died ? 1 : 0;
      const bool late_not_ready = e == Errc::not_ready && monotonic_ns() - t0 >= kReadyTimeout.count() * kMs;
      if (e != Errc::not_found && e != Errc::creator_died && !late_not_ready) ++bad[s.error().message()];
    }
    write_line(out, "died " + std::to_string(died));
    for (const auto& [what, n] : bad) write_line(out, "bad " + std::to_string(n) + "x " + what);
    return 0;
  });

  std::vector<Child> creators;
  std::vector<pid_t> pids;
  std::uint64_t next_seed = seed;
  const auto start_creator = [&] {
    const std::uint64_t s = ++next_seed;
    creators.push_back(fork_child([&, s](int) { return race_creator(name, *g, s); }));
    pids.push_back(creators.back().pid());
  };
  for (int i = 0; i < 3; ++i) start_creator();

  const std::int64_t until = monotonic_ns() + length_ns;
  const std::int64_t pause_ns = length_ns / static_cast<std::int64_t>(kills == 0 ? 1 : kills);
  for (std::uint64_t k = 0; k < kills || monotonic_ns() < until; ++k) {
    sleep_until_ns(monotonic_ns() + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * pause_ns + 1)));
    if (k >= kills) continue;
    const auto victim = static_cast<std::size_t>(rng() % creators.size());
    const auto victim_pid = static_cast<std::uint64_t>(pids[victim]);
    creators[victim].kill(SIGKILL);
    ASSERT_EQ(creators[victim].wait(10s), 128 + SIGKILL);
    // A victim killed holding a published segment leaves a ready object:
    // the user's to unlink, as for any published object. Give its token back
    // before removing it (nobody can create while the name holds it).
    auto left = platform::Segment::open(name, race_expect(std::chrono::nanoseconds(0)));
    if (left && left->header().creator_pid == victim_pid) {
      std::uint64_t token = victim_pid;
      // relaxed: see race_creator().
      (void)g->holder.compare_exchange_strong(token, 0, std::memory_order_relaxed);
      EXPECT_TRUE(platform::Segment::unlink(name, kRaceKind));
    }
    creators.erase(creators.begin() + static_cast<std::ptrdiff_t>(victim));
    pids.erase(pids.begin() + static_cast<std::ptrdiff_t>(victim));
    start_creator();
  }
  g->stop.store(1, std::memory_order_relaxed);
  for (Child& c : creators) EXPECT_EQ(c.wait(30s), 0);
  stop_opener->store(1, std::memory_order_relaxed);
  for (std::string line = opener.read_line(30s); !line.empty(); line = opener.read_line(30s)) {
    if (line.rfind("bad ", 0) == 0) ADD_FAILURE() << "an open failed with " << line.substr(4);
    if (line.rfind("died ", 0) == 0) std::printf("  the opener removed %s dead creators' files\n", line.c_str() + 5);
  }
  EXPECT_EQ(opener.wait(30s), 0);

  std::printf("  %llu creates held the name\n", static_cast<unsigned long long>(g->held.load()));
  EXPECT_GT(g->held.load(), 0u);
  EXPECT_EQ(g->two_holders.load(), 0u) << "create succeeded while another creator held the name";
  EXPECT_EQ(g->lost_file.load(), 0u) << "a holder's file was removed or replaced";
  EXPECT_EQ(g->bad_unlink.load(), 0u) << "a holder could not unlink its own file";
  EXPECT_EQ(g->bad_create.load(), 0u) << "a create failed with something other than exists";
  // The name is usable afterwards.
  auto after = platform::Segment::open(name, race_expect(std::chrono::seconds(1)));
  if (after) {
    EXPECT_TRUE(platform::Segment::unlink(name, kRaceKind));
  } else {
    EXPECT_TRUE(after.error().code == Errc::not_found || after.error().code == Errc::creator_died)
        << after.error().message();
  }
  auto fresh = platform::Segment::create(name, race_spec(4096));
  EXPECT_TRUE(fresh) << fresh.error().message();
}

}  // namespace
}  // namespace shmring
