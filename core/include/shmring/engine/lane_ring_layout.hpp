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
// put and gives it back with the commit. `cpu`: 1 + the CPU the owner last
// put from, 0 unknown; a hint for consumers (lane_ring.hpp, "Where a
// consumer looks"), so not part of the format's hash: any value is sound.
struct alignas(platform::kFalseSharingRange) LaneOwnerLayout {
  std::atomic<std::uint64_t> owner;
  std::atomic<std::uint32_t> cpu;  // 1 + the CPU of the owner's last put (0: not known); a hint
};

// On-demand memory of one ring (the rules are in QueueLayout's comment on
// its `backing`, queue_layout.hpp): a queue's ring has one, each lane its own.
struct alignas(platform::kFalseSharingRange) RingBackingLayout {
  std::atomic<std::uint64_t> backed_end;
  std::atomic<std::uint64_t> unbacked_below;
  std::atomic<std::uint64_t> lock;
};

struct LaneLayout {
  // producer.tail / put_count: written by the lane's producer only (as in
  // SpscRing). consumer.head: any consumer, by compare-and-swap.
  // consumer.get_count: unused, always 0 (consumers of a lane are many; the
  // lane's message count is put_count minus the sequence number in the
  // header at head).
  SpscRingLayout ring;
  LaneOwnerLayout control;
  ParkingLayout not_full;     // the lane's producers park here when it is full
  RingBackingLayout backing;  // on-demand memory of this lane (config.chunk != 0)
};
static_assert(sizeof(LaneLayout) == 5 * platform::kFalseSharingRange);

// Bit i of `in_use`: lane i has had a producer since the queue was created
// (set at the lane's first take, never cleared): consumers look only there.
// `reads_lost`: messages dead consumers took and never delivered (counted
// by whoever frees their reader slots).
// `lease`: the sole-consumer lease (lane_ring.hpp): 0 free; s + 1 held by
// the consumer in reader slot s, who moves heads with plain stores; with
// kLeaseRevoked set, being taken back by a consumer that attached after it.
// Read by the holder on every take: it shares the block with words that
// are written only when a lane is first used or a consumer dies.
inline constexpr std::uint64_t kLeaseRevoked = std::uint64_t{1} << 32;
struct alignas(platform::kFalseSharingRange) LaneMaskLayout {
  std::atomic<std::uint64_t> in_use;
  std::atomic<std::uint64_t> reads_lost;
  std::atomic<std::uint64_t> lease;
};

// A consumer handle's slot: what it is taking, so that whoever finds its
// process dead knows whether messages went with it. `state` is 0 (idle),
// or the lane (low 8 bits), the number of records (from bit 16) and
// kReaderTrying (from just before its compare-and-swap on the lane's head
// at `from` until it knows the answer) or kReaderHolding (it took the
// record at `from` and holds it: read() until release()); kReaderSole with
// kReaderTrying: the lease holder, between this store and its plain store
// of head (a revoker waits for it to go). Written only by the owner; on
// its own block.
inline constexpr std::uint32_t kLaneReaders = 256;
inline constexpr std::uint64_t kReaderTrying = 1u << 8;
inline constexpr std::uint64_t kReaderHolding = 1u << 9;
inline constexpr std::uint64_t kReaderSole = 1u << 10;
inline constexpr unsigned kReaderCountShift = 16;
struct alignas(platform::kFalseSharingRange) LaneReaderLayout {
  std::atomic<std::uint64_t> owner;  // platform::pack_owner(); 0: free
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint64_t> from;
};
// Messages queued, kept only when the queue has a maxsize (one add per put
// and one subtract per take, so only then).
struct alignas(platform::kFalseSharingRange) LaneCountLayout {
  std::atomic<std::int64_t> queued;
};

// The table's head (with the reader slots); the `lanes` LaneLayouts follow
// it, lane i at sizeof(LaneTableLayout) + i * sizeof(LaneLayout).
struct LaneTableLayout {
  LaneMaskLayout mask;
  LaneCountLayout count;
  LaneReaderLayout readers[kLaneReaders];
};

static_assert(std::is_standard_layout_v<LaneTableLayout> && std::is_standard_layout_v<LaneLayout>,
              "shared layouts must be standard-layout");
static_assert(offsetof(LaneTableLayout, count) == 128 && offsetof(LaneTableLayout, readers) == 256 &&
                  sizeof(LaneTableLayout) == 256 + kLaneReaders * platform::kFalseSharingRange,
              "offsets are part of the file format");

// Bytes of the table for `lanes` lanes (a multiple of 128).
[[nodiscard]] constexpr std::uint64_t lane_table_bytes(std::uint32_t lanes) noexcept {
  return sizeof(LaneTableLayout) + std::uint64_t{lanes} * sizeof(LaneLayout);
}

}  // namespace shmring
