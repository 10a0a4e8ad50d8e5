#include "shmring/ipc/lock.hpp"

#include <algorithm>
#include <new>
#include <utility>

#include "shmring/blocking/blocking.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"

namespace shmring {

using platform::Deadline;

namespace detail {

std::uint64_t my_token() noexcept { return platform::pack_owner(platform::current_thread()); }

// The acquire loop of Lock and RLock: take `owner` from 0 to `me`, or from a
// dead holder's token to `me`, before the wait ends.
AcquireStatus acquire_owner(LockLayout& l, std::uint64_t me, Wait wait) noexcept {
  std::uint64_t cur = 0;
  // SYNC(lock): acquire — pairs with the previous holder's release (the
  // release store in release_owner(), or LockRef::release()'s release
  // exchange): everything it wrote under the lock is visible to us.
  if (l.owner.compare_exchange_strong(cur, me, std::memory_order_acquire, std::memory_order_relaxed)) {
    return AcquireStatus::acquired;
  }
  const Deadline deadline = wait.is_nowait() ? Deadline::expired() : wait.deadline();
  bool check_holder = wait.is_nowait();  // nowait checks at once; a wait after its first slice
  AdaptiveSpin spin;                     // per call, not per handle: a handle is shared by threads
  BlockingStats stats;
  for (;;) {
    if (cur == 0) {
      // SYNC(lock): acquire — as above. A failure reloads `cur`.
      if (l.owner.compare_exchange_weak(cur, me, std::memory_order_acquire, std::memory_order_relaxed)) {
        return AcquireStatus::acquired;
      }
      continue;
    }
    if (check_holder && cur != me) {
      check_holder = false;
      if (platform::is_dead(cur)) {  // a proof (liveness()), never a guess or a stopped thread
        // One compare-exchange from the dead token: of all the waiters that
        // proved the same death, exactly one wins; a token never comes back
        // (a dead thread acquires nothing), so there is no ABA.
        // SYNC(lock): acquire — our reads of the protected data come after
        // the takeover (the dead holder's stores are in the same coherent
        // shared memory; nothing of it is in flight once it is dead).
        if (l.owner.compare_exchange_strong(cur, me, std::memory_order_acquire, std::memory_order_relaxed)) {
          // relaxed: a statistic; nothing is published through it.
          l.takeovers.fetch_add(1, std::memory_order_relaxed);
          return AcquireStatus::owner_died;
        }
        continue;  // released or taken over meanwhile: `cur` is fresh
      }
    }
    if (deadline.passed()) return AcquireStatus::timeout;
    // Park for one slice at most: a dead holder sends no wake, so the end of
    // the slice is when we look for its death (the detection window).
    const Deadline slice = slice_end(deadline, kOwnerCheckInterval);
    // SYNC(lock): acquire in the predicate, paired with release()'s store of
    // 0; the store-then-fence-then-flag order is blocking.hpp's protocol.
    const bool freed = wait_until(
        l.park, [&] { return l.owner.load(std::memory_order_acquire) == 0; }, slice, spin, stats);
    if (!freed) check_holder = true;
    // relaxed: only a hint; the compare-exchange that acts on it re-reads.
    cur = l.owner.load(std::memory_order_relaxed);
  }
}

// Frees `owner` and wakes the parked waiters.
void release_owner(LockLayout& l) noexcept {
  BlockingStats stats;
  // SYNC(lock): release — pairs with the acquirer's compare-exchange.
  l.owner.store(0, std::memory_order_release);
  notify(l.park, stats);  // its seq_cst fence orders the store before the sleeping-flag load
}

}  // namespace detail

using detail::acquire_owner;
using detail::my_token;
using detail::release_owner;

// ---- Lock -----------------------------------------------------------------------

// A null l_: a moved-from or default-constructed handle (lock.hpp).
AcquireStatus LockRef::acquire(Wait wait) noexcept {
  if (l_ == nullptr) [[unlikely]]
    return AcquireStatus::handle_closed;
  return acquire_owner(*l_, my_token(), wait);
}

ReleaseStatus LockRef::release() noexcept {
  if (l_ == nullptr) [[unlikely]]
    return ReleaseStatus::handle_closed;
  // SYNC(lock): release — pairs with the next acquirer's compare-exchange.
  if (l_->owner.exchange(0, std::memory_order_release) == 0) return ReleaseStatus::not_held;
  BlockingStats stats;
  notify(l_->park, stats);
  return ReleaseStatus::ok;
}

// relaxed: observers only; a snapshot that may be stale when it returns.
bool LockRef::locked() const noexcept { return l_ != nullptr && l_->owner.load(std::memory_order_relaxed) != 0; }
bool LockRef::is_owned() const noexcept {
  return l_ != nullptr && l_->owner.load(std::memory_order_relaxed) == my_token();
}
std::uint64_t LockRef::takeovers() const noexcept {
  return l_ != nullptr ? l_->takeovers.load(std::memory_order_relaxed) : 0;
}

// ---- RLock ----------------------------------------------------------------------

AcquireStatus RLockRef::acquire(Wait wait) noexcept {
  if (l_ == nullptr) [[unlikely]]
    return AcquireStatus::handle_closed;
  const std::uint64_t me = my_token();
  // relaxed: only this thread ever stores `me` (a token names one live
  // thread), so seeing it means we hold the lock and ordered it ourselves.
  if (l_->owner.load(std::memory_order_relaxed) == me) {
    // relaxed: depth is touched only by the holding thread.
    l_->depth.store(l_->depth.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return AcquireStatus::acquired;
  }
  const AcquireStatus st = acquire_owner(*l_, me, wait);
  // relaxed: written after our acquire of the owner word, read only by us;
  // a dead holder's depth is overwritten here.
  if (st != AcquireStatus::timeout) l_->depth.store(1, std::memory_order_relaxed);
  return st;
}

ReleaseStatus RLockRef::release() noexcept {
  if (l_ == nullptr) [[unlikely]]
    return ReleaseStatus::handle_closed;
  // relaxed: see acquire(); a thread that does not hold it never sees its token.
  if (l_->owner.load(std::memory_order_relaxed) != my_token()) return ReleaseStatus::not_owner;
  const std::uint64_t d = l_->depth.load(std::memory_order_relaxed);
  if (d > 1) {
    l_->depth.store(d - 1, std::memory_order_relaxed);
    return ReleaseStatus::ok;
  }
  l_->depth.store(0, std::memory_order_relaxed);  // ordered before the owner's release store
  release_owner(*l_);
  return ReleaseStatus::ok;
}

bool RLockRef::locked() const noexcept { return l_ != nullptr && l_->owner.load(std::memory_order_relaxed) != 0; }
bool RLockRef::is_owned() const noexcept {
  return l_ != nullptr && l_->owner.load(std::memory_order_relaxed) == my_token();
}
std::uint64_t RLockRef::depth() const noexcept { return is_owned() ? l_->depth.load(std::memory_order_relaxed) : 0; }
std::uint64_t RLockRef::takeovers() const noexcept {
  return l_ != nullptr ? l_->takeovers.load(std::memory_order_relaxed) : 0;
}

// ---- named --------------------------------------------------------------------------

Result<Lock> Lock::create(std::string_view name, const SyncOptions& options) {
  auto seg = detail::create_sync_segment(name, kLockKind, kLockLayoutHash, sizeof(LockLayout), options);
  if (!seg) return seg.error();
  auto* l = new (seg->payload()) LockLayout{};  // free: owner 0
  seg->publish();                               // SYNC(publish): release — the layout is visible to openers
  return Lock(std::move(*seg), *l);
}

// Any owner word is acceptable: an unknown token is a dead holder, taken over
// by the next acquirer; depth is reset by whoever takes the lock.
Result<Lock> Lock::open(std::string_view name, const SyncOpenOptions& options) {
  auto seg = detail::open_sync_segment(name, kLockKind, kLockLayoutHash, sizeof(LockLayout), options);
  if (!seg) return seg.error();
  auto* l = std::launder(platform::layout_at<LockLayout>(seg->payload()));
  return Lock(std::move(*seg), *l);
}

Result<RLock> RLock::create(std::string_view name, const SyncOptions& options) {
  auto seg = detail::create_sync_segment(name, kRLockKind, kLockLayoutHash, sizeof(LockLayout), options);
  if (!seg) return seg.error();
  auto* l = new (seg->payload()) LockLayout{};
  seg->publish();  // SYNC(publish): release — the layout is visible to openers
  return RLock(std::move(*seg), *l);
}

Result<RLock> RLock::open(std::string_view name, const SyncOpenOptions& options) {
  auto seg = detail::open_sync_segment(name, kRLockKind, kLockLayoutHash, sizeof(LockLayout), options);
  if (!seg) return seg.error();
  auto* l = std::launder(platform::layout_at<LockLayout>(seg->payload()));
  return RLock(std::move(*seg), *l);
}

}  // namespace shmring
