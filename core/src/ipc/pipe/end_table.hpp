// The handles of one end of a shared-ends Pipe: PipeEndLayout's holder
// slots (one per handle, naming the process it lives in), the end's closed
// flag (PipeControlLayout::closed) and the lock that orders changes to both.
//
// What stays true:
// - The end is closed only when no slot names a live process, and a closed
//   end never gains a holder: joins, leaves and closes happen under the
//   lock, so no join slips between a leave's last look at the slots and
//   the close that follows it.
// - A dead process's slots count as free. Deaths take no lock and send no
//   word: whoever finds no live holder (the last handle's leave, or the
//   other side looking while it waits) takes the lock, looks again and
//   closes the end.
// - Every change under the lock is one store (a slot, the flag), so a lock
//   holder killed anywhere leaves the table whole; its lock (it names a
//   thread) is taken over by the next taker once it is proved dead.
// Whoever sees the end closed closes the pipe's directions (their queues'
// close(): the closing process may die before it does that itself).
//
// Rare operations all: a handle's first use, its close, a fork, and the
// other side's look once per kOwnerCheckInterval while it waits. None is on
// the path of a send or recv that does not wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "../role_slot.hpp"
#include "shmring/ipc/pipe_layout.hpp"
#include "shmring/platform/cpu.hpp"
#include "shmring/platform/process.hpp"

namespace shmring::detail {

class EndTable {
 public:
  EndTable(PipeEndLayout& end, std::atomic<std::uint32_t>& closed) noexcept : end_(&end), closed_(&closed) {}

  enum class Joined : std::uint8_t { ok, closed, full };
  struct JoinResult {
    Joined result;
    std::uint32_t slot;
  };

  // A slot naming `me` (this process) for a new handle: a free slot, or
  // else one whose process is dead.
  [[nodiscard]] JoinResult join(std::uint64_t me) noexcept {
    const Lock lock(*end_);
    if (closed()) return {Joined::closed, 0};
    std::optional<std::uint32_t> found;
    for (std::uint32_t i = 0; i < kPipeHolders && !found; ++i) {
      if (end_->holder[i].load(std::memory_order_relaxed) == 0) found = i;
    }
    for (std::uint32_t i = 0; i < kPipeHolders && !found; ++i) {
      if (platform::is_dead(end_->holder[i].load(std::memory_order_relaxed))) found = i;
    }
    if (!found) return {Joined::full, 0};
    // relaxed: the lock's release publishes it to the next lock holder; a
    // lock-free reader (alive_holder) that misses it looks again under the lock.
    end_->holder[*found].store(me, std::memory_order_relaxed);
    return {Joined::ok, *found};
  }

  // Frees slot `i` if it still names `me`; then closes the end if no live
  // holder is left. True: the end is closed now (by this call or before).
  bool leave(std::uint32_t i, std::uint64_t me) noexcept {
    const Lock lock(*end_);
    if (i < kPipeHolders) {
      std::uint64_t expected = me;
      (void)end_->holder[i].compare_exchange_strong(expected, 0, std::memory_order_relaxed);
    }
    return close_if_abandoned_locked(me);
  }

  // Frees slot `i` if it still names `me`, without closing: the caller holds
  // another slot on the end (a fork that failed gives back the slot kept
  // for its child).
  void drop(std::uint32_t i, std::uint64_t me) noexcept {
    if (i >= kPipeHolders) return;
    const Lock lock(*end_);
    std::uint64_t expected = me;
    (void)end_->holder[i].compare_exchange_strong(expected, 0, std::memory_order_relaxed);
  }

  // Hands slot `i` from `from` to `to` (a forked child takes the slot its
  // parent kept for it). No lock: the parent, which the slot names, is alive
  // and waits in fork() until the slot is the child's (or gives it back),
  // so the end cannot close in between. False: it no longer names `from`.
  bool hand_over(std::uint32_t i, std::uint64_t from, std::uint64_t to) noexcept {
    if (i >= kPipeHolders) return false;
    // relaxed: the slot's value is all that is exchanged (the parent waits for it).
    return end_->holder[i].compare_exchange_strong(from, to, std::memory_order_relaxed, std::memory_order_relaxed);
  }

  // The process slot `i` names now (0: free).
  [[nodiscard]] std::uint64_t slot_token(std::uint32_t i) const noexcept {
    return i < kPipeHolders ? end_->holder[i].load(std::memory_order_relaxed) : 0;
  }

  // The other side's look: true when the end is closed, or no handle of it
  // is left in a live process (then it is closed now). `me`: this process
  // (its own slots are alive without a look at /proc).
  [[nodiscard]] bool closed_or_abandoned(std::uint64_t me) noexcept {
    if (closed()) return true;
    if (alive_holder(me)) return false;
    const Lock lock(*end_);
    return close_if_abandoned_locked(me);
  }

  [[nodiscard]] bool closed() const noexcept {
    // SYNC(end-close): acquire — pairs with the store in
    // close_if_abandoned_locked(): when the last holder closed its handle,
    // what it published to the directions before is visible. (When the last
    // holders died, what they published is visible through their exit,
    // which the liveness proof read from /proc.)
    return closed_->load(std::memory_order_acquire) != 0;
  }

 private:
  // The end's lock, held by this thread for one change.
  class Lock {
   public:
    explicit Lock(PipeEndLayout& end) noexcept
        : word_(&end.lock), me_(platform::pack_owner(platform::current_thread())) {
      // take_role_slot: acq_rel — we see every change the previous holder made.
      while (!take_role_slot(*word_, me_)) platform::yield_cpu();
    }
    ~Lock() { give_back_role_slot(*word_, me_); }  // release: our changes go to the next holder
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    std::atomic<std::uint64_t>* word_;
    std::uint64_t me_;
  };

  // Some slot names a live process (the first one found ends the look).
  [[nodiscard]] bool alive_holder(std::uint64_t me) const noexcept {
    for (std::uint32_t i = 0; i < kPipeHolders; ++i) {
      // relaxed: only the token matters. A slot missed while a join is made
      // under the lock is seen when the caller looks again under it.
      const std::uint64_t token = end_->holder[i].load(std::memory_order_relaxed);
      if (token != 0 && (token == me || platform::is_alive(token))) return true;
    }
    return false;
  }

  bool close_if_abandoned_locked(std::uint64_t me) noexcept {
    if (closed()) return true;
    if (alive_holder(me)) return false;
    // SYNC(end-close): release — see closed().
    closed_->store(1, std::memory_order_release);
    return true;
  }

  PipeEndLayout* end_;
  std::atomic<std::uint32_t>* closed_;
};

}  // namespace shmring::detail
