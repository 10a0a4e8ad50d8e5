#include "shmring/blocking/waiter_slots.hpp"

#include "shmring/platform/cpu.hpp"
#include "shmring/platform/futex.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/blocking/blocking.hpp"

namespace shmring::detail {

namespace {

// Spins before parking: a notify often follows within microseconds (the
// notifier was about to take the lock when we released it).
constexpr std::uint32_t kSpins = 128;

[[nodiscard]] bool has_outcome(std::uint32_t s) noexcept { return s != kSlotWaiting && s != kSlotSleeping; }

}  // namespace

bool slot_owner_dead(const WaiterSlotLayout& s) noexcept {
  // relaxed: read under the object's lock, which ordered the owner's claim.
  const std::uint64_t token = s.owner.load(std::memory_order_relaxed);
  return platform::is_dead(token);
}

std::uint32_t claim_slot(WaiterTableLayout& t, std::uint64_t me, std::uint64_t tag) noexcept {
  // Claims happen under the object's lock, whose acquire/release orders
  // them. A Barrier's waiter frees its slot without the lock (free_slot):
  // SYNC(slot-free): acquire — pairs with free_slot's release store of
  // owner, so the freer's last writes come before ours.
  std::uint32_t found = kWaiterSlots;
  for (std::uint32_t i = 0; i < kWaiterSlots && found == kWaiterSlots; ++i) {
    if (t.slots[i].owner.load(std::memory_order_acquire) == 0) found = i;
  }
  if (found == kWaiterSlots) {
    // Full: free the slots of waiters proved dead (killed while waiting, or
    // after their outcome but before they freed the slot).
    for (std::uint32_t i = 0; i < kWaiterSlots; ++i) {
      if (slot_owner_dead(t.slots[i])) {
        free_slot(t, i);
        if (found == kWaiterSlots) found = i;
      }
    }
    if (found == kWaiterSlots) return kWaiterSlots;
  }
  WaiterSlotLayout& s = t.slots[found];
  s.tag.store(tag, std::memory_order_relaxed);
  s.state.store(kSlotWaiting, std::memory_order_relaxed);
  s.owner.store(me, std::memory_order_relaxed);
  return found;
}

void free_slot(WaiterTableLayout& t, std::uint32_t i) noexcept {
  WaiterSlotLayout& s = t.slots[i];
  // A dead owner's waiter can no longer touch `state`; a live owner frees
  // only its own slot, after it stopped waiting.
  s.state.store(kSlotIdle, std::memory_order_relaxed);
  s.tag.store(0, std::memory_order_relaxed);
  // SYNC(slot-free): release — pairs with claim_slot's acquire load: a
  // claimer that sees the slot free sees it cleared (a Barrier's waiter
  // frees without holding the lock).
  s.owner.store(0, std::memory_order_release);
}

bool signal_slot(WaiterSlotLayout& s, std::uint32_t outcome) noexcept {
  // relaxed: a first guess; the compare-exchange decides.
  std::uint32_t cur = s.state.load(std::memory_order_relaxed);
  for (;;) {
    if (has_outcome(cur)) return false;  // gave up (timed_out), or signalled already
    // SYNC(slot): release — pairs with the waiter's acquire in await_slot:
    // what the signaller (and, through the object's lock, everyone before
    // it) wrote is visible to the waiter once it sees the outcome.
    if (s.state.compare_exchange_weak(cur, outcome, std::memory_order_release, std::memory_order_relaxed)) break;
  }
  if (cur == kSlotSleeping) (void)platform::futex_wake(s.state, 1);
  return true;
}

std::uint32_t await_slot(WaiterSlotLayout& s, platform::Deadline deadline) noexcept {
  // SYNC(slot): acquire — pairs with signal_slot's release compare-exchange.
  std::uint32_t cur = s.state.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < kSpins && cur == kSlotWaiting && deadline.ns() != 0; ++i) {
    platform::cpu_relax();
    cur = s.state.load(std::memory_order_acquire);  // SYNC(slot): as above
  }
  for (;;) {
    if (has_outcome(cur)) return cur;
    if (deadline.passed()) {
      // Give up — unless a signal got in first, which we then report. Exactly
      // one of this CAS and the signaller's succeeds.
      // SYNC(slot): acquire on failure — we then read the outcome.
      if (s.state.compare_exchange_strong(cur, kSlotTimedOut, std::memory_order_acquire, std::memory_order_acquire)) {
        return kSlotTimedOut;
      }
      continue;
    }
    if (cur == kSlotWaiting) {
      // acquire on failure: an outcome arrived. The success order needs only
      // relaxed (the futex compare below is what must see it, and the
      // signaller's CAS reads it from the same word), but GCC's __atomic
      // builtins reject a failure order stronger than the success order
      // (-Winvalid-memory-model, an error under -Werror once the sanitizer
      // builds inline it), so success is acquire too: this is the path that
      // is about to sleep, one CAS's ordering costs nothing here.
      if (!s.state.compare_exchange_strong(cur, kSlotSleeping, std::memory_order_acquire, std::memory_order_acquire)) {
        continue;
      }
      cur = kSlotSleeping;
    }
    // Whatever comes back (woken, changed, EINTR, timed out, spurious), the
    // loop re-reads the word against the same absolute deadline.
    // One slice at most (intervals.hpp, kParkSlice): a signaller killed
    // between its outcome and its wake sends no wake.
    if (platform::futex_wait(s.state, kSlotSleeping, park_slice(deadline)) == platform::FutexResult::failed) {
      pause_after_refused_wait(deadline);
    }
    cur = s.state.load(std::memory_order_acquire);  // SYNC(slot): as above
  }
}

}  // namespace shmring::detail
