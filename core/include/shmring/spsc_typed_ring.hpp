// SpscTypedRing<T>: the typed fast path. A single-producer single-consumer
// ring of fixed-size slots of a trivially copyable T, in shared memory: no
// record headers (every slot is a T), so an 8-byte message costs 8 bytes of
// ring and a cache line carries eight of them. Positions count slots, so the
// message count is tail - head, and a process taking over a side after the
// previous holder died needs nothing but the published positions.
//
// Layout (SpscTypedRingLayout, then `capacity` slots of T at `data`): the
// producer's and the consumer's positions on their own 128-byte blocks. Each
// side caches the other's position in process-local memory and reads the
// shared one only when its cache says full or empty (the idea of rigtorp's
// SPSCQueue; Boost's spsc_queue reads it on every operation).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "shmring/platform/cpu.hpp"

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
      : layout_(&layout), data_(data), capacity_(capacity), mask_(capacity - 1) {}

  static void initialize(SpscTypedRingLayout& layout) noexcept {
    // relaxed: published to other processes by the segment's release.
    layout.tail.store(0, std::memory_order_relaxed);
    layout.head.store(0, std::memory_order_relaxed);
  }

  // Take a side (first use, or after the previous holder died). False: the
  // shared positions are inconsistent (a damaged or hostile file).
  [[nodiscard]] bool attach_producer() noexcept {
    // SYNC(role): acquire — the previous producer's publications are visible.
    p_.tail = layout_->tail.load(std::memory_order_acquire);
    p_.cached_head = layout_->head.load(std::memory_order_acquire);
    return sane(p_.cached_head, p_.tail);
  }
  [[nodiscard]] bool attach_consumer() noexcept {
    c_.head = layout_->head.load(std::memory_order_acquire);
    c_.cached_tail = layout_->tail.load(std::memory_order_acquire);
    return sane(c_.head, c_.cached_tail);
  }

  // Producer: false when full.
  [[nodiscard]] bool try_push(const T& value) noexcept {
    if (p_.tail - p_.cached_head >= capacity_) [[unlikely]] {
      // SYNC(space): acquire — pairs with the consumer's release of head: its
      // read of the slot we are about to overwrite happened before.
      p_.cached_head = layout_->head.load(std::memory_order_acquire);
      if (!sane(p_.cached_head, p_.tail) || p_.tail - p_.cached_head >= capacity_) return false;
    }
    std::memcpy(data_ + (p_.tail & mask_) * sizeof(T), &value, sizeof(T));
    ++p_.tail;
    // SYNC(slot): release — publishes the slot to the consumer's acquire of tail.
    layout_->tail.store(p_.tail, std::memory_order_release);
    return true;
  }

  // Consumer: false when empty (or when the positions are damaged: see sane()).
  [[nodiscard]] bool try_pop(T& out) noexcept {
    if (c_.head == c_.cached_tail) [[unlikely]] {
      // SYNC(slot): acquire — pairs with the producer's release of tail.
      c_.cached_tail = layout_->tail.load(std::memory_order_acquire);
      if (c_.head == c_.cached_tail || !sane(c_.head, c_.cached_tail)) return false;
    }
    std::memcpy(&out, data_ + (c_.head & mask_) * sizeof(T), sizeof(T));
    ++c_.head;
    // SYNC(space): release — our read of the slot happens-before its reuse.
    layout_->head.store(c_.head, std::memory_order_release);
    return true;
  }

  // Observers (any process; exact when quiescent).
  [[nodiscard]] std::uint64_t size() const noexcept {
    const std::uint64_t head = layout_->head.load(std::memory_order_acquire);
    const std::uint64_t tail = layout_->tail.load(std::memory_order_acquire);
    return tail >= head ? tail - head : 0;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  [[nodiscard]] bool sane(std::uint64_t head, std::uint64_t tail) const noexcept {
    return head <= tail && tail - head <= capacity_;
  }

  struct alignas(platform::kFalseSharingRange) ProducerLocal {
    std::uint64_t tail = 0;
    std::uint64_t cached_head = 0;
  };
  struct alignas(platform::kFalseSharingRange) ConsumerLocal {
    std::uint64_t head = 0;
    std::uint64_t cached_tail = 0;
  };

  SpscTypedRingLayout* layout_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  ProducerLocal p_;
  ConsumerLocal c_;
};

}  // namespace shmring
