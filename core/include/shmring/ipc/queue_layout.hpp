// QueueLayout: the shared part of a Queue, the payload of its segment. The
// ring's bytes follow it at offset sizeof(QueueLayout) (a multiple of 128).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/blocking/blocking.hpp"
#include "shmring/engine/lane_ring_layout.hpp"
#include "shmring/engine/mpmc_ring_layout.hpp"
#include "shmring/platform/segment_layout.hpp"
#include "shmring/engine/spsc_ring_layout.hpp"

namespace shmring {

inline constexpr std::uint32_t kQueueKind = 0x55455551u;          // "QUEU"
inline constexpr std::uint32_t kJoinableQueueKind = 0x4555514au;  // "JQUE": same layout, counts tasks
inline constexpr std::uint32_t kQueueLayoutVersion =
    7;  // 2: engine + the MPMC ring; 3: fixed-size slots; 4: MPMC hazards; 5: lanes; 6: pollers;
        // 7: the lane engine's sole-consumer lease

// Written once by the creator before publish; read-only afterwards.
struct alignas(platform::kFalseSharingRange) QueueConfigLayout {
  std::uint64_t capacity;     // ring bytes: a power of two
  std::uint64_t max_message;  // largest payload accepted
  std::int64_t maxsize;       // message-count limit; <= 0: none (only the byte capacity)
  std::uint64_t data_offset;  // ring bytes, from the start of QueueLayout
  std::uint32_t barriers;     // 0: seq_cst fences; 1: asymmetric (BarrierPlan, blocking.hpp)
  std::uint32_t engine;       // which engine made the file (below)
  std::uint64_t chunk;        // on-demand memory: bytes reserved/returned at a time; 0: all reserved at create
  std::uint32_t lanes;        // the lane engine's lanes (capacity / lanes bytes each); 0 for the others
  std::uint32_t reserved0;
};

// QueueConfigLayout::engine is the kStored of the engine that made the file
// (core/src/ipc/queue/): 0 SpscBytesEngine (`ring`), 1 MpmcEngine (`mpmc`),
// 2 SpscSlotEngine — fixed-size messages of max_message bytes in
// capacity / max_message slots (a power of two), positions counting slots
// in `ring` (producer.tail, consumer.head; the counts stay 0), 3 LanesEngine
// — a LaneTableLayout (lane_ring_layout.hpp) at data_offset, then `lanes`
// lanes of capacity / lanes bytes. A number is part of the file format: it
// is never given to another engine.

// Rarely written: who holds each role, and whether the queue is closed.
struct alignas(platform::kFalseSharingRange) QueueControlLayout {
  std::atomic<std::uint32_t> closed;  // 0 open, 1 closed (never reopens)
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> producer_owner;  // platform::pack_owner() of the holder, 0: free
  std::atomic<std::uint64_t> consumer_owner;
};

// JoinableQueue's unfinished tasks: +1 by put (before the message is
// published), -1 by task_done. Contended by both sides, so on its own block.
struct alignas(platform::kFalseSharingRange) QueueTasksLayout {
  std::atomic<std::uint64_t> unfinished;
};

// On-demand memory (rings above 4 MiB): the ring file is sparse; memory is
// reserved a chunk at a time ahead of the producers and returned behind the
// consumers. Ring positions in [unbacked_below, backed_end) have memory in
// their current lap; backed_end - unbacked_below <= capacity. Changed only
// under `lock` (an owner token, taken over from a dead holder). The lane
// engine keeps one per lane (LaneLayout::backing), for its lane's positions.
using QueueBackingLayout = RingBackingLayout;

struct QueueLayout {
  QueueConfigLayout config;
  SpscRingLayout ring;      // engine 0
  ParkingLayout not_empty;  // consumers park here; producers notify
  ParkingLayout not_full;   // producers park here; consumers notify
  QueueControlLayout control;
  QueueTasksLayout tasks;      // JoinableQueue only
  ParkingLayout all_done;      // join() parks here; the task_done that reaches 0 notifies
  MpmcRingLayout mpmc;         // engine 1
  QueueBackingLayout backing;  // on-demand memory (config.chunk != 0)
};

static_assert(std::is_standard_layout_v<QueueLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(QueueLayout) % platform::kFalseSharingRange == 0, "ring bytes must start on a 128-byte block");
static_assert(offsetof(QueueLayout, ring) == 128 && offsetof(QueueLayout, not_empty) == 384 &&
                  offsetof(QueueLayout, not_full) == 512 && offsetof(QueueLayout, control) == 640,
              "each hot word sits on its own 128-byte block; offsets are part of the file format");
static_assert(offsetof(QueueLayout, tasks) == 768 && offsetof(QueueLayout, all_done) == 896,
              "the task count and its parking word have their own blocks");
static_assert(offsetof(QueueLayout, mpmc) == 1024, "the MPMC ring's positions follow");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "every atomic in a shared layout must be lock-free");

inline constexpr std::uint64_t kQueueLayoutHash = platform::layout_hash(
    sizeof(QueueLayout), alignof(QueueLayout), offsetof(QueueLayout, config), offsetof(QueueLayout, ring),
    offsetof(QueueLayout, not_empty), offsetof(QueueLayout, not_full), offsetof(QueueLayout, control),
    offsetof(QueueConfigLayout, capacity), offsetof(QueueConfigLayout, max_message),
    offsetof(QueueConfigLayout, maxsize), offsetof(QueueConfigLayout, data_offset),
    offsetof(QueueConfigLayout, barriers), offsetof(QueueConfigLayout, engine), offsetof(QueueLayout, mpmc),
    offsetof(QueueConfigLayout, chunk), offsetof(QueueConfigLayout, lanes), sizeof(LaneLayout), sizeof(LaneTableLayout),
    offsetof(LaneLayout, control), offsetof(LaneLayout, not_full), offsetof(LaneLayout, backing),
    offsetof(LaneTableLayout, readers), sizeof(LaneReaderLayout), kLaneReaders, offsetof(LaneReaderLayout, from),
    offsetof(QueueLayout, backing), offsetof(QueueBackingLayout, backed_end),
    offsetof(QueueBackingLayout, unbacked_below), offsetof(QueueBackingLayout, lock), offsetof(MpmcRingLayout, tail),
    offsetof(MpmcRingLayout, head), offsetof(MpmcRingLayout, released), offsetof(MpmcRingLayout, key),
    offsetof(MpmcRingLayout, participants), sizeof(MpmcParticipantLayout), offsetof(MpmcParticipantLayout, hazard),
    sizeof(MpmcRecordHeader), kMpmcParticipants, offsetof(QueueControlLayout, closed),
    offsetof(QueueControlLayout, producer_owner), offsetof(QueueControlLayout, consumer_owner),
    offsetof(SpscRingLayout, producer), offsetof(SpscRingLayout, consumer), offsetof(SpscProducerLayout, tail),
    offsetof(SpscProducerLayout, put_count), offsetof(SpscConsumerLayout, head),
    offsetof(SpscConsumerLayout, get_count), offsetof(ParkingLayout, sequence), offsetof(ParkingLayout, sleeping),
    offsetof(ParkingLayout, armed), offsetof(ParkingLayout, pollers), kPollerSlots, offsetof(QueueLayout, tasks),
    offsetof(QueueLayout, all_done), sizeof(RecordHeader), kRecordAlign, kPaddingFlag, offsetof(LaneMaskLayout, lease),
    kLeaseRevoked, kReaderSole);

}  // namespace shmring
