#include "on_demand_memory.hpp"

#include "shmring/platform/clock.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::detail {

bool OnDemandMemory::lock(bool wait) noexcept {
  const std::uint64_t me = platform::pack_owner(platform::current_process());
  std::atomic<std::uint64_t>& word = backing_->lock;
  const platform::Deadline patience = platform::Deadline::after(kLockPatience);
  for (;;) {
    std::uint64_t holder = word.load(std::memory_order_acquire);
    const bool free = holder == 0 || (holder != me && platform::is_dead(holder));
    // SYNC(backing): acquire — the last holder's frontier stores are visible.
    if (free && word.compare_exchange_strong(holder, me, std::memory_order_acquire, std::memory_order_relaxed)) {
      return true;
    }
    if (!wait || patience.passed()) return false;
    platform::yield_cpu();
  }
}

void OnDemandMemory::unlock() noexcept {
  // SYNC(backing): release — our frontier stores are visible to the next holder.
  backing_->lock.store(0, std::memory_order_release);
}

PutStatus OnDemandMemory::ensure_backed(std::uint64_t target) noexcept {
  QueueBackingLayout& b = *backing_;
  // SYNC(backing): acquire — as the ring's claim: memory below it exists.
  backed_cache_ = b.backed_end.load(std::memory_order_acquire);
  if (target <= backed_cache_) return PutStatus::ok;
  if (!lock(true)) return PutStatus::corrupt;
  // relaxed: under the lock, whose acquire ordered the last holder's stores.
  std::uint64_t end = b.backed_end.load(std::memory_order_relaxed);
  std::uint64_t low = b.unbacked_below.load(std::memory_order_relaxed);
  PutStatus status = PutStatus::ok;
  const std::uint64_t want = (target + chunk_ - 1) / chunk_ * chunk_ + chunk_;
  // A sound target is at most one record past `end` (nobody writes past
  // it): a target that wraps `want` or lies a ring beyond is damage.
  if (want <= target || !frontiers_sane(low, end) || (want > end && want - end > capacity_ + 2 * chunk_)) {
    unlock();
    return PutStatus::corrupt;
  }
  while (end < want) {
    if (end >= capacity_ && end - capacity_ >= low) {
      // The lap before still holds this chunk's memory: it is ours now.
      low = end + chunk_ - capacity_;
    } else if (!segment_->back(data_offset_ + (end & (capacity_ - 1)), chunk_)) {
      status = end >= target ? PutStatus::ok : PutStatus::no_memory;
      break;
    }
    end += chunk_;
  }
  // relaxed: read only under the lock; the unlock (release) publishes it.
  b.unbacked_below.store(low, std::memory_order_relaxed);
  // SYNC(backing): release — pairs with the acquire in the ring's claim:
  // the memory below `end` exists before anyone writes there.
  b.backed_end.store(end, std::memory_order_release);
  unlock();
  backed_cache_ = end;
  unbacked_cache_ = low;
  return status;
}

void OnDemandMemory::return_chunks(std::uint64_t oldest) noexcept {
  if (oldest < unbacked_cache_ + chunk_ || !lock(false)) return;
  QueueBackingLayout& b = *backing_;
  // relaxed: under the lock, as in ensure_backed().
  std::uint64_t low = b.unbacked_below.load(std::memory_order_relaxed);
  const std::uint64_t end = b.backed_end.load(std::memory_order_relaxed);
  if (!frontiers_sane(low, end) || oldest > end) {  // damage: return nothing
    unlock();
    return;
  }
  while (low + chunk_ <= oldest && end <= low + capacity_) {
    segment_->unback(data_offset_ + (low & (capacity_ - 1)), chunk_);
    low += chunk_;
  }
  // relaxed: published by the unlock's release below.
  b.unbacked_below.store(low, std::memory_order_relaxed);
  unlock();
  unbacked_cache_ = low;
}

}  // namespace shmring::detail
