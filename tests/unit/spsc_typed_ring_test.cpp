// SpscTypedRing<T>: fixed slots, positions set directly for the edge cases,
// and a stream between two real processes.
#include "shmring/engine/spsc_typed_ring.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <new>
#include <vector>

#include "process.hpp"

namespace shmring {
namespace {

constexpr std::uint64_t kSlots = 8;

struct TypedRingFixture : ::testing::Test {
  alignas(128) SpscTypedRingLayout layout{};
  alignas(128) std::byte data[kSlots * sizeof(std::uint64_t)]{};
  SpscTypedRing<std::uint64_t> producer{layout, data, kSlots};
  SpscTypedRing<std::uint64_t> consumer{layout, data, kSlots};
  void SetUp() override { place_at(0); }
  void place_at(std::uint64_t pos) {
    layout.tail.store(pos);
    layout.head.store(pos);
    ASSERT_TRUE(producer.attach_producer());
    ASSERT_TRUE(consumer.attach_consumer());
  }
};

// The slot ring's catch-up patience (CatchUpPatience, spsc_ring.hpp) starts
// only when reloads keep finding several messages: one at a time (a
// request-response consumer) never waits; two at a time twice in a row does;
// an empty reload ends it.
TEST(SlotRingPatience, StartsOnlyWhenReloadsFindSeveralMessages) {
  alignas(128) SpscTypedRingLayout layout{};
  alignas(128) std::byte data[kSlots * sizeof(std::uint64_t)]{};
  SpscSlotRing<sizeof(std::uint64_t)> producer(layout.tail, layout.head, data, kSlots);
  SpscSlotRing<sizeof(std::uint64_t)> consumer(layout.tail, layout.head, data, kSlots);
  ASSERT_TRUE(producer.attach_producer());
  ASSERT_TRUE(consumer.attach_consumer());
  std::uint64_t v = 0;
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(producer.try_push(&i, sizeof i), RingStatus::ok);
    ASSERT_TRUE(consumer.try_pop(&v));
    EXPECT_FALSE(consumer.consumer_waits_before_reload());
  }
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(producer.try_push(&i, sizeof i), RingStatus::ok);
    if (i % 2 == 1) {
      ASSERT_TRUE(consumer.try_pop(&v));
      ASSERT_TRUE(consumer.try_pop(&v));
    }
  }
  EXPECT_TRUE(consumer.consumer_waits_before_reload());
  EXPECT_FALSE(consumer.try_pop(&v));
  EXPECT_FALSE(consumer.consumer_waits_before_reload());
}

TEST_F(TypedRingFixture, EmptyRingPopsNothing) {
  std::uint64_t v = 7;
  EXPECT_FALSE(consumer.try_pop(v));
  EXPECT_EQ(v, 7u);
}

TEST_F(TypedRingFixture, FullAfterCapacityPushesAndFreeAfterAPop) {
  for (std::uint64_t i = 0; i < kSlots; ++i) ASSERT_TRUE(producer.try_push(i));
  EXPECT_FALSE(producer.try_push(99));
  EXPECT_EQ(producer.size(), kSlots);
  std::uint64_t v = 0;
  ASSERT_TRUE(consumer.try_pop(v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(producer.try_push(99));
}

TEST_F(TypedRingFixture, FifoAcrossTheWrapOfTheSlotIndex) {
  place_at((std::uint64_t{1} << 40) - 3);  // positions far along; slots wrap every 8
  std::uint64_t next_put = 0, next_get = 0;
  for (int round = 0; round < 1000; ++round) {
    for (int k = 0; k < round % 7; ++k) {
      if (producer.try_push(next_put)) ++next_put;
    }
    std::uint64_t v = 0;
    while (consumer.try_pop(v)) ASSERT_EQ(v, next_get++);
  }
  EXPECT_EQ(next_get, next_put);
  EXPECT_GT(next_put, 1000u);
}

TEST_F(TypedRingFixture, DamagedPositionsAreRefusedNotFollowed) {
  layout.tail.store(100);
  layout.head.store(50);  // 50 slots "published" in an 8-slot ring
  EXPECT_FALSE(consumer.attach_consumer());
  EXPECT_FALSE(producer.attach_producer());
  SpscTypedRing<std::uint64_t> fresh{layout, data, kSlots};
  std::uint64_t v = 0;
  EXPECT_FALSE(fresh.try_pop(v));  // head 0 vs tail 100: refused by the sanity check
}

TEST_F(TypedRingFixture, NewConsumerContinuesWhereTheDeadOneStopped) {
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(producer.try_push(i));
  std::uint64_t v = 0;
  ASSERT_TRUE(consumer.try_pop(v));
  ASSERT_TRUE(consumer.try_pop(v));
  SpscTypedRing<std::uint64_t> next{layout, data, kSlots};
  ASSERT_TRUE(next.attach_consumer());
  ASSERT_TRUE(next.try_pop(v));
  EXPECT_EQ(v, 2u);
  EXPECT_EQ(next.size(), 2u);
}

TEST(SpscTypedRingProcesses, StreamsInOrderBetweenTwoProcesses) {
  struct Pair {
    std::uint64_t seq;
    std::uint64_t check;
  };
  constexpr std::uint64_t kCapacity = 1024, kCount = 2'000'000;
  const std::size_t bytes = sizeof(SpscTypedRingLayout) + kCapacity * sizeof(Pair);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* layout = new (mem) SpscTypedRingLayout{};
  SpscTypedRing<Pair>::initialize(*layout);
  std::byte* data = static_cast<std::byte*>(mem) + sizeof(SpscTypedRingLayout);
  test::Child producer = test::fork_child([&](int) {
    SpscTypedRing<Pair> ring(*layout, data, kCapacity);
    if (!ring.attach_producer()) return 1;
    for (std::uint64_t i = 0; i < kCount;) {
      if (ring.try_push(Pair{i, ~i * 0x9e3779b97f4a7c15ULL})) ++i;
    }
    return 0;
  });
  SpscTypedRing<Pair> ring(*layout, data, kCapacity);
  ASSERT_TRUE(ring.attach_consumer());
  std::uint64_t errors = 0;
  for (std::uint64_t i = 0; i < kCount;) {
    Pair p{};
    if (!ring.try_pop(p)) continue;
    if (p.seq != i || p.check != ~i * 0x9e3779b97f4a7c15ULL) ++errors;
    ++i;
  }
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_EQ(errors, 0u);
  ::munmap(mem, bytes);
}

}  // namespace
}  // namespace shmring
