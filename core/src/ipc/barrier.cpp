#include "shmring/ipc/barrier.hpp"

#include <new>
#include <utility>

#include "shmring/ipc/lock.hpp"

namespace shmring {

using platform::Deadline;

namespace {

// Every field of the layout below changes under the internal lock; relaxed
// accesses inside it are ordered by its acquire/release. Observers outside
// it (n_waiting, broken, generation) read relaxed snapshots.

// Under the lock: ends generation `g` for its waiters with `outcome`. A
// waiting slot gets it through signal_slot (and a wake); a slot whose
// waiter already gave up (timed_out, deciding under the lock next) gets it
// by a plain store, which that waiter reads once it holds the lock.
void end_generation(BarrierLayout& b, std::uint64_t g, std::uint32_t outcome) noexcept {
  for (WaiterSlotLayout& s : b.waiters.slots) {
    // SYNC(slot-free): acquire — pairs with free_slot's release (see claim_slot).
    if (s.owner.load(std::memory_order_acquire) == 0 || s.tag.load(std::memory_order_relaxed) != g) continue;
    if (!detail::signal_slot(s, outcome)) {
      std::uint32_t cur = kSlotTimedOut;
      // relaxed: the waiter reads it after taking the lock we hold.
      (void)s.state.compare_exchange_strong(cur, outcome, std::memory_order_relaxed, std::memory_order_relaxed);
    }
  }
}

// Under the lock: Python's _break().
void break_barrier(BarrierLayout& b) noexcept {
  b.broken.store(1, std::memory_order_relaxed);
  end_generation(b, b.generation.load(std::memory_order_relaxed), kSlotBroken);
}

// Takes the internal lock; a takeover from a dead holder breaks the barrier
// (whatever that holder was doing to it may be half-done).
void lock_barrier(BarrierLayout& b, std::uint64_t me) noexcept {
  if (detail::acquire_owner(b.lock, me, forever) == AcquireStatus::owner_died) break_barrier(b);
}

// The last party of generation g, under the barrier's lock: runs the action
// (if it throws, the barrier breaks and the exception propagates), wakes the
// waiting parties and opens generation g + 1. Releases the lock.
void pass_generation(BarrierLayout& b, std::uint64_t g, const std::function<void()>& action) {
  if (action) {
    try {
      action();
    } catch (...) {
      break_barrier(b);
      detail::release_owner(b.lock);
      throw;
    }
  }
  end_generation(b, g, kSlotSignalled);
  b.count.store(0, std::memory_order_relaxed);
  b.generation.store(g + 1, std::memory_order_relaxed);
  // SYNC(lock): release inside — the next generation's arrivals see it all.
  detail::release_owner(b.lock);
}

// Waits in waiter slot `slot` until the generation ends or the deadline
// passes; frees the slot. Returns kSlotSignalled (passed), kSlotBroken, or
// kSlotTimedOut (this party's timeout broke the barrier).
std::uint32_t await_generation(BarrierLayout& b, std::uint32_t slot, Deadline deadline, std::uint64_t me) noexcept {
  WaiterSlotLayout& s = b.waiters.slots[slot];
  std::uint32_t outcome = detail::await_slot(s, deadline);
  if (outcome != kSlotTimedOut) {
    // SYNC(slot): await_slot's acquire saw the ender's release: the parties'
    // writes before they arrived are visible to us now (barrier semantics).
    detail::free_slot(b.waiters, slot);
    return outcome;
  }
  // Decide under the lock, as Python's final predicate check: an ender
  // that came first has stored the outcome into our slot.
  lock_barrier(b, me);
  outcome = s.state.load(std::memory_order_relaxed);  // relaxed: written under the lock we hold
  if (outcome == kSlotTimedOut) break_barrier(b);     // our generation is still on: our timeout breaks it
  detail::free_slot(b.waiters, slot);
  detail::release_owner(b.lock);
  return outcome;
}

}  // namespace

const char* to_string(BarrierStatus s) noexcept {
  switch (s) {
    case BarrierStatus::passed: return "passed";
    case BarrierStatus::broken: return "broken";
    case BarrierStatus::timeout: return "timeout";
    case BarrierStatus::handle_closed: return "handle_closed";
  }
  return "?";
}

void BarrierRef::initialize(BarrierLayout& layout, std::uint32_t parties) noexcept {
  // relaxed: not shared yet; publishing the layout orders these stores.
  layout.parties = parties;
  layout.count.store(0, std::memory_order_relaxed);
  layout.broken.store(0, std::memory_order_relaxed);
  layout.generation.store(0, std::memory_order_relaxed);
}

// A null b_: a moved-from or default-constructed handle (barrier.hpp).
BarrierResult BarrierRef::wait(Wait wait) {
  if (b_ == nullptr) [[unlikely]]
    return {BarrierStatus::handle_closed, 0};
  BarrierLayout& b = *b_;
  // The deadline starts with the call; taking the internal lock counts against it.
  const Deadline deadline = wait.is_nowait() ? Deadline::expired() : wait.deadline();
  const std::uint64_t me = detail::my_token();
  lock_barrier(b, me);
  if (b.broken.load(std::memory_order_relaxed) != 0) {
    detail::release_owner(b.lock);
    return {BarrierStatus::broken, 0};
  }
  const std::uint64_t g = b.generation.load(std::memory_order_relaxed);
  const std::uint32_t index = b.count.load(std::memory_order_relaxed);
  // A bad `parties` (a damaged file) cannot make a party wait forever: >= passes.
  if (index + 1 >= b.parties) {
    pass_generation(b, g, action_);  // releases the lock, also when the action throws
    return {BarrierStatus::passed, index};
  }
  const std::uint32_t slot = detail::claim_slot(b.waiters, me, g);
  if (slot == kWaiterSlots) {
    // Only with more live threads in the barrier than it has slots (parties
    // are at most kWaiterSlots, so lagging waiters of older generations):
    // this caller cannot wait; it breaks the barrier rather than stall it.
    break_barrier(b);
    detail::release_owner(b.lock);
    return {BarrierStatus::broken, 0};
  }
  b.count.store(index + 1, std::memory_order_relaxed);
  detail::release_owner(b.lock);
  const std::uint32_t outcome = await_generation(b, slot, deadline, me);
  if (outcome == kSlotSignalled) return {BarrierStatus::passed, index};
  return {outcome == kSlotTimedOut ? BarrierStatus::timeout : BarrierStatus::broken, 0};
}

void BarrierRef::reset() noexcept {
  if (b_ == nullptr) [[unlikely]]
    return;
  BarrierLayout& b = *b_;
  lock_barrier(b, detail::my_token());
  const std::uint64_t g = b.generation.load(std::memory_order_relaxed);
  end_generation(b, g, kSlotBroken);
  b.count.store(0, std::memory_order_relaxed);
  b.broken.store(0, std::memory_order_relaxed);
  b.generation.store(g + 1, std::memory_order_relaxed);
  detail::release_owner(b.lock);
}

void BarrierRef::abort() noexcept {
  if (b_ == nullptr) [[unlikely]]
    return;
  BarrierLayout& b = *b_;
  lock_barrier(b, detail::my_token());
  break_barrier(b);
  detail::release_owner(b.lock);
}

// relaxed: observers' snapshots.
std::uint32_t BarrierRef::n_waiting() const noexcept {
  if (b_ == nullptr) return 0;
  return b_->broken.load(std::memory_order_relaxed) != 0 ? 0 : b_->count.load(std::memory_order_relaxed);
}
bool BarrierRef::broken() const noexcept { return b_ != nullptr && b_->broken.load(std::memory_order_relaxed) != 0; }
std::uint64_t BarrierRef::generation() const noexcept {
  return b_ != nullptr ? b_->generation.load(std::memory_order_relaxed) : 0;
}

// ---- named --------------------------------------------------------------------------

Result<Barrier> Barrier::create(std::string_view name, std::uint32_t parties, Action action,
                                const SyncOptions& options) {
  if (parties < 1 || parties > kWaiterSlots) return fail(Errc::invalid_argument, "barrier parties not in 1..128");
  auto seg = detail::create_sync_segment(name, kBarrierKind, kBarrierLayoutHash, sizeof(BarrierLayout), options);
  if (!seg) return seg.error();
  auto* b = new (seg->payload()) BarrierLayout{};
  initialize(*b, parties);
  seg->publish();  // SYNC(publish): release — the layout is visible to openers
  return Barrier(std::move(*seg), *b, std::move(action));
}

// The slots need no check (an unknown owner is a dead waiter; states are
// only compared); `parties` decides when the barrier passes.
Result<Barrier> Barrier::open(std::string_view name, Action action, const SyncOpenOptions& options) {
  auto seg = detail::open_sync_segment(name, kBarrierKind, kBarrierLayoutHash, sizeof(BarrierLayout), options);
  if (!seg) return seg.error();
  auto* b = std::launder(platform::layout_at<BarrierLayout>(seg->payload()));
  if (b->parties < 1 || b->parties > kWaiterSlots) return fail(Errc::corrupt, "barrier parties not in 1..128");
  return Barrier(std::move(*seg), *b, std::move(action));
}

}  // namespace shmring
