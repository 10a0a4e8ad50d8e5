// PipeLayout: the shared part of a Pipe, the payload of its segment. A Pipe
// has one or two directions: direction 0 carries end a's messages to end b,
// direction 1 end b's to end a. A one-way pipe (duplex = 0) has only
// direction 1: end a receives, end b sends (Python's Pipe(False) returns
// (receive end, send end) in that order).
//
// Two kinds of pipe (config.shared):
// - shared ends (1, the default): any number of handles on each end, in any
//   number of processes. Each direction is a queue of the lane engine
//   embedded in the segment (a QueueLayout and its ring at
//   config.data_offset[d], direction_bytes long; queue_layout.hpp); each
//   end has a table of its handles (PipeEndLayout) and a closed flag.
// - one owner per end (0): each direction is an SPSC ring
//   (PipeDirectionLayout, its bytes at config.data_offset[d]); each end has
//   an owner word and a closed flag (PipeControlLayout).
// The parts a kind does not use stay zero. data_offset[d] 0: the direction
// does not exist.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/blocking/blocking.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"
#include "shmring/ipc/queue_layout.hpp"

namespace shmring {

inline constexpr std::uint32_t kPipeKind = 0x45504950u;  // "PIPE"
inline constexpr std::uint32_t kPipeLayoutVersion = 3;   // 2: shared ends; 3: pollers (the queues' layout 6)
inline constexpr std::uint32_t kPipeHolders = 256;       // handles per end of a shared-ends pipe

// Written once by the creator before publish; read-only afterwards.
struct alignas(platform::kFalseSharingRange) PipeConfigLayout {
  std::uint64_t capacity;     // ring bytes of each direction: a power of two
  std::uint64_t max_message;  // largest payload accepted
  std::uint64_t
      data_offset[2];  // direction d's ring bytes (shared: its queue), from the start of PipeLayout; 0: absent
  std::uint64_t direction_bytes;  // shared: bytes of each direction's queue (layout and ring); 0 otherwise
  std::uint32_t duplex;           // 1: both directions; 0: direction 1 only
  std::uint32_t barriers;         // 0: seq_cst fences; 1: asymmetric (BarrierPlan, blocking.hpp)
  std::uint32_t shared;           // 1: ends shared by any number of handles; 0: one owner per end
  std::uint32_t reserved0;
};

// Rarely written (attach, close): read by every send and by empty recvs.
struct alignas(platform::kFalseSharingRange) PipeControlLayout {
  std::atomic<std::uint64_t> owner[2];   // one owner: platform::pack_owner() of the process holding end a / b; 0: none
  std::atomic<std::uint32_t> closed[2];  // 1: end a / b was closed (never reopens)
};

// Shared ends: the handles of one end. holder[i] names the process a handle
// lives in (platform::pack_owner(); 0: a free slot); a process with several
// handles on the end has a slot for each. `lock` (pack_owner() of a thread;
// 0: free) orders joins, leaves and the closing of the end; the protocol and
// what it keeps true are in core/src/ipc/pipe/end_table.hpp.
struct alignas(platform::kFalseSharingRange) PipeEndLayout {
  std::atomic<std::uint64_t> lock;
  std::atomic<std::uint64_t> holder[kPipeHolders];
};

// One direction: the ring's positions, then where its consumer parks
// (not_empty) and where its producer parks (not_full).
struct PipeDirectionLayout {
  SpscRingLayout ring;
  ParkingLayout not_empty;
  ParkingLayout not_full;
};

struct PipeLayout {
  PipeConfigLayout config;
  PipeControlLayout control;
  PipeDirectionLayout direction[2];  // one owner per end
  PipeEndLayout ends[2];             // shared ends
};

static_assert(std::is_standard_layout_v<PipeLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(PipeLayout) % platform::kFalseSharingRange == 0, "ring bytes must start on a 128-byte block");
static_assert(sizeof(PipeDirectionLayout) == 4 * platform::kFalseSharingRange,
              "a direction is four blocks: producer, consumer, and one parking word each");
static_assert(offsetof(PipeLayout, control) == 128 && offsetof(PipeLayout, direction) == 256 &&
                  offsetof(PipeLayout, ends) == 256 + 2 * 512 && sizeof(PipeEndLayout) == 17 * 128 &&
                  sizeof(PipeLayout) == 1280 + 2 * 17 * 128,
              "each hot word sits on its own 128-byte block; offsets are part of the file format");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "every atomic in a shared layout must be lock-free");

inline constexpr std::uint64_t kPipeLayoutHash = platform::layout_hash(
    sizeof(PipeLayout), alignof(PipeLayout), offsetof(PipeLayout, config), offsetof(PipeLayout, control),
    offsetof(PipeLayout, direction), sizeof(PipeDirectionLayout), offsetof(PipeConfigLayout, capacity),
    offsetof(PipeConfigLayout, max_message), offsetof(PipeConfigLayout, data_offset),
    offsetof(PipeConfigLayout, duplex), offsetof(PipeConfigLayout, barriers),
    offsetof(PipeConfigLayout, direction_bytes), offsetof(PipeConfigLayout, shared), offsetof(PipeLayout, ends),
    sizeof(PipeEndLayout), offsetof(PipeEndLayout, lock), offsetof(PipeEndLayout, holder), kPipeHolders,
    kQueueLayoutHash, offsetof(PipeControlLayout, owner), offsetof(PipeControlLayout, closed),
    offsetof(PipeDirectionLayout, ring), offsetof(PipeDirectionLayout, not_empty),
    offsetof(PipeDirectionLayout, not_full), offsetof(SpscRingLayout, producer), offsetof(SpscRingLayout, consumer),
    offsetof(SpscProducerLayout, tail), offsetof(SpscProducerLayout, put_count), offsetof(SpscConsumerLayout, head),
    offsetof(SpscConsumerLayout, get_count), offsetof(ParkingLayout, sequence), offsetof(ParkingLayout, sleeping),
    sizeof(RecordHeader), kRecordAlign, kPaddingFlag);

}  // namespace shmring
