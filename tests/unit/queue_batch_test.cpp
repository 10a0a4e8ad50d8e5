// put_many / get_many on every engine: order, sizes, limits (max_messages,
// too_large, a full ring, closed), waiting for the first message, a
// JoinableQueue's tasks, and a forked producer and consumer streaming in
// batches.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"
#include "queue_helpers.hpp"
#include "shmring/ipc/queue.hpp"

namespace shmring {
namespace {

using namespace std::chrono_literals;
using test::UniqueName;

struct Kind {
  const char* name;
  QueueOptions options;
};

const Kind kKinds[] = {
    {"Spsc", {.engine = Engine::spsc, .capacity_bytes = 16 << 10}},
    {"SpscFixed", {.engine = Engine::spsc, .capacity_bytes = 16 << 10, .message_size = 16}},
    {"Mpmc", {.engine = Engine::mpmc, .capacity_bytes = 16 << 10}},
    {"Lanes", {.engine = Engine::lanes, .capacity_bytes = 16 << 10}},
};

class QueueBatch : public testing::TestWithParam<Kind> {
 protected:
  [[nodiscard]] bool fixed() const { return GetParam().options.message_size != 0; }
  // Message i: its number in text, padded to 16 bytes on a fixed-size queue,
  // else to a length that varies with i.
  [[nodiscard]] std::string message(std::size_t i) const {
    std::string m = std::to_string(i) + ":";
    m.resize(fixed() ? 16 : m.size() + i % 97, 'x');
    return m;
  }
  [[nodiscard]] static std::vector<std::span<const std::byte>> spans(const std::vector<std::string>& texts) {
    std::vector<std::span<const std::byte>> out;
    for (const std::string& t : texts) out.push_back(std::as_bytes(std::span<const char>(t.data(), t.size())));
    return out;
  }
};

TEST_P(QueueBatch, ManyInManyOutInOrder) {
  UniqueName name("batch-order");
  Queue q = test::create_or_throw(name, GetParam().options);
  MessageBatch batch;
  std::size_t next_put = 0, next_get = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> texts;
    for (int k = 0; k < 1 + round % 40; ++k) texts.push_back(message(next_put++));
    const PutManyResult r = q.put_many(spans(texts), nowait);
    ASSERT_EQ(r.status, PutStatus::ok) << to_string(r.status);
    ASSERT_EQ(r.count, texts.size());
    while (next_get < next_put) {
      batch.clear();
      ASSERT_EQ(q.get_many(batch, 7, nowait), GetStatus::ok);
      ASSERT_GE(batch.size(), 1u);
      ASSERT_LE(batch.size(), 7u);
      for (std::size_t i = 0; i < batch.size(); ++i) ASSERT_EQ(batch.text(i), message(next_get++));
    }
  }
  batch.clear();
  EXPECT_EQ(q.get_many(batch, 10, nowait), GetStatus::empty);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(q.get_many(batch, 0, nowait), GetStatus::ok) << "zero asked, zero given";
}

TEST_P(QueueBatch, PutManyStopsWhereTheRingIsFullOrAMessageCannotGo) {
  UniqueName name("batch-limits");
  Queue q = test::create_or_throw(name, GetParam().options);
  std::vector<std::string> texts;
  for (int i = 0; i < 5000; ++i) texts.push_back(message(static_cast<std::size_t>(i)));
  const PutManyResult r = q.put_many(spans(texts), nowait);
  EXPECT_EQ(r.status, PutStatus::full);
  EXPECT_GT(r.count, 0u);
  EXPECT_LT(r.count, texts.size());
  EXPECT_EQ(q.qsize(), r.count);
  // Everything put is there, in order.
  MessageBatch batch;
  std::size_t got = 0;
  while (q.get_many(batch, 1000, nowait) == GetStatus::ok) {
  }
  for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch.text(i), texts[got++]);
  EXPECT_EQ(got, r.count);
  // A message that cannot go stops the run there.
  const std::string bad(fixed() ? 17 : static_cast<std::size_t>(q.max_message()) + 1, 'b');
  const std::vector<std::string> mixed = {message(0), message(1), bad, message(3)};
  const PutManyResult m = q.put_many(spans(mixed), nowait);
  EXPECT_EQ(m.count, 2u);
  EXPECT_EQ(m.status, fixed() ? PutStatus::wrong_size : PutStatus::too_large);
  q.close();
  EXPECT_EQ(q.put_many(spans(mixed), nowait).status, PutStatus::closed);
  batch.clear();
  EXPECT_EQ(q.get_many(batch, 10, nowait), GetStatus::ok);
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_EQ(q.get_many(batch, 10, nowait), GetStatus::closed);
}

TEST_P(QueueBatch, GetManyWaitsForTheFirstMessageOnly) {
  UniqueName name("batch-wait");
  Queue q = test::create_or_throw(name, GetParam().options);
  MessageBatch batch;
  EXPECT_EQ(q.get_many(batch, 5, 30ms), GetStatus::empty);
  Queue producer = test::open_or_throw(name);
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(producer.put(message(1)), PutStatus::ok);
  });
  EXPECT_EQ(q.get_many(batch, 5, 5s), GetStatus::ok);
  t.join();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.text(0), message(1));
}

TEST_P(QueueBatch, JoinableQueueCountsATaskPerMessage) {
  UniqueName name("batch-joinable");
  JoinableQueue q = test::create_or_throw<JoinableQueue>(name, GetParam().options);
  const std::vector<std::string> texts = {message(0), message(1), message(2)};
  ASSERT_EQ(q.put_many(spans(texts)).count, 3u);
  EXPECT_EQ(q.unfinished_tasks(), 3u);
  MessageBatch batch;
  ASSERT_EQ(q.get_many(batch, 10), GetStatus::ok);
  for (std::size_t i = 0; i < batch.size(); ++i) ASSERT_EQ(q.task_done(), TaskDoneStatus::ok);
  EXPECT_EQ(q.join(nowait), batch.size() == 3 ? JoinStatus::done : JoinStatus::timed_out);
}

// A forked producer puts 200,000 messages in runs of 64, the parent takes
// them in runs of up to 100: all there, in order.
TEST_P(QueueBatch, ForkedProducerAndConsumerStreamInBatches) {
  UniqueName name("batch-stream");
  Queue q = test::create_or_throw(name, GetParam().options);
  constexpr std::size_t kCount = 200'000;
  test::Child producer = test::fork_child([&](int) {
    Queue p = test::open_or_throw(name, Role::producer);
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < kCount;) {
      texts.clear();
      for (std::size_t k = 0; k < 64 && i < kCount; ++k) texts.push_back(message(i++));
      if (p.put_many(spans(texts)).status != PutStatus::ok) return 1;
    }
    return 0;
  });
  MessageBatch batch;
  std::size_t next = 0;
  while (next < kCount) {
    batch.clear();
    ASSERT_EQ(q.get_many(batch, 100, 30s), GetStatus::ok);
    for (std::size_t i = 0; i < batch.size(); ++i) ASSERT_EQ(batch.text(i), message(next++));
  }
  EXPECT_EQ(producer.wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, QueueBatch, testing::ValuesIn(kKinds),
                         [](const testing::TestParamInfo<Kind>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace shmring
