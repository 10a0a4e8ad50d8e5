// SpscTypedRing<T>: the typed fast path. A single-producer single-consumer
// ring of fixed-size slots of a trivially copyable T, in shared memory: no
// record headers (every slot is a T), so an 8-byte message costs 8 bytes of
// ring and a cache line carries eight of them. The ring is SpscSlotRing
// (spsc_slot_ring.hpp: positions, caching, crash takeover) with the slot size
// known at compile time.
//
// Layout (SpscTypedRingLayout, then `capacity` slots of T at `data`): the
// producer's and the consumer's positions on their own 128-byte blocks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "shmring/platform/cpu.hpp"
#include "shmring/engine/spsc_slot_ring.hpp"

namespace shmring {

struct SpscTypedRingLayout {
  alignas(platform::kFalseSharingRange) std::atomic<std::uint64_t> tail;  // slots published; producer writes
  alignas(platform::kFalseSharingRange) std::atomic<std::uint64_t> head;  // slots consumed; consumer writes
};
static_assert(std::is_standard_layout_v<SpscTypedRingLayout>, "shared layouts must be standard-layout");
static_assert(offsetof(SpscTypedRingLayout, head) - offsetof(SpscTypedRingLayout, tail) >= platform::kFalseSharingRange,
              "head and tail must be 128 bytes apart to prevent false sharing");
static_assert(sizeof(SpscTypedRingLayout) == 2 * platform::kFalseSharingRange, "two blocks: producer, consumer");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "positions must be lock-free atomics");

template <class T>
  requires std::is_trivially_copyable_v<T>
class SpscTypedRing {
 public:
  // `capacity` slots, a power of two. Data: capacity * sizeof(T) bytes.
  SpscTypedRing(SpscTypedRingLayout& layout, std::byte* data, std::uint64_t capacity) noexcept
      : ring_(layout.tail, layout.head, data, capacity) {}

  static void initialize(SpscTypedRingLayout& layout) noexcept {
    // relaxed: published to other processes by the segment's release.
    layout.tail.store(0, std::memory_order_relaxed);
    layout.head.store(0, std::memory_order_relaxed);
  }

  // Take a side (first use, or after the previous holder died). False: the
  // shared positions are inconsistent (a damaged or hostile file).
  [[nodiscard]] bool attach_producer() noexcept { return ring_.attach_producer(); }
  [[nodiscard]] bool attach_consumer() noexcept { return ring_.attach_consumer(); }

  // Producer: false when full (or when the positions are damaged).
  [[nodiscard]] bool try_push(const T& value) noexcept { return ring_.try_push(&value, sizeof(T)) == RingStatus::ok; }
  // Consumer: false when empty (or when the positions are damaged).
  [[nodiscard]] bool try_pop(T& out) noexcept { return ring_.try_pop(&out); }

  // Observers (any process; exact when quiescent).
  [[nodiscard]] std::uint64_t size() const noexcept { return ring_.message_count(); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.slots(); }

 private:
  SpscSlotRing<sizeof(T)> ring_;
};

}  // namespace shmring
