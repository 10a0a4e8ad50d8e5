// 10^8 messages through one many-producer queue (the MPMC ring, the lane
// engine): 4 producer and 4 consumer processes,
// every message tagged (producer, index) and checked for size and content;
// each consumer checks each producer's indices increase; the consumers'
// tallies together must hold every index of every producer exactly once.
// SHMRING_STRESS_MESSAGES changes the total (default 100,000,000).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/queue.hpp"
#include "traffic_run.hpp"

namespace shmring {
namespace {

class ManyStress : public testing::TestWithParam<Engine> {};

TEST_P(ManyStress, HundredMillionMessagesFourProducersFourConsumersZeroErrors) {
  constexpr std::uint32_t kProducers = 4, kConsumers = 4;
  const char* env = std::getenv("SHMRING_STRESS_MESSAGES");
  const std::uint64_t total_wanted = env ? std::strtoull(env, nullptr, 10) : 100'000'000ull;
  const std::uint64_t each = total_wanted / kProducers;
  const test::Traffic traffic{2026, 8, 64};
  test::UniqueName name("many-stress");
  Queue q = test::create_or_throw(name, {.engine = GetParam(), .capacity_bytes = 1 << 20});
  const char* engine = GetParam() == Engine::lanes ? "lanes" : "mpmc";
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<test::Child> producers, consumers;
  for (std::uint32_t i = 0; i < kConsumers; ++i) {
    consumers.push_back(test::fork_child([&](int out) {
      Queue c = test::open_or_throw(name, Role::consumer);
      test::write_line(out, test::run_tagged_consumer(c, traffic).to_line());
      return 0;
    }));
  }
  for (std::uint32_t i = 0; i < kProducers; ++i) {
    producers.push_back(test::fork_child([&, i](int) {
      Queue p = test::open_or_throw(name, Role::producer);
      return test::run_tagged_producer(p, traffic, i, each).messages == each ? 0 : 1;
    }));
  }
  for (test::Child& p : producers) EXPECT_EQ(p.wait(std::chrono::seconds(1800)), 0);
  q.close();
  test::Tally total;
  for (test::Child& c : consumers) {
    const std::string line = c.read_line(std::chrono::seconds(1800));
    const test::Tally t = test::Tally::from_line(line);
    EXPECT_STREQ(t.stopped, "closed") << line.substr(0, 80);
    total.add(t);
    EXPECT_EQ(c.wait(), 0);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool once = test::exactly_once(total, kProducers, each);
  std::printf(
      "%s stress: %u producers x %llu messages (8-64 B), %u consumers: %llu received in %.1f s "
      "(%.2f M msgs/s); errors %llu, out of order %llu, exactly once: %s\n",
      engine, kProducers, static_cast<unsigned long long>(each), kConsumers,
      static_cast<unsigned long long>(total.messages), seconds, static_cast<double>(total.messages) / seconds / 1e6,
      static_cast<unsigned long long>(total.errors), static_cast<unsigned long long>(total.reordered),
      once ? "yes" : "NO");
  std::printf("repairs: %llu claims, %llu reads (there are no deaths here: must be 0)\n",
              static_cast<unsigned long long>(q.claims_repaired()), static_cast<unsigned long long>(q.reads_lost()));
  EXPECT_EQ(q.claims_repaired(), 0u) << "a live producer was taken for dead";
  EXPECT_EQ(q.reads_lost(), 0u) << "a live consumer was taken for dead";
  EXPECT_EQ(total.messages, each * kProducers);
  EXPECT_EQ(total.errors, 0u);
  EXPECT_EQ(total.reordered, 0u);
  EXPECT_TRUE(once);
}

INSTANTIATE_TEST_SUITE_P(Engines, ManyStress, testing::Values(Engine::mpmc, Engine::lanes),
                         [](const testing::TestParamInfo<Engine>& i) {
                           return std::string(i.param == Engine::lanes ? "Lanes" : "Mpmc");
                         });

}  // namespace
}  // namespace shmring
