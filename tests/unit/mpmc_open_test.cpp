// Hostile and damaged files for the MPMC engine: every shared value an opener
// or a participant reads is checked before use, so damage is a clear error
// (at open) or a status (after open), never a crash or a hang. Offsets come
// from offsetof on the layouts; the segment header precedes the payload.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "helpers.hpp"
#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using platform::SegmentHeaderLayout;
using test::peek;
using test::poke;
using test::UniqueName;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint64_t kQueueAt = sizeof(SegmentHeaderLayout);
constexpr std::uint64_t kMpmc = kQueueAt + offsetof(QueueLayout, mpmc);
constexpr std::uint64_t kTail = kMpmc + offsetof(MpmcRingLayout, tail);
constexpr std::uint64_t kHead = kMpmc + offsetof(MpmcRingLayout, head);
constexpr std::uint64_t kReleased = kMpmc + offsetof(MpmcRingLayout, released);
constexpr std::uint64_t kEngine = kQueueAt + offsetof(QueueLayout, config) + offsetof(QueueConfigLayout, engine);
constexpr std::uint64_t kChunk = kQueueAt + offsetof(QueueLayout, config) + offsetof(QueueConfigLayout, chunk);
constexpr std::uint64_t kRing = kQueueAt + sizeof(QueueLayout);

// A valid MPMC queue with `messages` short messages, one consumed.
void make_queue(const UniqueName& name, int messages = 3) {
  Queue q = test::create_or_throw(name, {.engine = Engine::mpmc, .capacity_bytes = kCapacity});
  for (int i = 0; i < messages; ++i) ASSERT_EQ(q.put_nowait("message " + std::to_string(i)), PutStatus::ok);
  ASSERT_EQ(q.get_nowait().status, GetStatus::ok);
}

Errc open_error(const UniqueName& name) {
  OpenOptions o;
  o.ready_timeout = 0ns;
  auto q = Queue::open(name, o);
  return q ? Errc{} : q.error().code;
}

TEST(MpmcOpen, UndamagedQueueOpensWithItsMessages) {
  UniqueName name;
  make_queue(name);
  EXPECT_EQ(open_error(name), Errc{});
  Queue q = test::open_or_throw(name);
  EXPECT_EQ(q.engine(), Engine::mpmc);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get_nowait().text(), "message 1");
}

TEST(MpmcOpen, DamagedConfigAndPositionsFailAtOpen) {
  const auto damaged = [](auto edit) {
    UniqueName name;
    make_queue(name);
    edit(name.path());
    return open_error(name);
  };
  EXPECT_EQ(damaged([](const std::string& f) { poke<std::uint32_t>(f, kEngine, 7); }), Errc::corrupt);
  EXPECT_EQ(damaged([](const std::string& f) { poke<std::uint64_t>(f, kChunk, 3); }), Errc::bad_size);
  EXPECT_EQ(damaged([](const std::string& f) { poke<std::uint64_t>(f, kChunk, kCapacity); }), Errc::bad_size);
  EXPECT_EQ(
      damaged([](const std::string& f) { poke<std::uint64_t>(f, kReleased, peek<std::uint64_t>(f, kHead) + 16); }),
      Errc::corrupt)
      << "released past head";
  EXPECT_EQ(damaged([](const std::string& f) { poke<std::uint64_t>(f, kHead, peek<std::uint64_t>(f, kTail) + 16); }),
            Errc::corrupt)
      << "head past tail";
  EXPECT_EQ(damaged([](const std::string& f) {
              poke<std::uint64_t>(f, kTail, peek<std::uint64_t>(f, kReleased) + kCapacity);
            }),
            Errc::corrupt)
      << "more than the ring in use";
  EXPECT_EQ(damaged([](const std::string& f) { poke<std::uint64_t>(f, kHead, peek<std::uint64_t>(f, kHead) + 8); }),
            Errc::corrupt)
      << "unaligned head";
}

TEST(MpmcOpen, DamagedRecordsAfterOpenMakeGetReturnCorruptNotCrash) {
  UniqueName name;
  make_queue(name);
  Queue q = test::open_or_throw(name);
  const std::uint64_t head = peek<std::uint64_t>(name.path(), kHead);
  const std::uint64_t at = kRing + (head & (kCapacity - 1));
  // An impossible length in the head record's meta word.
  poke<std::uint32_t>(name.path(), at + offsetof(MpmcRecordHeader, meta), 0x7fff'0000u);
  EXPECT_EQ(q.get_nowait().status, GetStatus::corrupt);
  // A state word carrying another position's tag.
  const std::uint64_t next = peek<std::uint64_t>(name.path(), kHead);
  poke<std::uint64_t>(name.path(), kRing + (next & (kCapacity - 1)) + offsetof(MpmcRecordHeader, state),
                      0x1234'5673ull);
  EXPECT_EQ(q.get_nowait().status, GetStatus::corrupt);
  const PutStatus p = q.put_nowait("more");
  EXPECT_TRUE(p == PutStatus::ok || p == PutStatus::corrupt || p == PutStatus::full) << to_string(p);
}

// Open checks released <= head <= tail; damage after open can still break
// it. A stale() verdict (released past the position a walk started from)
// used to mean "retry": with released past the tail for good, put spun
// forever (fuzz/fuzz_corrupt_ring; reproducer
// fuzz/crashes/corrupt_ring-released-past-tail). In a child, so a hang fails.
TEST(MpmcOpen, ReleasedPastTailAfterOpenMakesPutAndGetReturnCorruptNotSpin) {
  UniqueName name;
  make_queue(name);
  test::Child child = test::fork_child([&](int out) {
    Queue q = test::open_or_throw(name);
    poke<std::uint64_t>(name.path(), kReleased, peek<std::uint64_t>(name.path(), kTail) + 4096);
    std::string line = std::string("put ") + to_string(q.put_nowait("after damage"));
    line += std::string(", get ") + to_string(q.get_nowait().status);
    test::write_line(out, line);
    return 0;
  });
  EXPECT_EQ(child.read_line(10s), "put corrupt, get corrupt");
  EXPECT_EQ(child.wait(10s), 0) << "the child crashed or hung";
}

// On-demand memory (rings above 4 MiB) keeps two frontiers and a lock in the
// file. Damaged, each once made a nowait call spin for good or for ~2^42
// chunk steps (found by reading every retry loop; the fuzzer's 4 KiB queues
// have no on-demand memory). Each case opens the damaged file in a child: a
// hang fails it.
constexpr std::uint64_t kBig = 8u << 20;
constexpr std::uint64_t kBacking = kQueueAt + offsetof(QueueLayout, backing);
constexpr std::uint64_t kBackedEnd = kBacking + offsetof(QueueBackingLayout, backed_end);
constexpr std::uint64_t kUnbackedBelow = kBacking + offsetof(QueueBackingLayout, unbacked_below);
constexpr std::uint64_t kBackingLock = kBacking + offsetof(QueueBackingLayout, lock);
constexpr std::uint64_t kSpscTail =
    kQueueAt + offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, producer) + offsetof(SpscProducerLayout, tail);
constexpr std::uint64_t kSpscHead =
    kQueueAt + offsetof(QueueLayout, ring) + offsetof(SpscRingLayout, consumer) + offsetof(SpscConsumerLayout, head);

std::string after_damage(Engine engine, const std::function<void(const std::string&)>& damage,
                         const std::function<std::string(Queue&)>& operate) {
  UniqueName name("ondemand-damage");
  { Queue q = test::create_or_throw(name, {.engine = engine, .capacity_bytes = kBig}); }
  damage(name.path());
  test::Child child = test::fork_child([&](int out) {
    OpenOptions o;
    o.ready_timeout = 0ns;
    auto q = Queue::open(name, o);
    test::write_line(out, q ? operate(*q) : std::string("open: ") + to_string(q.error().code));
    return 0;
  });
  const std::string line = child.read_line(10s);
  EXPECT_EQ(child.wait(10s), 0) << "the child crashed or hung";
  return line;
}

TEST(MpmcOpen, DamagedOnDemandFrontiersMakeNowaitCallsReturnNotSpin) {
  const auto put = [](Queue& q) { return std::string("put ") + to_string(q.put_nowait("x")); };
  // A tail 1 MiB below 2^64 (head and released a ring below it): the chunk
  // rounding of the target wrapped to 0, "backed", and claim looped.
  // (After open: open checks the header at the tail.)
  EXPECT_EQ(after_damage(
                Engine::mpmc, [](const std::string&) {},
                [](Queue& q) {
                  const std::string& f = q.path();
                  poke<std::uint64_t>(f, kReleased, 0 - kBig - 16);
                  poke<std::uint64_t>(f, kHead, 0 - kBig - 16);
                  poke<std::uint64_t>(f, kTail, 0 - (1u << 20));
                  poke<std::uint64_t>(f, kBackedEnd, 1u << 20);
                  poke<std::uint64_t>(f, kUnbackedBelow, 0);
                  return std::string("put ") + to_string(q.put_nowait("x"));
                }),
            "put corrupt");
  // Positions at 2^62 and frontiers at 0: the get's return of chunks walked
  // 2^42 chunks (a hole punched each), the put's reservation as many.
  const auto spsc_far = [](const std::string& f) {
    poke<std::uint64_t>(f, kSpscHead, std::uint64_t{1} << 62);
    poke<std::uint64_t>(f, kSpscTail, std::uint64_t{1} << 62);
    poke<std::uint64_t>(f, kBackedEnd, 0);
    poke<std::uint64_t>(f, kUnbackedBelow, 0);
  };
  EXPECT_EQ(after_damage(Engine::spsc, spsc_far,
                         [](Queue& q) { return std::string("get ") + to_string(q.get_nowait().status); }),
            "get empty");
  EXPECT_EQ(after_damage(Engine::spsc, spsc_far, put), "put corrupt");
  // The lock word naming a live process (here: the one asking) was waited
  // on forever; after a second of it, corrupt.
  EXPECT_EQ(after_damage(
                Engine::mpmc, [](const std::string& f) { poke<std::uint64_t>(f, kBackedEnd, 0); },
                [](Queue& q) {
                  test::poke<std::uint64_t>(q.path(), kBackingLock, platform::pack_owner(platform::current_process()));
                  return std::string("put ") + to_string(q.put_nowait("x"));
                }),
            "put corrupt");
}

// 200 seeded cases of random bytes overwritten in the MPMC positions and
// participant table and in the first records; each case in its own child
// with nowait operations, so a crash or a hang fails with its seed.
TEST(MpmcOpen, RandomDamageToPositionsParticipantsAndRecordsNeverCrashesOrHangs) {
  constexpr int kCases = 200;
  constexpr std::uint64_t kSeed = 0x5eed'0002;
  std::map<std::string, int> outcomes;
  for (int c = 0; c < kCases; ++c) {
    UniqueName name("mpmc-rnd");
    ASSERT_NO_FATAL_FAILURE(make_queue(name));
    std::mt19937_64 rng(kSeed + static_cast<std::uint64_t>(c));
    const int bytes = 1 + static_cast<int>(rng() % 4);
    for (int b = 0; b < bytes; ++b) {
      // Half in the ring layout (positions, key, the first participants), half in the first records.
      const std::uint64_t offset = (rng() & 1) != 0 ? kMpmc + rng() % 1024 : kRing + rng() % 512;
      poke<std::uint8_t>(name.path(), offset, static_cast<std::uint8_t>(rng()));
    }
    test::Child child = test::fork_child([&](int out) {
      OpenOptions o;
      o.ready_timeout = 0ns;
      auto q = Queue::open(name, o);
      if (!q) {
        test::write_line(out, std::string("open: ") + to_string(q.error().code));
        return 0;
      }
      std::string line = "get";
      for (int i = 0; i < 4; ++i) line += std::string(" ") + to_string(q->get(nowait).status);
      line += std::string(", put ") + to_string(q->put_nowait("after damage"));
      test::write_line(out, line);
      return 0;
    });
    const std::string outcome = child.read_line(10s);
    const int rc = child.wait(10s);
    ASSERT_EQ(rc, 0) << "case " << c << " (seed " << kSeed + static_cast<std::uint64_t>(c)
                     << "): the child crashed or hung (rc " << rc << ")";
    ++outcomes[outcome];
  }
  std::string summary;
  for (const auto& [outcome, count] : outcomes) summary += "  " + std::to_string(count) + " x " + outcome + "\n";
  std::printf("outcomes of %d random damages (MPMC):\n%s", kCases, summary.c_str());
}

}  // namespace
}  // namespace shmring
