// LaneTableLayout: the shared part of the lane engine (lane_ring.hpp has
// the protocol). A queue's bytes are cut into `lanes` equal lanes; each lane
// is an SPSC byte ring (spsc_ring_layout.hpp: the same records, the same
// producer positions) whose head is moved by any consumer with one
// compare-and-swap per batch taken. The table sits at the start of the
// queue's data area, the lanes' bytes after it, lane i at table_bytes + i *
// lane capacity. Like the other layouts it holds positions and owner words
// only, never pointers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/blocking/blocking.hpp"  // ParkingLayout
#include "shmring/engine/spsc_ring_layout.hpp"
#include "shmring/platform/cpu.hpp"

namespace shmring {

inline constexpr std::uint32_t kMaxLanes = 64;  // in_use is one 64-bit mask

// Who writes a lane. `owner` is platform::pack_owner() of the producer that
// holds the lane (0: free). The last lane is never held for good: every
// producer that found no free lane (a guest) takes its owner word for one
// put and gives it back with the commit.
struct alignas(platform::kFalseSharingRange) LaneOwnerLayout {
  std::atomic<std::uint64_t> owner;
};

struct LaneLayout {
  // producer.tail / put_count: written by the lane's producer only (as in
  // SpscRing). consumer.head: any consumer, by compare-and-swap.
  // consumer.get_count: unused, always 0 (consumers of a lane are many; the
  // lane's message count is put_count minus the sequence number in the
  // header at head).
  SpscRingLayout ring;
  LaneOwnerLayout control;
  ParkingLayout not_full;  // the lane's producers park here when it is full
};
static_assert(sizeof(LaneLayout) == 4 * platform::kFalseSharingRange);

// Bit i of `in_use`: lane i has had a producer since the queue was created
// (set at the lane's first take, never cleared): consumers look only there.
struct alignas(platform::kFalseSharingRange) LaneMaskLayout {
  std::atomic<std::uint64_t> in_use;
};
// Messages queued, kept only when the queue has a maxsize (one add per put
// and one subtract per take, so only then).
struct alignas(platform::kFalseSharingRange) LaneCountLayout {
  std::atomic<std::int64_t> queued;
};

// The table's head; the `lanes` LaneLayouts follow it, lane i at
// sizeof(LaneTableLayout) + i * sizeof(LaneLayout).
struct LaneTableLayout {
  LaneMaskLayout mask;
  LaneCountLayout count;
};

static_assert(std::is_standard_layout_v<LaneTableLayout> && std::is_standard_layout_v<LaneLayout>,
              "shared layouts must be standard-layout");
static_assert(offsetof(LaneTableLayout, count) == 128 && sizeof(LaneTableLayout) == 256,
              "offsets are part of the file format");

// Bytes of the table for `lanes` lanes (a multiple of 128).
[[nodiscard]] constexpr std::uint64_t lane_table_bytes(std::uint32_t lanes) noexcept {
  return sizeof(LaneTableLayout) + std::uint64_t{lanes} * sizeof(LaneLayout);
}

}  // namespace shmring
