// Waiter slots: a fixed table of per-waiter futex words with owner tokens,
// the waiting mechanism of Condition and Barrier (condition.hpp, barrier.hpp).
//
// Why not the shared parking word (blocking.hpp). A Condition's notify(1)
// must reach one *particular* waiter (the oldest live one), and a Barrier's
// waiters must each learn how *their* generation ended (passed or broken),
// even when later generations have ended since. A shared futex word wakes
// whoever the kernel picks (notify_one may wake a waiter that was not the one
// notified, which goes back to sleep while the notified one sleeps on: a lost
// wake), and a shared state word is overwritten by the next generation. So
// each waiter owns a slot: its own futex word, which carries its outcome, and
// its thread token, so a notifier can prove a waiter dead and skip it.
//
// Slot protocol. Claiming and freeing a slot, and choosing whom to signal,
// happen under the owning object's lock (a Condition's user lock, a Barrier's
// internal lock). The waiter changes only its own `state`, without the lock,
// and only by compare-exchange:
//
//   waiter                                    signaller (holds the lock)
//   (under lock) state = waiting; owner = me  s = state
//   release the lock                          if s is waiting or sleeping:
//   spin: state != waiting? done                CAS(state, s -> outcome)
//   CAS(state, waiting -> sleeping)             if s was sleeping: futex_wake(state, 1)
//   futex_wait(state, sleeping, deadline)
//   deadline: CAS(state, waiting|sleeping -> timed_out)
//
// No lost wake: the waiter sleeps only on the value `sleeping` it wrote
// itself. If the signaller's CAS comes first, the waiter's CAS (or the
// kernel's compare in futex_wait) fails and it sees the outcome; if the
// waiter's CAS comes first, the signaller's CAS sees `sleeping` and wakes.
// Both are read-modify-writes of one word, so no fences are needed beyond
// their orders. A waiter that gives up (timed_out) and a signaller race on
// the same word: exactly one CAS wins, so a signal is either delivered (the
// waiter reports it) or never made (the signaller moves on to another slot):
// a timed-out waiter never absorbs a notify.
//
// A waiter killed while waiting leaves its slot in `waiting`/`sleeping` with
// a dead owner token: signallers that must choose prove it dead
// (platform::is_dead) and free the slot; a claim that finds the table full
// frees the slots of dead owners.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring {

// Slot states (the futex word's values).
inline constexpr std::uint32_t kSlotIdle = 0;       // not in use
inline constexpr std::uint32_t kSlotWaiting = 1;    // registered, maybe spinning
inline constexpr std::uint32_t kSlotSleeping = 2;   // parked (or about to be) on the word
inline constexpr std::uint32_t kSlotSignalled = 3;  // Condition: notified; Barrier: passed
inline constexpr std::uint32_t kSlotBroken = 4;     // Barrier: its generation broke or was reset
inline constexpr std::uint32_t kSlotTimedOut = 5;   // the waiter gave up first

struct WaiterSlotLayout {
  std::atomic<std::uint64_t> owner;  // the waiting thread's token (pack_owner); 0: free
  std::atomic<std::uint64_t> tag;    // Condition: FIFO ticket; Barrier: generation
  std::atomic<std::uint32_t> state;  // the futex word (kSlot*)
  std::uint32_t reserved0;
  std::uint64_t reserved1;
};

static_assert(std::is_standard_layout_v<WaiterSlotLayout>, "shared layouts must be standard-layout");
static_assert(sizeof(WaiterSlotLayout) == 32 && offsetof(WaiterSlotLayout, state) == 16,
              "four slots per 128 bytes; offsets are the file format");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "slot words must be lock-free in shared memory");

// How many threads may wait on one Condition, or one Barrier, at once.
inline constexpr std::uint32_t kWaiterSlots = 128;

struct WaiterTableLayout {
  WaiterSlotLayout slots[kWaiterSlots];
};
static_assert(sizeof(WaiterTableLayout) == 32 * kWaiterSlots, "the table is the slots, nothing more");

namespace detail {

// Under the object's lock: claims a free slot for `me` with `tag`, state
// waiting. If none is free, frees the slots of proved-dead owners first.
// Returns the index, or kWaiterSlots when every slot has a live owner.
[[nodiscard]] std::uint32_t claim_slot(WaiterTableLayout& t, std::uint64_t me, std::uint64_t tag) noexcept;

// Frees slot `i`: under the object's lock, or by its own waiter once it has
// its outcome (a Barrier's waiter does not take the lock again).
void free_slot(WaiterTableLayout& t, std::uint32_t i) noexcept;

// Under the object's lock: moves slot `i` from waiting/sleeping to `outcome`
// and wakes its waiter. false when the waiter had given up or already had an
// outcome (nothing changed).
[[nodiscard]] bool signal_slot(WaiterSlotLayout& s, std::uint32_t outcome) noexcept;

// Without the lock, by the slot's owner: waits until the slot has an outcome
// or `deadline` passes, then returns the outcome, or kSlotTimedOut when it
// gave up (a signal that raced with it lost, so none was absorbed).
[[nodiscard]] std::uint32_t await_slot(WaiterSlotLayout& s, platform::Deadline deadline) noexcept;

// The slot's waiter is proved dead (platform::is_dead; a stopped one is alive).
[[nodiscard]] bool slot_owner_dead(const WaiterSlotLayout& s) noexcept;

}  // namespace detail
}  // namespace shmring
