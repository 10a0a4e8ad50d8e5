#include "shmring/ipc/condition.hpp"

#include <algorithm>
#include <new>
#include <utility>

namespace shmring {

using platform::Deadline;

namespace {

[[nodiscard]] bool is_waiting(std::uint32_t state) noexcept { return state == kSlotWaiting || state == kSlotSleeping; }
}  // namespace

const char* to_string(ConditionStatus s) noexcept {
  switch (s) {
    case ConditionStatus::ok: return "ok";
    case ConditionStatus::timeout: return "timeout";
    case ConditionStatus::owner_died: return "owner_died";
    case ConditionStatus::not_owner: return "not_owner";
    case ConditionStatus::too_many_waiters: return "too_many_waiters";
    case ConditionStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

// A null c_ or l_: a moved-from or default-constructed handle (condition.hpp).
AcquireStatus ConditionRef::acquire(Wait wait) noexcept {
  if (!valid()) [[unlikely]]
    return AcquireStatus::handle_closed;
  return recursive_ ? RLockRef(*l_).acquire(wait) : LockRef(*l_).acquire(wait);
}

ReleaseStatus ConditionRef::release() noexcept {
  if (!valid()) [[unlikely]]
    return ReleaseStatus::handle_closed;
  return recursive_ ? RLockRef(*l_).release() : LockRef(*l_).release();
}

// relaxed: only the calling thread ever stores its own token (lock.cpp).
bool ConditionRef::is_owned() const noexcept {
  return valid() && l_->owner.load(std::memory_order_relaxed) == detail::my_token();
}

ConditionStatus ConditionRef::wait(Wait wait) noexcept {
  if (!valid()) [[unlikely]]
    return ConditionStatus::handle_closed;
  return wait_until(wait.is_nowait() ? Deadline::expired() : wait.deadline());
}

ConditionStatus ConditionRef::wait_until(Deadline deadline) noexcept {
  const std::uint64_t me = detail::my_token();
  // relaxed: see is_owned().
  if (l_->owner.load(std::memory_order_relaxed) != me) return ConditionStatus::not_owner;
  ConditionLayout& c = *c_;
  // Under the lock. relaxed throughout: the lock's release (below) publishes
  // the claim to the next holder, who is the only one to read it.
  c.in_use.fetch_add(1, std::memory_order_relaxed);  // before the claim: never below the truth
  const std::uint64_t ticket = c.next_ticket.fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t slot = detail::claim_slot(c.waiters, me, ticket);
  if (slot == kWaiterSlots) {
    c.in_use.fetch_sub(1, std::memory_order_relaxed);
    return ConditionStatus::too_many_waiters;
  }
  // Release the lock entirely (an RLock at any depth: Python's _release_save).
  // relaxed: depth is the holder's own word (lock.cpp).
  const std::uint64_t depth = recursive_ ? l_->depth.load(std::memory_order_relaxed) : 0;
  if (recursive_) l_->depth.store(0, std::memory_order_relaxed);
  // SYNC(lock): release inside — a notifier that takes the lock next sees our slot.
  detail::release_owner(*l_);

  const std::uint32_t outcome = detail::await_slot(c.waiters.slots[slot], deadline);

  // Re-take the lock without a timeout (Python's _acquire_restore).
  const AcquireStatus st = detail::acquire_owner(*l_, me, forever);
  if (recursive_) l_->depth.store(depth, std::memory_order_relaxed);
  detail::free_slot(c.waiters, slot);
  c.in_use.fetch_sub(1, std::memory_order_relaxed);  // after the free: never below the truth
  if (st == AcquireStatus::owner_died) return ConditionStatus::owner_died;
  return outcome == kSlotSignalled ? ConditionStatus::ok : ConditionStatus::timeout;
}

ConditionStatus ConditionRef::notify(std::uint32_t n) noexcept {
  if (!valid()) [[unlikely]]
    return ConditionStatus::handle_closed;
  if (!is_owned()) return ConditionStatus::not_owner;
  ConditionLayout& c = *c_;
  // Under the lock; relaxed as in wait_until(). The common case (nobody
  // waits) ends here.
  if (n == 0 || c.in_use.load(std::memory_order_relaxed) == 0) return ConditionStatus::ok;
  struct Candidate {
    std::uint64_t ticket;
    std::uint32_t slot;
  };
  Candidate cand[kWaiterSlots];
  std::uint32_t k = 0, used = 0;
  for (std::uint32_t i = 0; i < kWaiterSlots; ++i) {
    WaiterSlotLayout& s = c.waiters.slots[i];
    if (s.owner.load(std::memory_order_relaxed) == 0) continue;
    ++used;
    // relaxed: a hint (the waiter moves its own state without the lock);
    // signal_slot's compare-exchange decides.
    if (is_waiting(s.state.load(std::memory_order_relaxed))) cand[k++] = {s.tag.load(std::memory_order_relaxed), i};
  }
  c.in_use.store(used, std::memory_order_relaxed);  // the recount (see the layout)
  if (k <= n) {
    // Everyone waiting is woken: no choice to make, so no liveness check (a
    // dead waiter's signal reaches nobody and deprives nobody).
    for (std::uint32_t j = 0; j < k; ++j) (void)detail::signal_slot(c.waiters.slots[cand[j].slot], kSlotSignalled);
    return ConditionStatus::ok;
  }
  // More waiters than notifies: the oldest live ones, dead ones freed on the way.
  std::sort(cand, cand + k, [](const Candidate& a, const Candidate& b) { return a.ticket < b.ticket; });
  std::uint32_t woken = 0;
  for (std::uint32_t j = 0; j < k && woken < n; ++j) {
    WaiterSlotLayout& s = c.waiters.slots[cand[j].slot];
    if (detail::slot_owner_dead(s)) {
      detail::free_slot(c.waiters, cand[j].slot);
      c.in_use.fetch_sub(1, std::memory_order_relaxed);
      c.reclaimed.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
      continue;
    }
    if (detail::signal_slot(s, kSlotSignalled)) ++woken;  // false: it timed out just now
  }
  return ConditionStatus::ok;
}

ConditionStatus ConditionRef::notify_all() noexcept {
  return notify(kWaiterSlots);  // every slot: k <= n always, so no liveness checks
}

std::uint32_t ConditionRef::n_waiting() const noexcept {
  std::uint32_t n = 0;
  if (!valid()) return n;
  for (const WaiterSlotLayout& s : c_->waiters.slots) {
    // relaxed: an observer's snapshot.
    if (s.owner.load(std::memory_order_relaxed) != 0 && is_waiting(s.state.load(std::memory_order_relaxed))) ++n;
  }
  return n;
}

std::uint64_t ConditionRef::reclaimed() const noexcept {
  return valid() ? c_->reclaimed.load(std::memory_order_relaxed) : 0;
}

// ---- named --------------------------------------------------------------------------

Result<Condition> Condition::create(std::string_view name, const ConditionOptions& options) {
  auto seg =
      detail::create_sync_segment(name, kConditionKind, kConditionLayoutHash, sizeof(NamedConditionLayout), options);
  if (!seg) return seg.error();
  auto* n = new (seg->payload()) NamedConditionLayout{};
  n->cond.lock_kind = options.recursive ? kRLockKind : kLockKind;
  const ConditionRef ref =
      options.recursive ? ConditionRef(n->cond, RLockRef(n->lock)) : ConditionRef(n->cond, LockRef(n->lock));
  seg->publish();  // SYNC(publish): release — the layout is visible to openers
  return Condition(std::move(*seg), ref);
}

// Any slot content is acceptable (a waiter's word is only ever compared or
// woken; an unknown owner token is a dead waiter); the lock kind decides
// how the lock is used, so it must be one of the two.
Result<Condition> Condition::open(std::string_view name, const SyncOpenOptions& options) {
  auto seg =
      detail::open_sync_segment(name, kConditionKind, kConditionLayoutHash, sizeof(NamedConditionLayout), options);
  if (!seg) return seg.error();
  auto* n = std::launder(platform::layout_at<NamedConditionLayout>(seg->payload()));
  const std::uint32_t kind = n->cond.lock_kind;
  if (kind != kLockKind && kind != kRLockKind) return fail(Errc::corrupt, "condition lock kind");
  const ConditionRef ref =
      kind == kRLockKind ? ConditionRef(n->cond, RLockRef(n->lock)) : ConditionRef(n->cond, LockRef(n->lock));
  return Condition(std::move(*seg), ref);
}

}  // namespace shmring
