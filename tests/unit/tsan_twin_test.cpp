// One queue, several mappings, one process: every handle opened by name maps
// the segment again at its own address, so threads driving different handles
// touch the same shared bytes through different virtual addresses, exactly
// as separate processes would. ThreadSanitizer sees one process only; these
// tests are how it sees the cross-process protocols (the SPSC and MPMC rings,
// the park/wake layer in blocking.hpp). They run, and must pass, in every
// build; under SHMRING_SANITIZE=thread they must also be report-free.
//
// Note on TSan and fences: blocking.hpp orders its wake-up handshake with
// std::atomic_thread_fence(seq_cst) (Barriers::fences) or a membarrier plus
// a compiler fence (Barriers::asymmetric). TSan does not model fences, so a
// race that only a fence prevents would be reported as a race (a false
// positive), and a missing fence would not be caught by it at all (the
// spin model in model/ checks that handshake). Both barrier modes run here.
//
// TSan also cannot know that two virtual addresses are the same memory: a
// data race between a write through mapping A and a read through mapping B
// is invisible to it. What it does check here is every handle's own accesses
// against all threads' accesses through the same mapping plus the atomics'
// happens-before edges as it sees them; the sequence checks below catch what
// the mapping aliasing hides.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using test::UniqueName;

// Fewer messages under TSan (5-15x slower); enough to wrap a 4 KiB ring
// hundreds of times and to park both sides many times either way.
#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kMessages = 20'000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr std::uint64_t kMessages = 20'000;
#else
constexpr std::uint64_t kMessages = 100'000;
#endif
#else
constexpr std::uint64_t kMessages = 100'000;
#endif

// How many times the file `path` is mapped into this process right now.
int mappings_of(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) ++n;
  }
  return n;
}

// A message: producer id, sequence number, then 0..199 bytes derived from
// both, so a torn or misplaced record is seen.
std::vector<std::byte> message(std::uint32_t producer, std::uint64_t seq) {
  const std::size_t extra = static_cast<std::size_t>((seq * 37 + producer * 11) % 200);
  std::vector<std::byte> m(12 + extra);
  std::memcpy(m.data(), &producer, 4);
  std::memcpy(m.data() + 4, &seq, 8);
  for (std::size_t i = 0; i < extra; ++i) m[12 + i] = static_cast<std::byte>((seq + i + producer) & 0xffu);
  return m;
}

// Checks a received message; returns its (producer, seq) or fails.
struct Tag {
  std::uint32_t producer = 0;
  std::uint64_t seq = 0;
  bool ok = false;
};
Tag check(const std::vector<std::byte>& m) {
  Tag t;
  if (m.size() < 12) return t;
  std::memcpy(&t.producer, m.data(), 4);
  std::memcpy(&t.seq, m.data() + 4, 8);
  t.ok = m == message(t.producer, t.seq);
  return t;
}

QueueOptions options(Engine engine, Barriers barriers) {
  QueueOptions o;
  o.engine = engine;
  o.capacity_bytes = 4096;  // small: the ring wraps and both sides park often
  o.barriers = barriers;
  return o;
}

class TsanTwin : public ::testing::TestWithParam<Barriers> {};

TEST_P(TsanTwin, SpscProducerAndConsumerThreadsThroughTwoMappingsDeliverEveryMessageInOrder) {
  UniqueName name;
  Queue creator = test::create_or_throw(name, options(Engine::spsc, GetParam()));
  Queue producer = test::open_or_throw(name, Role::producer);
  Queue consumer = test::open_or_throw(name, Role::consumer);
  ASSERT_EQ(mappings_of(name.path()), 3) << "each handle must be its own mapping";

  std::thread put_thread([&] {
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      const auto m = message(0, i);
      if (producer.put(m) != PutStatus::ok) {
        ADD_FAILURE() << "put " << i << " failed";
        return;
      }
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t bad = 0;
  std::thread get_thread([&] {
    std::vector<std::byte> m;
    while (expected < kMessages) {
      if (consumer.get_into(m) != GetStatus::ok) {
        ++bad;
        return;
      }
      const Tag t = check(m);
      if (!t.ok || t.producer != 0 || t.seq != expected) {
        ++bad;
        return;
      }
      ++expected;
    }
  });
  put_thread.join();
  get_thread.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(expected, kMessages);
  EXPECT_TRUE(consumer.empty());
}

// Two producer and two consumer threads, each with its own mapping, on a
// many-producer engine.
void expect_two_by_two_deliver_everything_once(Engine engine, Barriers barriers) {
  constexpr std::uint32_t kProducers = 2;
  constexpr std::uint32_t kConsumers = 2;
  UniqueName name;
  Queue creator = test::create_or_throw(name, options(engine, barriers));
  std::vector<Queue> producers;
  std::vector<Queue> consumers;
  for (std::uint32_t i = 0; i < kProducers; ++i) producers.push_back(test::open_or_throw(name));
  for (std::uint32_t i = 0; i < kConsumers; ++i) consumers.push_back(test::open_or_throw(name));
  ASSERT_EQ(mappings_of(name.path()), static_cast<int>(1 + kProducers + kConsumers));

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < kMessages; ++i) {
        if (producers[p].put(message(p, i)) != PutStatus::ok) {
          ADD_FAILURE() << "producer " << p << " put " << i << " failed";
          return;
        }
      }
    });
  }
  // Each consumer records what it got; a consumer sees one producer's
  // messages in that producer's order (the ring is FIFO and one consumer
  // reads in ring order), and together they see each exactly once.
  std::vector<std::vector<std::vector<std::uint64_t>>> got(kConsumers,
                                                           std::vector<std::vector<std::uint64_t>>(kProducers));
  std::vector<std::uint64_t> bad(kConsumers, 0);
  std::vector<std::thread> readers;
  for (std::uint32_t c = 0; c < kConsumers; ++c) {
    readers.emplace_back([&, c] {
      std::vector<std::byte> m;
      for (;;) {
        const GetStatus s = consumers[c].get_into(m);
        if (s == GetStatus::closed) return;
        const Tag t = s == GetStatus::ok ? check(m) : Tag{};
        if (!t.ok || t.producer >= kProducers) {
          ++bad[c];
          return;
        }
        auto& seen = got[c][t.producer];
        if (!seen.empty() && seen.back() >= t.seq) ++bad[c];
        seen.push_back(t.seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  // Every message is in the ring or taken; close lets the consumers drain
  // what is left and then return closed.
  creator.close();
  for (auto& t : readers) t.join();

  for (std::uint32_t c = 0; c < kConsumers; ++c) EXPECT_EQ(bad[c], 0u) << "consumer " << c;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    std::vector<std::uint8_t> count(kMessages, 0);
    for (std::uint32_t c = 0; c < kConsumers; ++c) {
      for (std::uint64_t s : got[c][p]) {
        ASSERT_LT(s, kMessages);
        ++count[static_cast<std::size_t>(s)];
      }
    }
    std::uint64_t missing = 0;
    std::uint64_t duplicated = 0;
    for (std::uint8_t n : count) {
      missing += n == 0;
      duplicated += n > 1;
    }
    EXPECT_EQ(missing, 0u) << "producer " << p;
    EXPECT_EQ(duplicated, 0u) << "producer " << p;
  }
}

TEST_P(TsanTwin, MpmcTwoProducerAndTwoConsumerThreadsEachWithItsOwnMappingDeliverEveryMessageOnce) {
  expect_two_by_two_deliver_everything_once(Engine::mpmc, GetParam());
}

// The lane engine: each producer thread writes its own lane; the consumers
// copy a record and then race for it with the CAS on the lane's head.
TEST_P(TsanTwin, LanesTwoProducerAndTwoConsumerThreadsEachWithItsOwnMappingDeliverEveryMessageOnce) {
  expect_two_by_two_deliver_everything_once(Engine::lanes, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Barriers, TsanTwin, ::testing::Values(Barriers::fences, Barriers::asymmetric),
                         [](const ::testing::TestParamInfo<Barriers>& p) {
                           return std::string(p.param == Barriers::fences ? "Fences" : "Asymmetric");
                         });

}  // namespace
}  // namespace shmring
