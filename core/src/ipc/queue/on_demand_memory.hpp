// On-demand memory of a large queue (rings above kOnDemandAbove, queue.hpp):
// the file is sparse; producers reserve chunks ahead of where they write
// (fallocate) and consumers return whole chunks behind the oldest byte still
// in use (punch a hole). Both move the two frontiers of QueueBackingLayout
// under one lock word, taken a few times per MiB of traffic.
//
// Must stay true: [unbacked_below, backed_end) is reserved, at most one
// ring's worth, and covers every byte in use. A chunk's memory belongs to one
// lap at a time: reserving the chunk at position B reuses the memory of the
// lap before (B - capacity) if it was not returned yet, so there is never a
// hole under bytes in use and never memory under two laps' counts.
#pragma once

#include <chrono>
#include <cstdint>

#include "shmring/ipc/queue.hpp"
#include "shmring/ipc/queue_layout.hpp"
#include "shmring/platform/segment.hpp"

namespace shmring::detail {

class OnDemandMemory {
 public:
  OnDemandMemory(platform::Segment& segment, QueueBackingLayout& backing, std::uint64_t chunk,
                 std::uint64_t data_offset, std::uint64_t capacity) noexcept
      : segment_(&segment), backing_(&backing), chunk_(chunk), data_offset_(data_offset), capacity_(capacity) {}

  // A live holder keeps the lock for one fallocate step; one that keeps it
  // for this long is a damaged lock word (a live pid, or our own), which
  // would otherwise be waited on forever: the caller reports corrupt.
  static constexpr std::chrono::seconds kLockPatience{1};

  // Makes positions below `target` writable (one chunk more, so the next
  // puts find it ready). A dead holder's half-done step is redone:
  // fallocate is idempotent and the frontiers move after it.
  [[nodiscard]] PutStatus ensure_backed(std::uint64_t target) noexcept;

  // SPSC producers, before they claim `record` bytes at `tail` (the ring's
  // tail is theirs alone): room for the record and a padding record.
  [[nodiscard]] PutStatus backed_for(std::uint64_t tail, std::uint64_t record) noexcept {
    const std::uint64_t target = tail + record;
    return target <= backed_cache_ ? PutStatus::ok : ensure_backed(target);
  }
  // The fast path's check, without the lock: this handle's last view of
  // backed_end covers `target` (a stale view only sends it to backed_for).
  [[nodiscard]] bool known_backed(std::uint64_t target) const noexcept { return target <= backed_cache_; }

  // After a get: now and then (every 256 gets), and whenever the queue ran
  // dry, returns the chunks below `oldest()` (the first byte still in use).
  template <class Oldest>
  void after_get(bool drained, Oldest&& oldest) noexcept {
    if (!drained && ++gets_since_return_ < 256) return;
    gets_since_return_ = 0;
    return_chunks(oldest());
  }

 private:
  // Skipped when another process holds the lock: it will be done later.
  void return_chunks(std::uint64_t oldest) noexcept;
  [[nodiscard]] bool lock(bool wait) noexcept;
  void unlock() noexcept;
  // The frontiers of a sound file (see the top). A damaged file breaks this,
  // and the walks would run for up to 2^44 chunks.
  [[nodiscard]] bool frontiers_sane(std::uint64_t low, std::uint64_t end) const noexcept {
    return low <= end && end - low <= capacity_;
  }

  platform::Segment* segment_;
  QueueBackingLayout* backing_;
  std::uint64_t chunk_;
  std::uint64_t data_offset_;  // of the ring's bytes in the payload
  std::uint64_t capacity_;
  std::uint64_t backed_cache_ = 0;    // this handle's last view of backed_end
  std::uint64_t unbacked_cache_ = 0;  // ... and of unbacked_below
  std::uint32_t gets_since_return_ = 0;
};

}  // namespace shmring::detail
