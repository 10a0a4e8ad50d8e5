// ListLayout: the shared part of a List (list.hpp), the payload of its
// segment: the configuration, the writers' lock, the list's header word,
// then two arrays (`capacity` slots of slot_bytes each, array 0 at
// data_offset, array 1 right after it).
//
// The header word names the current array, the length and a version that
// every publish raises (kListArrayBit | length << kListLengthShift |
// version << kListVersionShift). A slot is a ListSlotHeader (its own state
// word: the current value buffer and a version) and two value buffers of
// max_value bytes (rounded up to 8). Element i of the list is slot i of the
// current array; slots at or past the length are not part of it. A change
// of one element (set) publishes the slot's state; a change of the list's
// shape that appends (append, extend) writes slots past the length and
// publishes the header; any other (insert, pop from the middle, clear)
// writes the whole new list into the other array and publishes the header.
// list.cpp has the readers' argument.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/ipc/sync_layout.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {

inline constexpr std::uint32_t kListKind = 0x5453494cu;  // "LIST"

inline constexpr std::uint64_t kListArrayBit = 1;
inline constexpr unsigned kListLengthShift = 1;
inline constexpr unsigned kListLengthBits = 24;
inline constexpr std::uint64_t kListMaxCapacity = (std::uint64_t{1} << kListLengthBits) - 1;
inline constexpr unsigned kListVersionShift = kListLengthShift + kListLengthBits;

struct alignas(platform::kFalseSharingRange) ListConfigLayout {
  std::uint64_t capacity;     // elements, <= kListMaxCapacity
  std::uint64_t slot_bytes;   // stride of a slot: a multiple of 64
  std::uint64_t data_offset;  // array 0's first slot, from the start of ListLayout
  std::uint32_t max_value;    // largest element, bytes
  std::uint32_t reserved0;
};

struct alignas(platform::kFalseSharingRange) ListHeaderLayout {
  std::atomic<std::uint64_t> word;     // current array, length, version
  std::atomic<std::uint64_t> repairs;  // times a writer took the lock over from a dead one
};

struct ListLayout {
  ListConfigLayout config;
  LockLayout lock;  // writers: one at a time; readers never take it
  ListHeaderLayout header;
};

// ListSlotHeader::state: bit 0 the current value buffer, bits 1-63 the version.
struct ListSlotHeader {
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint32_t> size[2];  // bytes in each buffer
  std::uint64_t reserved[6];
};

static_assert(std::is_standard_layout_v<ListLayout> && std::is_standard_layout_v<ListSlotHeader>,
              "shared layouts must be standard-layout");
static_assert(offsetof(ListLayout, lock) == 128 && offsetof(ListLayout, header) == 384 && sizeof(ListLayout) == 512,
              "the config, the lock and the header each on their own blocks; offsets are the file format");
static_assert(sizeof(ListSlotHeader) == 64, "a slot header is one cache line");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "every atomic in a shared layout must be lock-free");

inline constexpr std::uint64_t kListLayoutHash = platform::layout_hash(
    sizeof(ListLayout), alignof(ListLayout), offsetof(ListLayout, config), offsetof(ListLayout, lock),
    offsetof(ListLayout, header), offsetof(ListConfigLayout, capacity), offsetof(ListConfigLayout, slot_bytes),
    offsetof(ListConfigLayout, data_offset), offsetof(ListConfigLayout, max_value), offsetof(ListHeaderLayout, word),
    offsetof(ListHeaderLayout, repairs), sizeof(ListSlotHeader), offsetof(ListSlotHeader, state),
    offsetof(ListSlotHeader, size), kListArrayBit, kListLengthShift, kListLengthBits, kLockLayoutHash);

}  // namespace shmring
