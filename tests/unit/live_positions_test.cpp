// An opener's check of ring positions while the ring moves under it
// (live_positions.hpp): a sound ring in motion always passes, a damaged
// one at rest still fails. The mover is a thread of this process writing
// the same words a peer process would; what is checked is the reading order.
#include "shmring/engine/live_positions.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/engine/spsc_ring.hpp"

namespace shmring {
namespace {

constexpr std::uint64_t kChecks = 1'000'000;
constexpr std::uint64_t kMoves = 1'000'000;

// Runs `move` in a thread while `check` runs, from the mover's first move
// until both have run their count (so the two overlap all along); returns
// how many checks failed.
template <class Move, class Check>
std::uint64_t failures_while_moving(Move move, Check check) {
  std::atomic<std::uint64_t> moves{0};
  std::atomic<bool> stop{false};
  std::thread mover([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      move();
      moves.fetch_add(1, std::memory_order_relaxed);
    }
  });
  while (moves.load() == 0) std::this_thread::yield();
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < kChecks || moves.load(std::memory_order_relaxed) < kMoves; ++i) {
    if (!check()) ++failed;
  }
  stop.store(true);
  mover.join();
  return failed;
}

TEST(LivePositions, ALappingRingAlwaysReadsWithinItsSpan) {
  constexpr std::uint64_t kSpan = 64;
  std::atomic<std::uint64_t> low{0};
  std::atomic<std::uint64_t> high{0};
  // Fill, then drain: low <= high <= low + kSpan at every instant.
  const std::uint64_t failed = failures_while_moving(
      [&] {
        high.store(low.load() + kSpan);
        low.store(high.load());
      },
      [&] { return LivePositions::read(low, high).within(kSpan); });
  EXPECT_EQ(failed, 0u);
}

TEST(LivePositions, DamagedPositionsAtRestFail) {
  std::atomic<std::uint64_t> low{100};
  std::atomic<std::uint64_t> high{50};
  EXPECT_FALSE(LivePositions::read(low, high).within(1000));  // inverted
  low = 0;
  high = 1001;
  EXPECT_FALSE(LivePositions::read(low, high).within(1000));  // more than a ring
  high = 1000;
  EXPECT_TRUE(LivePositions::read(low, high).within(1000));
  EXPECT_TRUE(LivePositions::read(low, high).aligned(8));
  high = 1001;
  EXPECT_FALSE(LivePositions::read(low, high).aligned(8));
  low = ~std::uint64_t{0} - 8;  // near the top: no overflow in the bound
  high = ~std::uint64_t{0};
  EXPECT_TRUE(LivePositions::read(low, high).within(1000));
}

TEST(SpscRingOpen, ARingStreamingWhileItIsCheckedIsSane) {
  constexpr std::uint64_t kCapacity = 4096;
  SpscRingLayout l{};
  // A producer fills the ring and a consumer drains it, in the order their
  // stores reach memory: tail, put_count; get_count, head.
  const std::uint64_t failed = failures_while_moving(
      [&] {
        const std::uint64_t head = l.consumer.head.load();
        l.producer.tail.store(head + kCapacity);
        l.producer.put_count.store(l.producer.put_count.load() + 64);
        l.consumer.get_count.store(l.producer.put_count.load());
        l.consumer.head.store(head + kCapacity);
      },
      [&] { return SpscRing::layout_sane(l, kCapacity); });
  EXPECT_EQ(failed, 0u);
}

TEST(MpmcOpen, ARingStreamingWhileItIsCheckedIsSane) {
  constexpr std::uint64_t kCapacity = 4096;
  constexpr std::uint64_t kStep = (kCapacity - MpmcRing::kHeader) / kMpmcAlign * kMpmcAlign;
  auto layout = std::make_unique<MpmcRingLayout>();  // 256 participant slots: too big for the stack
  MpmcRingLayout& l = *layout;
  // Producers claim up to a ring's worth (tail), consumers take it (head),
  // and the space comes back (released): released <= head <= tail always.
  const std::uint64_t failed = failures_while_moving(
      [&] {
        const std::uint64_t r = l.released.value.load();
        l.tail.value.store(r + kStep);
        l.head.value.store(r + kStep);
        l.released.value.store(r + kStep);
      },
      [&] { return MpmcRing::layout_sane(l, kCapacity); });
  EXPECT_EQ(failed, 0u);
}

}  // namespace
}  // namespace shmring
