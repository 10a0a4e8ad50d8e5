// DictLayout: the shared part of a Dict (dict.hpp), the payload of its
// segment: the configuration, the writers' lock, the entry count, then
// `slots` slots of slot_bytes each at data_offset (from the start of
// DictLayout): an open-addressing hash table with linear probing.
//
// A slot is a DictSlotHeader, then the key's bytes (max_key, rounded up to
// 8), then two value buffers (max_value each, rounded up to 8). A write
// fills the buffer that is not current and then publishes the slot's
// `state` word: kind, the current buffer, and a version that every publish
// raises. Readers copy what a state names and keep the copy only if the
// state is unchanged afterwards (dict.cpp has the argument).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/ipc/sync_layout.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {

inline constexpr std::uint32_t kDictKind = 0x54434944u;  // "DICT"
// Which hash function places keys (dict.cpp's hash_key): part of the format.
inline constexpr std::uint64_t kDictHashFunction = 2;

// Written once by the creator before publish; read-only afterwards.
struct alignas(platform::kFalseSharingRange) DictConfigLayout {
  std::uint64_t slots;        // a power of two
  std::uint64_t slot_bytes;   // stride of a slot: a multiple of 64
  std::uint64_t data_offset;  // the first slot, from the start of DictLayout
  std::uint64_t max_entries;  // entries the table takes (3/4 of its slots)
  std::uint32_t max_key;      // largest key, bytes
  std::uint32_t max_value;    // largest value, bytes
};

// Written by writers under the lock; read by anyone.
struct alignas(platform::kFalseSharingRange) DictCountsLayout {
  std::atomic<std::uint64_t> size;        // live entries (exact when no writer is inside)
  std::atomic<std::uint64_t> repairs;     // times a writer took the lock over from a dead one
  std::atomic<std::uint64_t> tombstones;  // slots of erased entries not reused yet
};

struct DictLayout {
  DictConfigLayout config;
  LockLayout lock;  // writers: one at a time; readers never take it
  DictCountsLayout counts;
};

// DictSlotHeader::state: bits 0-1 the kind, bit 2 the current value
// buffer, bits 3-63 the version (raised by every publish of the slot).
inline constexpr std::uint64_t kDictEmpty = 0;
inline constexpr std::uint64_t kDictLive = 1;
inline constexpr std::uint64_t kDictErased = 2;  // a tombstone: probes go on past it
inline constexpr std::uint64_t kDictKindMask = 3;
inline constexpr std::uint64_t kDictBufferBit = 4;
inline constexpr std::uint64_t kDictVersionStep = 8;

struct DictSlotHeader {
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint64_t> hash;           // of the key (live and erased slots)
  std::atomic<std::uint32_t> key_size;       // live and erased slots
  std::atomic<std::uint32_t> value_size[2];  // of each buffer
  std::uint32_t reserved0;
  std::uint64_t reserved1[4];
};

static_assert(std::is_standard_layout_v<DictLayout> && std::is_standard_layout_v<DictSlotHeader>,
              "shared layouts must be standard-layout");
static_assert(offsetof(DictLayout, lock) == 128 && offsetof(DictLayout, counts) == 384 && sizeof(DictLayout) == 512,
              "the config, the lock and the counts each on their own blocks; offsets are the file format");
static_assert(sizeof(DictSlotHeader) == 64, "a slot header is one cache line");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "every atomic in a shared layout must be lock-free");

inline constexpr std::uint64_t kDictLayoutHash = platform::layout_hash(
    sizeof(DictLayout), alignof(DictLayout), offsetof(DictLayout, config), offsetof(DictLayout, lock),
    offsetof(DictLayout, counts), offsetof(DictConfigLayout, slots), offsetof(DictConfigLayout, slot_bytes),
    offsetof(DictConfigLayout, data_offset), offsetof(DictConfigLayout, max_entries),
    offsetof(DictConfigLayout, max_key), offsetof(DictConfigLayout, max_value), offsetof(DictCountsLayout, size),
    offsetof(DictCountsLayout, repairs), offsetof(DictCountsLayout, tombstones), sizeof(DictSlotHeader),
    offsetof(DictSlotHeader, state), offsetof(DictSlotHeader, hash), offsetof(DictSlotHeader, key_size),
    offsetof(DictSlotHeader, value_size), kDictKindMask, kDictBufferBit, kDictVersionStep, kLockLayoutHash,
    kDictHashFunction);

}  // namespace shmring
