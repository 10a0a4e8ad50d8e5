// SegmentHeaderLayout: the first 128 bytes of every shmring file. It says what
// the file holds and where, so `open` can check everything before it touches
// any index of the object behind it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/platform/cpu.hpp"

namespace shmring::platform {

// "SHMRING\x01" read as a little-endian integer. A file written on a machine
// of the other byte order reads as kSegmentMagicSwapped.
inline constexpr std::uint64_t kSegmentMagic = 0x01474e49524d4853ULL;
inline constexpr std::uint64_t kSegmentMagicSwapped = __builtin_bswap64(kSegmentMagic);
inline constexpr std::uint32_t kSegmentHeaderVersion = 1;

enum class SegmentState : std::uint32_t {
  initializing = 0,     // the creator is still filling the file in
  ready = 0x59444552u,  // "REDY": every field and the payload are valid
};

struct alignas(kFalseSharingRange) SegmentHeaderLayout {
  std::uint64_t magic;               // kSegmentMagic
  std::uint32_t header_version;      // kSegmentHeaderVersion
  std::uint32_t header_size;         // sizeof(SegmentHeaderLayout)
  std::uint32_t kind;                // which object the payload holds (a FourCC)
  std::uint32_t layout_version;      // version of that object's layout
  std::uint64_t layout_hash;         // hash of that layout's sizes, offsets, byte order
  std::uint64_t file_size;           // bytes reserved at create
  std::uint64_t payload_offset;      // where the object starts (a multiple of 128)
  std::uint64_t payload_size;        // bytes of the object
  std::uint64_t creator_pid;         // informational: who created the file
  std::uint64_t creator_start_time;  // its start time (clock ticks since boot)
  std::int64_t created_realtime_ns;  // informational: wall-clock creation time
  // SYNC(publish): written last with release by the creator; every reader
  // loads it with acquire before trusting any other byte of the file.
  std::atomic<std::uint32_t> state;
  std::uint32_t reserved0;
};

static_assert(std::is_standard_layout_v<SegmentHeaderLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(SegmentHeaderLayout) == kFalseSharingRange,
              "the header fills exactly one 128-byte block so the payload starts aligned");
static_assert(offsetof(SegmentHeaderLayout, state) == 80, "header field offsets are part of the file format");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the ready flag must be lock-free in shared memory");

// The layout object at `p` in a mapped segment, where the caller knows `p` is
// aligned for it (the mapping is page-aligned; the header is at 0, payloads
// at multiples of 128). Through void*: a reinterpret_cast from std::byte*
// trips -Wcast-align on strict-alignment targets (32-bit ARM) even where the
// address is aligned.
template <class Layout>
[[nodiscard]] Layout* layout_at(std::byte* p) noexcept {
  return static_cast<Layout*>(static_cast<void*>(p));
}
template <class Layout>
[[nodiscard]] const Layout* layout_at(const std::byte* p) noexcept {
  return static_cast<const Layout*>(static_cast<const void*>(p));
}

// FNV-1a over a list of numbers: the layout hash of a payload is this over its
// sizes, alignments and offsets plus a byte-order marker (see layout_hash()).
[[nodiscard]] constexpr std::uint64_t fnv1a_mix(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= 0x100000001b3ULL;
  }
  return h;
}

template <class... Values>
[[nodiscard]] constexpr std::uint64_t layout_hash(Values... values) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  // Byte order is part of every layout.
  h = fnv1a_mix(h, __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0x1234u : 0x4321u);
  ((h = fnv1a_mix(h, static_cast<std::uint64_t>(values))), ...);
  return h;
}

}  // namespace shmring::platform
