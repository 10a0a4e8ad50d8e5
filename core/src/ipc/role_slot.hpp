// A role slot: an owner word in shared memory that at most one live process
// holds — an SPSC queue's producer or consumer role, a pipe end. Taken with
// one compare-exchange; the word of a process proved dead (gone, a zombie,
// its pid reused: platform::is_dead) is taken over, never that of a live or
// stopped one, nor this process's own through another handle.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmring/platform/process.hpp"

namespace shmring::detail {

// True: `slot` now holds `me`. False: a live process holds it.
[[nodiscard]] inline bool take_role_slot(std::atomic<std::uint64_t>& slot, std::uint64_t me) noexcept {
  // SYNC(role): acquire — pairs with the previous holder's release in give_back_role_slot().
  std::uint64_t current = slot.load(std::memory_order_acquire);
  for (;;) {
    if (current != 0 && (current == me || platform::is_alive(current))) return false;
    // SYNC(role): acq_rel — we see the previous holder's ring publications
    // (and whatever else it stored before giving the word back).
    if (slot.compare_exchange_weak(current, me, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
  }
}

// Frees `slot` if `me` still holds it (a process that took it over after
// proving us dead keeps it).
inline void give_back_role_slot(std::atomic<std::uint64_t>& slot, std::uint64_t me) noexcept {
  std::uint64_t expected = me;
  // SYNC(role): release — the next holder sees our last publications.
  (void)slot.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
}

// Undoes a take whose follow-up check failed (nothing was published under it).
inline void drop_role_slot(std::atomic<std::uint64_t>& slot) noexcept { slot.store(0, std::memory_order_release); }

}  // namespace shmring::detail
