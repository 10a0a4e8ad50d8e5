// SpscRing in one process: edge cases set up by writing the layout's indices
// directly, corruption reported as a status, crash repair of the counts.
#include "shmring/engine/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "traffic.hpp"

namespace shmring {
namespace {

constexpr std::uint64_t kCapacity = 4096;

struct RingFixture : ::testing::Test {
  alignas(128) SpscRingLayout layout{};
  alignas(128) std::byte data[kCapacity]{};
  SpscRing producer{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  SpscRing consumer{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};

  void SetUp() override { attach(); }
  void attach() {
    SpscRing::initialize(layout);
    ASSERT_TRUE(producer.attach_producer());
    ASSERT_TRUE(consumer.attach_consumer());
  }
  // Moves both positions to `pos` as if that many bytes had streamed through.
  void place_at(std::uint64_t pos, std::uint64_t count = 0) {
    layout.producer.tail.store(pos);
    layout.consumer.head.store(pos);
    layout.producer.put_count.store(count);
    layout.consumer.get_count.store(count);
    ASSERT_TRUE(producer.attach_producer());
    ASSERT_TRUE(consumer.attach_consumer());
  }
  static std::vector<std::byte> bytes(std::size_t n, unsigned char fill) {
    return std::vector<std::byte>(n, std::byte{fill});
  }
  RecordHeader header_at(std::uint64_t offset) const {
    RecordHeader h;
    std::memcpy(&h, data + offset, sizeof(h));
    return h;
  }
  void write_header_at(std::uint64_t offset, RecordHeader h) { std::memcpy(data + offset, &h, sizeof(h)); }
};

TEST_F(RingFixture, EmptyRingReportsEmpty) {
  EXPECT_EQ(consumer.front().status, RingStatus::empty);
  EXPECT_EQ(consumer.message_count(), 0u);
}

TEST_F(RingFixture, PushedBytesComeBackUnchanged) {
  const auto msg = bytes(100, 0xab);
  ASSERT_EQ(producer.try_push(msg), RingStatus::ok);
  const RingView v = consumer.front();
  ASSERT_EQ(v.status, RingStatus::ok);
  ASSERT_EQ(v.bytes.size(), 100u);
  EXPECT_EQ(std::memcmp(v.bytes.data(), msg.data(), 100), 0);
  consumer.pop();
  EXPECT_EQ(consumer.front().status, RingStatus::empty);
  EXPECT_EQ(layout.consumer.head.load(), record_size(100));
  EXPECT_EQ(layout.consumer.get_count.load(), 1u);
}

TEST_F(RingFixture, ZeroLengthMessageIsAMessage) {
  ASSERT_EQ(producer.try_push(std::span<const std::byte>{}), RingStatus::ok);
  const RingView v = consumer.front();
  ASSERT_EQ(v.status, RingStatus::ok);
  EXPECT_EQ(v.bytes.size(), 0u);
}

TEST_F(RingFixture, RecordThatWouldStraddleTheEndIsPrecededByPadding) {
  place_at(kCapacity - 16, 7);  // 16 bytes left before the end
  ASSERT_EQ(producer.try_push(bytes(32, 1)), RingStatus::ok);
  const RecordHeader pad = header_at(kCapacity - 16);
  EXPECT_EQ(pad.length, kPaddingFlag | 8u);
  const RecordHeader rec = header_at(0);
  EXPECT_EQ(rec.length, 32u);
  EXPECT_EQ(rec.seq, 7u);
  EXPECT_EQ(layout.producer.tail.load(), kCapacity + record_size(32));
  const RingView v = consumer.front();
  ASSERT_EQ(v.status, RingStatus::ok);
  EXPECT_EQ(v.bytes.data(), data + sizeof(RecordHeader));
  consumer.pop();
  EXPECT_EQ(layout.consumer.head.load(), kCapacity + record_size(32));
}

TEST_F(RingFixture, RecordThatFitsExactlyAtTheEndNeedsNoPadding) {
  place_at(kCapacity - record_size(8));
  ASSERT_EQ(producer.try_push(std::uint64_t{42}), RingStatus::ok);
  EXPECT_EQ(layout.producer.tail.load(), kCapacity);
  std::uint64_t out = 0;
  ASSERT_EQ(consumer.try_pop(out), RingStatus::ok);
  EXPECT_EQ(out, 42u);
}

TEST_F(RingFixture, FullWhenBytesRunOutAndFreeAgainAfterPop) {
  const std::uint64_t payload = 1000;  // record 1008: four fit in 4096
  for (int i = 0; i < 4; ++i) ASSERT_EQ(producer.try_push(bytes(payload, 2)), RingStatus::ok) << i;
  EXPECT_EQ(producer.try_push(bytes(payload, 2)), RingStatus::full);
  EXPECT_FALSE(producer.producer_can_claim(payload));
  ASSERT_EQ(consumer.front().status, RingStatus::ok);
  consumer.pop();
  EXPECT_TRUE(producer.producer_can_claim(payload));
  EXPECT_EQ(producer.try_push(bytes(payload, 2)), RingStatus::ok);
}

TEST_F(RingFixture, PaddingCountsAgainstFreeSpace) {
  // A 2008-byte record at 1024..3032 leaves 2088 bytes free, enough for a
  // 2048-byte record in total, but not in one piece: it cannot go at the end
  // (1064 bytes) and at offset 0 it would run into head (1024).
  place_at(1024);
  ASSERT_EQ(producer.try_push(bytes(2000, 3)), RingStatus::ok);
  EXPECT_EQ(producer.try_push(bytes(2040, 3)), RingStatus::full);
  ASSERT_EQ(consumer.front().status, RingStatus::ok);
  consumer.pop();
  EXPECT_EQ(producer.try_push(bytes(2040, 3)), RingStatus::ok);
}

TEST_F(RingFixture, MessageCountLimitMakesRingFullBeforeBytesDo) {
  SpscRing limited_p{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 3};
  SpscRing limited_c{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 3};
  ASSERT_TRUE(limited_p.attach_producer());
  ASSERT_TRUE(limited_c.attach_consumer());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limited_p.try_push(std::uint8_t{1}), RingStatus::ok);
  EXPECT_EQ(limited_p.try_push(std::uint8_t{1}), RingStatus::full);
  EXPECT_EQ(limited_p.message_count(), 3u);
  std::uint8_t v = 0;
  ASSERT_EQ(limited_c.try_pop(v), RingStatus::ok);
  EXPECT_EQ(limited_p.try_push(std::uint8_t{1}), RingStatus::ok);
}

TEST_F(RingFixture, LargestMessageFitsAtAnyOffsetOfAnEmptyRing) {
  const std::uint64_t largest = SpscRing::max_payload_for(kCapacity);
  for (std::uint64_t pos = 0; pos < 2 * kCapacity; pos += 8 * 37) {
    place_at(pos);
    ASSERT_EQ(producer.try_push(bytes(largest, 4)), RingStatus::ok) << "at " << pos;
  }
  EXPECT_EQ(producer.try_push(bytes(largest + 1, 4)), RingStatus::too_large);
}

TEST_F(RingFixture, CommitMayShrinkTheClaim) {
  RingClaim c = producer.claim(500);
  ASSERT_EQ(c.status, RingStatus::ok);
  ASSERT_EQ(c.bytes.size(), 500u);
  std::memset(c.bytes.data(), 7, 10);
  producer.commit(10);
  const RingView v = consumer.front();
  ASSERT_EQ(v.status, RingStatus::ok);
  EXPECT_EQ(v.bytes.size(), 10u);
  EXPECT_EQ(layout.producer.tail.load(), record_size(10));
}

TEST_F(RingFixture, TypedPopOfAnotherSizeLeavesTheMessageQueued) {
  ASSERT_EQ(producer.try_push(std::uint32_t{5}), RingStatus::ok);
  std::uint64_t wrong = 0;
  EXPECT_EQ(consumer.try_pop(wrong), RingStatus::wrong_size);
  std::uint32_t right = 0;
  EXPECT_EQ(consumer.try_pop(right), RingStatus::ok);
  EXPECT_EQ(right, 5u);
}

TEST_F(RingFixture, FifoOrderAndContentAcrossManyWraps) {
  test::Traffic t{99, 1, 1500};
  std::mt19937_64 rng(7);
  std::uint64_t put = 0, got = 0;
  std::vector<std::byte> buf(1500);
  while (got < 20000) {
    // Random bursts on each side keep the ring at every fill level.
    for (auto n = rng() % 6; n > 0; --n) {
      const std::uint32_t size = t.size_of(put);
      RingClaim c = producer.claim(size);
      if (c.status == RingStatus::full) break;
      ASSERT_EQ(c.status, RingStatus::ok);
      t.fill(put, c.bytes);
      producer.commit(size);
      ++put;
    }
    for (auto n = rng() % 6; n > 0; --n) {
      const RingView v = consumer.front();
      if (v.status == RingStatus::empty) break;
      ASSERT_EQ(v.status, RingStatus::ok);
      ASSERT_TRUE(t.check(got, v.bytes)) << "message " << got;
      consumer.pop();
      ++got;
    }
  }
  EXPECT_GT(layout.producer.tail.load(), 1000 * kCapacity);  // many wraps
}

TEST_F(RingFixture, CorruptLengthIsReportedNotFollowed) {
  ASSERT_EQ(producer.try_push(bytes(16, 1)), RingStatus::ok);
  write_header_at(0, RecordHeader{5000, 0});  // longer than the ring
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
}

TEST_F(RingFixture, RecordLongerThanWhatWasPublishedIsCorrupt) {
  ASSERT_EQ(producer.try_push(bytes(16, 1)), RingStatus::ok);
  write_header_at(0, RecordHeader{64, 0});  // claims bytes beyond tail
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
}

TEST_F(RingFixture, OutOfOrderSequenceNumberIsCorrupt) {
  ASSERT_EQ(producer.try_push(bytes(16, 1)), RingStatus::ok);
  write_header_at(0, RecordHeader{16, 9});
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
}

TEST_F(RingFixture, PaddingOfTheWrongLengthIsCorrupt) {
  place_at(kCapacity - 16);
  ASSERT_EQ(producer.try_push(bytes(32, 1)), RingStatus::ok);
  write_header_at(kCapacity - 16, RecordHeader{kPaddingFlag | 200u, 0});
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
}

TEST_F(RingFixture, TailBehindHeadIsCorrupt) {
  ASSERT_EQ(producer.try_push(bytes(16, 1)), RingStatus::ok);
  layout.producer.tail.store(8);
  layout.consumer.head.store(64);
  ASSERT_FALSE(consumer.attach_consumer());
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
}

TEST_F(RingFixture, TailMoreThanACapacityAheadIsCorrupt) {
  layout.producer.tail.store(kCapacity + 64);
  EXPECT_EQ(consumer.front().status, RingStatus::corrupt);
  EXPECT_FALSE(producer.attach_producer());
}

TEST_F(RingFixture, NewConsumerRedeliversTheMessageOfAConsumerThatDiedBetweenItsStores) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(producer.try_push(std::uint64_t(i)), RingStatus::ok);
  ASSERT_EQ(consumer.front().status, RingStatus::ok);
  layout.consumer.get_count.store(1);  // the dying consumer stored get_count, not head
  SpscRing next{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  ASSERT_TRUE(next.attach_consumer());
  EXPECT_EQ(layout.consumer.get_count.load(), 0u);
  EXPECT_EQ(next.message_count(), 3u);
  std::uint64_t v = 9;
  ASSERT_EQ(next.try_pop(v), RingStatus::ok);
  EXPECT_EQ(v, 0u);  // the message it was taking is delivered again
}

TEST_F(RingFixture, NewConsumerIsNotFooledByAProducerBetweenItsStores) {
  // The live producer published record 2 (tail) but not yet its put_count;
  // the old consumer took all three and died. The new consumer must take its
  // count from get_count, not from the lagging put_count.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(producer.try_push(std::uint64_t(i)), RingStatus::ok);
  std::uint64_t v = 0;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(consumer.try_pop(v), RingStatus::ok);
  layout.producer.put_count.store(2);
  SpscRing next{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  ASSERT_TRUE(next.attach_consumer());
  EXPECT_EQ(layout.consumer.get_count.load(), 3u);
  ASSERT_EQ(producer.try_push(std::uint64_t{3}), RingStatus::ok);
  ASSERT_EQ(next.try_pop(v), RingStatus::ok);
  EXPECT_EQ(v, 3u);
}

TEST_F(RingFixture, NewProducerOfAnEmptyRingContinuesFromTheConsumersCount) {
  // The old producer stored tail for message 2 but died before put_count;
  // the consumer took everything. The next message must be numbered 3.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(producer.try_push(std::uint64_t(i)), RingStatus::ok);
  std::uint64_t v = 0;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(consumer.try_pop(v), RingStatus::ok);
  layout.producer.put_count.store(2);
  SpscRing next{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  ASSERT_TRUE(next.attach_producer());
  EXPECT_EQ(layout.producer.put_count.load(), 3u);
  ASSERT_EQ(next.try_push(std::uint64_t{3}), RingStatus::ok);
  ASSERT_EQ(consumer.try_pop(v), RingStatus::ok);
  EXPECT_EQ(v, 3u);
}

TEST_F(RingFixture, PopWithoutAViewAndCommitWithoutAClaimDoNothing) {
  consumer.pop();      // nothing was read
  producer.commit(8);  // nothing was claimed
  EXPECT_EQ(layout.consumer.get_count.load(), 0u);
  EXPECT_EQ(layout.producer.tail.load(), 0u);
  ASSERT_EQ(producer.try_push(std::uint64_t{1}), RingStatus::ok);
  producer.commit(8);  // the claim was already committed
  std::uint64_t v = 0;
  ASSERT_EQ(consumer.try_pop(v), RingStatus::ok);
  consumer.pop();  // the view was already released
  EXPECT_EQ(consumer.front().status, RingStatus::empty);
  EXPECT_EQ(layout.consumer.get_count.load(), 1u);
  EXPECT_EQ(layout.producer.put_count.load(), 1u);
}

TEST_F(RingFixture, NewProducerRepairsCountOfAProducerThatDiedBetweenItsStores) {
  place_at(kCapacity - 24, 100);  // so the walk crosses a padding record
  for (int i = 0; i < 3; ++i) ASSERT_EQ(producer.try_push(std::uint64_t(i)), RingStatus::ok);
  layout.producer.put_count.store(102);  // the dying producer stored tail but not put_count
  SpscRing next{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  ASSERT_TRUE(next.attach_producer());
  EXPECT_EQ(layout.producer.put_count.load(), 103u);
  ASSERT_EQ(next.try_push(std::uint64_t{3}), RingStatus::ok);
  std::uint64_t v = 0;
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(consumer.try_pop(v), RingStatus::ok) << i;
    EXPECT_EQ(v, i);
  }
}

TEST_F(RingFixture, NewProducerRejectsARecordWalkThatLeavesTheRing) {
  ASSERT_EQ(producer.try_push(bytes(16, 1)), RingStatus::ok);
  write_header_at(0, RecordHeader{900, 0});
  SpscRing next{layout, data, kCapacity, SpscRing::max_payload_for(kCapacity), 0};
  EXPECT_FALSE(next.attach_producer());
}

// The catch-up patience waits only once two reloads in a row each found
// several messages, and a reload that finds nothing or a single message ends
// that at once: a request-response consumer never waits.
TEST(CatchUpPatience, WaitsOnlyAfterTwoReloadsInARowFoundSeveralMessages) {
  CatchUpPatience p;
  EXPECT_FALSE(p.waits());
  p.after_reload(true);
  EXPECT_FALSE(p.waits());
  p.after_reload(true);
  EXPECT_TRUE(p.waits());
  p.after_reload(true);
  EXPECT_TRUE(p.waits());
  p.after_reload(false);
  EXPECT_FALSE(p.waits());
  for (int i = 0; i < 4; ++i) {  // request-response: nothing, or one message
    p.after_reload(false);
    EXPECT_FALSE(p.waits());
  }
}

// The rings count "several": a consumer that finds one message at a time
// (already there when it asks) never starts to wait, one that finds two at a
// time does. Observed through the ring's own consumer state.
TEST_F(RingFixture, PatienceStartsOnlyWhenReloadsFindSeveralMessages) {
  const auto one = bytes(8, 1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(producer.try_push(std::span<const std::byte>(one)), RingStatus::ok);
    ASSERT_EQ(consumer.front().status, RingStatus::ok);
    consumer.pop();
    EXPECT_FALSE(consumer.consumer_waits_before_reload());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(producer.try_push(std::span<const std::byte>(one)), RingStatus::ok);
    ASSERT_EQ(producer.try_push(std::span<const std::byte>(one)), RingStatus::ok);
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(consumer.front().status, RingStatus::ok);
      consumer.pop();
    }
  }
  EXPECT_TRUE(consumer.consumer_waits_before_reload());
  EXPECT_EQ(consumer.front().status, RingStatus::empty);
  EXPECT_FALSE(consumer.consumer_waits_before_reload());
}

// One message at a time counts when it is large (16 KiB or more): the wait
// is small beside copying it, and a large-message stream finds one per reload.
TEST(CatchUpPatience, OneLargeMessageCountsAsStreaming) {
  EXPECT_FALSE(CatchUpPatience::streaming_find(false, 64));
  EXPECT_FALSE(CatchUpPatience::streaming_find(false, CatchUpPatience::kBulkBytes - 1));
  EXPECT_TRUE(CatchUpPatience::streaming_find(false, CatchUpPatience::kBulkBytes));
  EXPECT_TRUE(CatchUpPatience::streaming_find(true, 16));
}

TEST(SpscRingThreads, TwoThreadsStreamInOrder) {
  alignas(128) static SpscRingLayout layout{};
  static std::vector<std::byte> data(1 << 16);
  SpscRing::initialize(layout);
  SpscRing p{layout, data.data(), data.size(), 1000, 0};
  SpscRing c{layout, data.data(), data.size(), 1000, 0};
  ASSERT_TRUE(p.attach_producer());
  ASSERT_TRUE(c.attach_consumer());
  constexpr std::uint64_t kCount = 1'000'000;
  test::Traffic t{5, 1, 200};
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;) {
      RingClaim cl = p.claim(t.size_of(i));
      if (cl.status != RingStatus::ok) continue;
      t.fill(i, cl.bytes);
      p.commit(cl.bytes.size());
      ++i;
    }
  });
  std::uint64_t errors = 0;
  for (std::uint64_t i = 0; i < kCount;) {
    const RingView v = c.front();
    if (v.status == RingStatus::empty) continue;
    ASSERT_EQ(v.status, RingStatus::ok);
    if (!t.check(i, v.bytes)) ++errors;
    c.pop();
    ++i;
  }
  producer.join();
  EXPECT_EQ(errors, 0u);
}

}  // namespace
}  // namespace shmring
