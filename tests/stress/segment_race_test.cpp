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
// SHMRING_SEGMENT_RACE_KILLS (default 60) and SHMRING_SEGMENT_RACE_SEED
// (printed) change part 2; SHMRING_SEGMENT_RACE_MS (default 500) is the
// hammering time per shape in part 1. A few seconds with the defaults.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "shared_memory.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/queue.hpp"

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
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).substr(0, prefix.size()) == prefix) out.emplace_back(e->d_name);
  }
  ::closedir(d);
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
        sleep_until_ns(monotonic_ns() + 5 * kMs);  // openers find it published
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
    std::printf("%s: %d creates, %llu opens succeeded\n", shape.what, created,
                static_cast<unsigned long long>(opened));
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
    const std::size_t which = rng() % 5 == 0 ? 2 : rng() % 2;  // the large one in one round of five
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

}  // namespace
}  // namespace shmring
