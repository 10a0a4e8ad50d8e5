// Condition: a process-shared condition variable with the semantics of
// Python's multiprocessing.Condition / threading.Condition, bound to a Lock
// or an RLock (lock.hpp), robust to waiters that die.
//
// ConditionRef works on a ConditionLayout (all zeroes: nobody waiting) inside
// any mapped segment, bound to a LockRef or RLockRef (typically a LockLayout
// in the same segment; several conditions may share one lock, as Python's
// Condition(lock) allows). Every process must bind it to the same lock.
// Condition is the named object: a segment holding its own lock (an RLock
// by default, as Python's Condition() creates) and the condition.
//
// Semantics (Python):
//  * wait(wait): the calling thread must hold the lock (else not_owner,
//    Python's RuntimeError). It releases the lock — an RLock fully, whatever
//    its depth — waits for a notify or the end of the wait, then re-acquires
//    the lock (without a timeout, as Python; restoring an RLock's depth) and
//    returns ok (notified) or timeout (Python: wait returns False). The
//    timeout bounds the wait for the notify; re-taking the lock may add to it.
//  * wait_for(pred, wait): Python's wait_for: returns ok as soon as pred()
//    is true (checked first, then after each wake), timeout when the wait
//    ended with pred() still false; one absolute deadline for all rounds.
//  * notify(n): wakes up to n waiters, oldest first (FIFO, as threading's
//    Condition); notify_all(): every waiter. Both require the lock (else
//    not_owner). Woken waiters return once they re-take the lock.
//  * owner_died: re-taking the lock found its holder dead (lock.hpp): the
//    caller holds the lock; what it protects may be half-updated. Whether
//    this waiter had been notified is not reported: re-check the predicate.
//
// Guarantees with dying processes. Each waiter has its own slot (thread
// token and futex word, waiter_slots.hpp), claimed under the lock.
//  * notify(n) reaches up to n waiters that were waiting when it ran and not
//    proved dead: when more than n wait, it checks the liveness of the oldest
//    ones (one /proc read each) and frees the slots of dead ones, so a waiter
//    killed while waiting never absorbs a notify(1) meant for a live one.
//    A waiter that dies *after* it was chosen takes its notify with it (as a
//    woken thread that crashes would); notify_all never checks liveness.
//  * A waiter whose wait times out gives its slot up with one compare-
//    exchange that races the notifier's: a notify is either delivered (the
//    waiter returns ok) or goes to the next waiter, never lost in between.
//    (CPython's threading.Condition can lose it in that race.)
//  * At most kWaiterSlots (128) threads wait on one condition at once; the
//    next wait() returns too_many_waiters at once (still holding the lock)
//    after freeing the slots of any dead waiters.
//  * A process killed while holding the lock: the next acquirer of the lock
//    gets owner_died (in wait(): the status owner_died).
//
// A moved-from (or default-constructed) handle holds no condition: wait,
// wait_for (pred() is not called), notify and notify_all return
// handle_closed, acquire()/release() too; is_owned() is false, n_waiting()
// and reclaimed() 0, path() "".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "shmring/ipc/lock.hpp"
#include "shmring/platform/clock.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/blocking/waiter_slots.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

inline constexpr std::uint32_t kConditionKind = 0x444e4f43u;  // "COND"

struct alignas(platform::kFalseSharingRange) ConditionLayout {
  std::atomic<std::uint64_t> next_ticket;  // under the lock: FIFO order of waiters
  // Under the lock: claimed slots, counted before a claim and after a free,
  // so it is never below the truth (a waiter killed in between leaves it
  // high); notify() re-counts it. 0 lets notify() return at once.
  std::atomic<std::uint32_t> in_use;
  std::uint32_t lock_kind;               // the named Condition's lock: kLockKind or kRLockKind; embedded: 0
  std::atomic<std::uint64_t> reclaimed;  // slots of dead waiters freed (a statistic)
  alignas(platform::kFalseSharingRange) WaiterTableLayout waiters;
};

static_assert(std::is_standard_layout_v<ConditionLayout>, "shared layouts must be standard-layout");
static_assert(offsetof(ConditionLayout, waiters) == platform::kFalseSharingRange &&
                  sizeof(ConditionLayout) == platform::kFalseSharingRange + sizeof(WaiterTableLayout),
              "the header owns its 128-byte block, the slots follow; offsets are the file format");

// The named Condition's payload: its lock, then the condition.
struct NamedConditionLayout {
  LockLayout lock;
  ConditionLayout cond;
};
static_assert(offsetof(NamedConditionLayout, cond) == sizeof(LockLayout), "the file format");

inline constexpr std::uint64_t kConditionLayoutHash = platform::layout_hash(
    sizeof(NamedConditionLayout), offsetof(NamedConditionLayout, cond), offsetof(ConditionLayout, in_use),
    offsetof(ConditionLayout, lock_kind), offsetof(ConditionLayout, reclaimed), offsetof(ConditionLayout, waiters),
    sizeof(WaiterSlotLayout), offsetof(WaiterSlotLayout, state), kWaiterSlots, kLockLayoutHash);

enum class ConditionStatus : std::uint8_t {
  ok,                // wait: notified; wait_for: pred() is true; notify: done. The caller holds the lock.
  timeout,           // wait: no notify before the wait ended (Python: False); wait_for: pred() still false
  owner_died,        // re-taking the lock found its holder dead; the caller holds it (see above)
  not_owner,         // the calling thread does not hold the lock (Python: RuntimeError); nothing changed
  too_many_waiters,  // kWaiterSlots live threads already wait; nothing changed, the caller holds the lock
  handle_closed,     // a moved-from (or default-constructed) handle: it holds no condition; nothing happened
};

[[nodiscard]] const char* to_string(ConditionStatus s) noexcept;

class ConditionRef : public detail::Lockable<ConditionRef> {
 public:
  ConditionRef() = default;
  ConditionRef(ConditionLayout& c, LockRef lock) noexcept : c_(&c), l_(lock.layout()), recursive_(false) {}
  ConditionRef(ConditionLayout& c, RLockRef lock) noexcept : c_(&c), l_(lock.layout()), recursive_(true) {}

  // The lock (Python: Condition.acquire/release, `with cond:`); lock(),
  // try_lock() and unlock() from detail::Lockable.
  [[nodiscard]] AcquireStatus acquire(Wait wait = forever) noexcept;
  [[nodiscard]] ReleaseStatus release() noexcept;
  [[nodiscard]] bool is_owned() const noexcept;

  [[nodiscard]] ConditionStatus wait(Wait wait = forever) noexcept;
  template <class Pred>
  [[nodiscard]] ConditionStatus wait_for(Pred&& pred, Wait wait = forever);
  [[nodiscard]] ConditionStatus notify(std::uint32_t n = 1) noexcept;
  [[nodiscard]] ConditionStatus notify_all() noexcept;

  // Threads waiting for a notify now (a snapshot; exact under the lock).
  [[nodiscard]] std::uint32_t n_waiting() const noexcept;
  // Slots of waiters proved dead that notify() freed.
  [[nodiscard]] std::uint64_t reclaimed() const noexcept;
  [[nodiscard]] bool recursive() const noexcept { return recursive_; }
  [[nodiscard]] ConditionLayout* layout() const noexcept { return c_; }
  [[nodiscard]] LockLayout* lock_layout() const noexcept { return l_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return c_ != nullptr && l_ != nullptr; }

 private:
  [[nodiscard]] ConditionStatus wait_until(platform::Deadline deadline) noexcept;
  ConditionLayout* c_ = nullptr;
  LockLayout* l_ = nullptr;
  bool recursive_ = false;
};

template <class Pred>
ConditionStatus ConditionRef::wait_for(Pred&& pred, Wait wait) {
  // Python calls pred() before checking the lock; we check first: pred()
  // reads what the lock protects.
  if (!valid()) return ConditionStatus::handle_closed;
  if (!is_owned()) return ConditionStatus::not_owner;
  if (pred()) return ConditionStatus::ok;
  const platform::Deadline deadline = wait.is_nowait() ? platform::Deadline::expired() : wait.deadline();
  for (;;) {
    const ConditionStatus st = wait_until(deadline);
    if (st != ConditionStatus::ok && st != ConditionStatus::timeout) return st;
    if (pred()) return ConditionStatus::ok;
    if (st == ConditionStatus::timeout) return ConditionStatus::timeout;
  }
}

struct ConditionOptions : SyncOptions {
  bool recursive = true;  // the condition's own lock: an RLock (Python's default) or a Lock
};

// A named Condition with its own lock. Moves, unlink() and path():
// detail::NamedSync.
class Condition : public detail::NamedSync<ConditionRef, kConditionKind> {
 public:
  [[nodiscard]] static Result<Condition> create(std::string_view name, const ConditionOptions& options = {});
  [[nodiscard]] static Result<Condition> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  Condition(platform::Segment segment, ConditionRef ref) noexcept : NamedSync(std::move(segment), ref) {}
};

}  // namespace shmring
