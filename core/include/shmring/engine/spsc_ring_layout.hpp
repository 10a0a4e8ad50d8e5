// SpscRingLayout: the shared positions of a single-producer single-consumer
// byte ring. The bytes themselves live after the owning object's layout, at an
// offset that object records; this struct holds no pointers.
//
// Records: an 8-byte RecordHeader then the payload, padded to 8 bytes. A
// record never straddles the end of the ring: when it would, the producer
// fills the rest of the ring with one padding record and starts at offset 0.
//
// Each header carries the low 32 bits of its message's sequence number
// (0, 1, 2, ... per ring). The consumer checks it against the number it
// expects (order and corruption check), and a process that takes over a role
// after the previous holder died re-derives the shared counts from it, so a
// death between a position store and a count store never skews qsize/maxsize.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/platform/cpu.hpp"

namespace shmring {

inline constexpr std::uint64_t kRecordAlign = 8;
inline constexpr std::uint32_t kPaddingFlag = 0x80000000u;  // in RecordHeader::length
inline constexpr std::uint64_t kMaxRecordPayload = kPaddingFlag - 1;

struct RecordHeader {
  std::uint32_t length;  // payload bytes; kPaddingFlag | bytes after this header for padding
  std::uint32_t seq;     // low 32 bits of the message sequence number (padding: of the next message)
};
static_assert(sizeof(RecordHeader) == kRecordAlign, "a record header is exactly one alignment unit");

// Bytes a record of `payload` bytes occupies in the ring.
[[nodiscard]] constexpr std::uint64_t record_size(std::uint64_t payload) noexcept {
  return (sizeof(RecordHeader) + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

// Written only by the producer; read by the consumer and by observers.
struct alignas(platform::kFalseSharingRange) SpscProducerLayout {
  std::atomic<std::uint64_t> tail;       // byte position after the last published record
  std::atomic<std::uint64_t> put_count;  // messages published so far
};

// Written only by the consumer; read by the producer and by observers.
struct alignas(platform::kFalseSharingRange) SpscConsumerLayout {
  std::atomic<std::uint64_t> head;       // byte position of the oldest unconsumed record
  std::atomic<std::uint64_t> get_count;  // messages consumed so far
};

struct SpscRingLayout {
  SpscProducerLayout producer;
  SpscConsumerLayout consumer;
};

static_assert(std::is_standard_layout_v<SpscRingLayout>, "shared layouts must be standard-layout");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "64-bit positions must be lock-free atomics on every target that maps the ring");
static_assert(offsetof(SpscRingLayout, consumer) - offsetof(SpscRingLayout, producer) >= platform::kFalseSharingRange,
              "producer and consumer positions must be 128 bytes apart to prevent false sharing");
static_assert(sizeof(SpscRingLayout) == 2 * platform::kFalseSharingRange, "two blocks: producer, consumer");

}  // namespace shmring
