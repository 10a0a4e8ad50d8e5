// MpmcRing in one process: each handle is one participant, as each process's
// handle is in real use. Edge cases (wrap, padding, full, maxsize), crash
// repairs set up by abandoning a handle mid-operation, corruption reported as
// a status, and threads hammering one ring with every message checked.
#include "shmring/engine/mpmc_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace shmring {
namespace {

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint64_t kKey = 0x5eed'1234'abcd'0001ull;

struct MpmcFixture : ::testing::Test {
  alignas(128) MpmcRingLayout layout{};
  std::unique_ptr<std::byte[]> storage{new std::byte[kCapacity + 128]{}};
  std::byte* data = storage.get() + (128 - reinterpret_cast<std::uintptr_t>(storage.get()) % 128) % 128;
  std::set<std::uint64_t> dead;  // tokens "proven dead"

  void SetUp() override { MpmcRing::initialize(layout, data, kKey); }

  // A participant with owner token `token`; maxsize 0: no count limit.
  std::unique_ptr<MpmcRing> participant(std::uint64_t token, std::uint64_t maxsize = 0) {
    auto r = std::make_unique<MpmcRing>(layout, data, kCapacity, MpmcRing::max_payload_for(kCapacity), maxsize);
    EXPECT_TRUE(r->attach(token, 0, [&](std::uint64_t t) { return dead.count(t) != 0; }));
    return r;
  }

  static bool put(MpmcRing& r, std::uint64_t value, std::size_t size = 8) {
    const MpmcClaim c = r.claim(size);
    if (c.status != RingStatus::ok) return false;
    std::memset(c.bytes.data(), 0, size);
    std::memcpy(c.bytes.data(), &value, sizeof(value) < size ? sizeof(value) : size);
    r.commit(size);
    return true;
  }
  // The next message's first 8 bytes; nullopt when none is ready.
  static std::optional<std::uint64_t> get(MpmcRing& r, std::size_t* size = nullptr) {
    const MpmcView v = r.front();
    if (v.status != RingStatus::ok) return std::nullopt;
    std::uint64_t value = 0;
    std::memcpy(&value, v.bytes.data(), v.bytes.size() < 8 ? v.bytes.size() : 8);
    if (size != nullptr) *size = v.bytes.size();
    r.pop();
    return value;
  }
};

TEST_F(MpmcFixture, EmptyRingReportsEmptyWithNobodyToBlame) {
  auto c = participant(2);
  const MpmcView v = c->front();
  EXPECT_EQ(v.status, RingStatus::empty);
  EXPECT_EQ(v.blocker.owner, kNoOwner);
  EXPECT_EQ(c->message_count(), 0u);
}

TEST_F(MpmcFixture, MessagesOfEverySizeComeBackInOrderAcrossManyWraps) {
  auto p = participant(1);
  auto c = participant(2);
  std::mt19937_64 rng(7);
  std::uint64_t next_put = 0, next_get = 0;
  std::vector<std::size_t> sizes;
  for (int round = 0; round < 20000; ++round) {
    const auto size = static_cast<std::size_t>(8 + rng() % 300);
    if (put(*p, next_put, size)) {
      sizes.push_back(size);
      ++next_put;
    }
    if (rng() % 3 != 0) {
      std::size_t got_size = 0;
      if (auto v = get(*c, &got_size)) {
        ASSERT_EQ(*v, next_get);
        ASSERT_EQ(got_size, sizes[static_cast<std::size_t>(next_get)]);
        ++next_get;
      }
    }
  }
  while (auto v = get(*c)) ASSERT_EQ(*v, next_get++);
  EXPECT_EQ(next_get, next_put);
  EXPECT_GT(next_put, 10000u);
  EXPECT_EQ(c->message_count(), 0u);
}

TEST_F(MpmcFixture, FullRingRefusesUntilAConsumerReleases) {
  auto p = participant(1);
  auto c = participant(2);
  std::uint64_t n = 0;
  while (put(*p, n, 100)) ++n;
  EXPECT_EQ(p->claim(100).status, RingStatus::full);
  EXPECT_EQ(p->message_count(), n);
  EXPECT_GT(n, 20u);
  ASSERT_EQ(get(*c), std::optional<std::uint64_t>(0));
  EXPECT_TRUE(put(*p, n, 100));
}

TEST_F(MpmcFixture, MaxMessagesCountsMessagesNotBytes) {
  auto p = participant(1, 3);
  auto c = participant(2, 3);
  EXPECT_TRUE(put(*p, 0));
  EXPECT_TRUE(put(*p, 1));
  EXPECT_TRUE(put(*p, 2));
  EXPECT_EQ(p->claim(8).status, RingStatus::full);
  ASSERT_EQ(get(*c), std::optional<std::uint64_t>(0));
  EXPECT_TRUE(put(*p, 3));
  EXPECT_EQ(p->claim(8).status, RingStatus::full);
  EXPECT_EQ(c->message_count(), 3u);
}

TEST_F(MpmcFixture, ARecordStillBeingWrittenIsNotQueuedYetButHoldsItsPlaceUnderMaxsize) {
  auto p = participant(1, 1);
  auto other = participant(3, 1);
  ASSERT_EQ(p->claim(8).status, RingStatus::ok);  // claimed, not committed
  EXPECT_EQ(p->message_count(), 0u) << "qsize counts messages, not puts in progress";
  EXPECT_EQ(other->claim(8).status, RingStatus::full) << "maxsize 1 counts the put in progress";
  p->commit(8);
  EXPECT_EQ(p->message_count(), 1u);
}

TEST_F(MpmcFixture, ShortCommitLeavesPaddingThatConsumersSkip) {
  auto p = participant(1);
  auto c = participant(2);
  const MpmcClaim claim = p->claim(1000);
  ASSERT_EQ(claim.status, RingStatus::ok);
  std::memset(claim.bytes.data(), 7, 10);
  p->commit(10);
  ASSERT_TRUE(put(*p, 42));
  std::size_t size = 0;
  ASSERT_TRUE(get(*c, &size).has_value());
  EXPECT_EQ(size, 10u);
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(42));
  EXPECT_EQ(c->message_count(), 0u);
}

TEST_F(MpmcFixture, TwoConsumersNeverGetTheSameMessage) {
  auto p = participant(1);
  auto a = participant(2);
  auto b = participant(3);
  ASSERT_TRUE(put(*p, 10));
  ASSERT_TRUE(put(*p, 11));
  const MpmcView va = a->front();  // a holds message 10 and has not released it
  ASSERT_EQ(va.status, RingStatus::ok);
  EXPECT_EQ(get(*b), std::optional<std::uint64_t>(11));
  EXPECT_EQ(b->front().status, RingStatus::empty);
  a->pop();
}

TEST_F(MpmcFixture, ConsumerWaitsOnAProducerMidWriteAndNamesIt) {
  auto p = participant(1);
  auto c = participant(2);
  ASSERT_EQ(p->claim(8).status, RingStatus::ok);
  const MpmcView v = c->front();
  EXPECT_EQ(v.status, RingStatus::empty);
  EXPECT_EQ(v.blocker.owner, p->index());
  p->commit(8);
  EXPECT_EQ(c->front().status, RingStatus::ok);
}

TEST_F(MpmcFixture, ARecordStillBeingWrittenDoesNotHoldUpLaterProducersMessages) {
  auto slow = participant(1);
  auto p = participant(3);
  auto c = participant(2);
  ASSERT_EQ(slow->claim(64).status, RingStatus::ok);  // claimed, not yet committed
  ASSERT_TRUE(put(*p, 2));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(2)) << "taken past the unfinished record";
  const MpmcView v = c->front();
  EXPECT_EQ(v.status, RingStatus::empty);
  EXPECT_EQ(v.blocker.owner, slow->index());
  slow->commit(8);
  EXPECT_TRUE(get(*c).has_value());
  EXPECT_EQ(c->message_count(), 0u);
}

TEST_F(MpmcFixture, ALaterRecordOfAProducerWhoseRecordWasSkippedIsNotTakenFirst) {
  auto a = participant(1);
  auto b = participant(3);
  auto c = participant(2);
  const MpmcClaim x = a->claim(8);
  ASSERT_EQ(x.status, RingStatus::ok);
  std::memset(x.bytes.data(), 0, 8);
  const std::uint64_t y_pos = layout.tail.value.load();
  ASSERT_TRUE(put(*b, 7));
  // Make the record after a's unfinished one a's own (as it would be had a
  // committed x and put y between two steps of a consumer's walk).
  auto* y = platform::layout_at<MpmcRecordHeader>(data + (y_pos & (kCapacity - 1)));
  const std::uint64_t w = y->state.load();
  y->state.store((w & ~std::uint64_t{0xff0}) | std::uint64_t{a->index()} << 4);
  const MpmcView v = c->front();
  EXPECT_EQ(v.status, RingStatus::empty) << "a's later record must wait for its earlier one";
  EXPECT_EQ(v.blocker.owner, a->index());
  a->commit(8);
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(0));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(7));
}

TEST_F(MpmcFixture, DeadProducerAfterClaimIsSkippedAndLaterMessagesFlow) {
  auto dying = participant(1);
  auto p = participant(3);
  auto c = participant(2);
  ASSERT_TRUE(put(*p, 1));
  ASSERT_EQ(dying->claim(64).status, RingStatus::ok);  // claimed, tail moved, never committed
  ASSERT_TRUE(put(*p, 2));                             // behind the dead claim
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(1));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(2));
  const MpmcView v = c->front();
  ASSERT_EQ(v.status, RingStatus::empty);
  ASSERT_EQ(v.blocker.owner, dying->index());
  ASSERT_TRUE(c->repair_producer(v.blocker));
  EXPECT_FALSE(c->repair_producer(v.blocker)) << "a second repair finds nothing to do";
  EXPECT_EQ(c->front().status, RingStatus::empty);
  EXPECT_EQ(c->front().blocker.owner, kNoOwner);
  EXPECT_EQ(c->claims_abandoned(), 1u);
  EXPECT_EQ(c->message_count(), 0u);
  EXPECT_TRUE(put(*p, 3));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(3));
}

TEST_F(MpmcFixture, DeadProducerBeforeMovingTheTailIsRepairedByAnotherProducer) {
  auto p = participant(3);
  auto c = participant(2);
  ASSERT_TRUE(put(*p, 1));
  // Simulate a producer that won the claim CAS and died before moving the
  // tail: its slot (index 77, owner token 99) names the record.
  const std::uint64_t t = layout.tail.value.load();
  auto* h = platform::layout_at<MpmcRecordHeader>(data + (t & (kCapacity - 1)));
  layout.participants[77].owner.store(99);
  const std::uint64_t empty_word = h->state.load();
  h->state.store((empty_word & ~std::uint64_t{0xfff}) | (77u << 4) | 2u);  // claimed by 77
  const MpmcClaim blocked = p->claim(8);
  ASSERT_EQ(blocked.status, RingStatus::busy);
  ASSERT_EQ(blocked.blocker.owner, 77u);
  ASSERT_TRUE(p->repair_producer(blocked.blocker));
  EXPECT_TRUE(put(*p, 2));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(1));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(2));
  EXPECT_EQ(c->message_count(), 0u);
}

TEST_F(MpmcFixture, DeadConsumerLosesOnlyTheMessageItHeldAndFreesTheRoom) {
  auto p = participant(1);
  auto dying = participant(2);
  auto c = participant(3);
  ASSERT_TRUE(put(*p, 0, 100));
  ASSERT_EQ(dying->front().status, RingStatus::ok);  // took message 0, never releases
  std::uint64_t n = 1;
  while (put(*p, n, 100)) ++n;
  const MpmcClaim full = p->claim(100);
  ASSERT_EQ(full.status, RingStatus::full);
  ASSERT_EQ(full.blocker.owner, dying->index());
  ASSERT_TRUE(p->repair_consumer(full.blocker));
  EXPECT_EQ(p->reads_lost(), 1u);
  for (std::uint64_t i = 1; i < n; ++i) ASSERT_EQ(get(*c), std::optional<std::uint64_t>(i));
  EXPECT_TRUE(put(*p, n, 100));
}

TEST_F(MpmcFixture, ASlotOfADeadParticipantIsReusedAfterItsRecordsAreRepaired) {
  auto dying = participant(5);
  auto c = participant(2);
  ASSERT_EQ(dying->claim(8).status, RingStatus::ok);
  const std::uint32_t index = dying->index();
  dead.insert(5);
  // Fill the table so the only way in is the dead participant's slot.
  for (std::uint32_t i = 0; i < kMpmcParticipants; ++i) {
    if (layout.participants[i].owner.load() != 0) continue;
    layout.participants[i].owner.store(1000 + i);
  }
  MpmcRing newcomer(layout, data, kCapacity, MpmcRing::max_payload_for(kCapacity), 0);
  ASSERT_TRUE(newcomer.attach(6, 0, [&](std::uint64_t t) { return dead.count(t) != 0; }));
  EXPECT_EQ(newcomer.index(), index);
  EXPECT_EQ(newcomer.claims_abandoned(), 1u);
  EXPECT_TRUE(put(newcomer, 9));
  EXPECT_EQ(get(*c), std::optional<std::uint64_t>(9));
  MpmcRing refused(layout, data, kCapacity, MpmcRing::max_payload_for(kCapacity), 0);
  EXPECT_FALSE(refused.attach(7, 0, [](std::uint64_t) { return false; })) << "every slot is live";
}

TEST_F(MpmcFixture, DamagedHeadRecordIsCorruptNotACrash) {
  auto p = participant(1);
  auto c = participant(2);
  ASSERT_TRUE(put(*p, 1));
  auto* h = platform::layout_at<MpmcRecordHeader>(data);
  h->meta.store(h->meta.load() | 0x7fff'0000u);  // an impossible length
  EXPECT_EQ(c->front().status, RingStatus::corrupt);
  layout.head.value.store(4096 * 7 + 16);  // a head whose header carries another tag
  EXPECT_EQ(c->front().status, RingStatus::corrupt);
}

// Four producer and four consumer threads, each its own participant; every
// message carries (producer, sequence); each consumer sees each producer's
// sequence increase, and together they see every message exactly once.
TEST_F(MpmcFixture, FourProducersFourConsumersEveryMessageExactlyOnceInProducerOrder) {
  constexpr std::size_t kProducers = 4, kConsumers = 4;
  constexpr std::uint64_t kPerProducer = 100'000;
  std::vector<std::unique_ptr<MpmcRing>> producers, consumers;
  for (std::size_t i = 0; i < kProducers; ++i) producers.push_back(participant(100 + i));
  for (std::size_t i = 0; i < kConsumers; ++i) consumers.push_back(participant(200 + i));
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::vector<std::uint64_t>> seen(kConsumers, std::vector<std::uint64_t>(kProducers, 0));
  // 32-bit counters: byte-wide atomic RMWs are libatomic calls on riscv64.
  std::unique_ptr<std::atomic<std::uint32_t>[]> got(new std::atomic<std::uint32_t>[kProducers * kPerProducer] {});
  std::atomic<bool> order_ok{true};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kProducers; ++i) {
    threads.emplace_back([&, i] {
      for (std::uint64_t s = 0; s < kPerProducer;) {
        if (put(*producers[i], std::uint64_t(i) << 56 | s, static_cast<std::size_t>(8 + s % 40))) {
          ++s;
        } else {
          std::this_thread::yield();  // 8 threads on fewer cores: let the one we wait for run
        }
      }
    });
  }
  for (std::size_t i = 0; i < kConsumers; ++i) {
    threads.emplace_back([&, i] {
      while (taken.load() < kProducers * kPerProducer) {
        if (auto v = get(*consumers[i])) {
          const auto prod = static_cast<std::size_t>(*v >> 56);
          const std::uint64_t s = *v & ((std::uint64_t{1} << 56) - 1);
          if (s + 1 <= seen[i][prod]) order_ok = false;
          seen[i][prod] = s + 1;
          got[static_cast<std::size_t>(prod * kPerProducer + s)].fetch_add(1);
          taken.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(order_ok.load());
  std::uint64_t missing = 0, duplicated = 0;
  for (std::size_t k = 0; k < kProducers * kPerProducer; ++k) {
    missing += got[k].load() == 0;
    duplicated += got[k].load() > 1;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(consumers[0]->message_count(), 0u);
}

}  // namespace
}  // namespace shmring
