// Lock and RLock: process-shared locks with the semantics of Python's
// multiprocessing.Lock and RLock, which also detect a holder's death.
//
// LockRef / RLockRef work on a LockLayout (sync_layout.hpp) inside any mapped
// shmring segment; Lock / RLock are named objects owning a segment that holds
// exactly one. Every handle is a view: it holds no per-call state, so one
// handle may be shared by the threads of a process (unlike a Queue handle).
//
// Ownership. The owner word names the holding *thread*: its tid and its start
// time (platform::current_thread(), packed with platform::pack_owner), the
// same liveness proof the Queue uses for its roles.
//  * Lock is not recursive: a second acquire by the holding thread waits (and
//    times out, or deadlocks with `forever`), as in Python. As in Python, any
//    thread or process may release it.
//  * RLock is recursive per thread; only the holding thread may release it
//    (else ReleaseStatus::not_owner, Python's RuntimeError), and it is free
//    once released as many times as it was acquired.
//
// Owner death. When the holder is dead — its thread exited, alone or with its
// process (gone, a zombie, or its tid now names another thread: liveness
// proof, never a timeout alone; a SIGSTOPped holder is alive) — the next
// acquirer takes the lock over with a single compare-exchange and gets
// AcquireStatus::owner_died: it holds the lock (an RLock at depth 1), the lock
// stays usable, and takeovers() counts the event. What the dead holder
// protected may be half-updated; repairing it is the caller's job.
//
// Detection window. A dead holder never releases, so no wake comes. A waiter
// therefore parks in slices of at most kOwnerCheckInterval (20 ms) and, at the
// end of every slice that did not see the lock free, checks the holder's
// liveness (one read of /proc/<tid>/stat, a few microseconds). A waiter
// already parked when the holder dies takes the lock over at most one slice
// plus its scheduling delay after the death; one that arrives later checks at
// the end of its first slice, or at once with nowait/try_acquire, or before
// reporting a timeout. A liveness check costs nothing while the lock is free
// or changes hands: only waits that see no release for a whole slice make one.
//
// std::scoped_lock / std::unique_lock. lock() waits forever and treats
// owner_died like acquired: BasicLockable's lock() must leave the caller
// holding the lock and has no way to return a status, and throwing after
// taking it over would leave it held by nobody's guard. Code that must know
// uses acquire(); code that only used lock() can compare takeovers() before
// and after. try_lock() is acquire(nowait) != timeout; unlock() is release().
//
// Waking. release() wakes every parked waiter of the lock (blocking.hpp's
// protocol: a futex wake only when someone sleeps); they race for it, so the
// lock is not fair, like Python's.
//
// A moved-from Lock or RLock (and a default-constructed LockRef/RLockRef)
// holds no lock: acquire() and release() return handle_closed and change
// nothing, locked() and is_owned() are false, depth() and takeovers() 0,
// path() "". Moving a named object moves its mapping: the moved-from handle
// never points into memory the new one may unmap (misuse_test.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "shmring/platform/segment.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/blocking/intervals.hpp"  // kOwnerCheckInterval: the detection window
#include "shmring/blocking/wait.hpp"

namespace shmring {

class LockRef : public detail::Lockable<LockRef> {
 public:
  LockRef() = default;
  explicit LockRef(LockLayout& layout) noexcept : l_(&layout) {}

  // Python's acquire(block=True, timeout=None): forever, nowait, or a duration.
  [[nodiscard]] AcquireStatus acquire(Wait wait = forever) noexcept;
  [[nodiscard]] AcquireStatus try_acquire() noexcept { return acquire(nowait); }
  // Frees the lock, whoever holds it (Python allows any process or thread).
  [[nodiscard]] ReleaseStatus release() noexcept;
  // lock(), try_lock(), unlock(): detail::Lockable (see the header comment).

  [[nodiscard]] bool locked() const noexcept;
  // The calling thread holds it.
  [[nodiscard]] bool is_owned() const noexcept;
  // Times the lock was taken over from a dead holder (by anyone).
  [[nodiscard]] std::uint64_t takeovers() const noexcept;
  [[nodiscard]] LockLayout* layout() const noexcept { return l_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return l_ != nullptr; }

 private:
  LockLayout* l_ = nullptr;
};

class RLockRef : public detail::Lockable<RLockRef> {
 public:
  RLockRef() = default;
  explicit RLockRef(LockLayout& layout) noexcept : l_(&layout) {}

  // Re-entrant: the holding thread gets `acquired` at once and one level more.
  [[nodiscard]] AcquireStatus acquire(Wait wait = forever) noexcept;
  [[nodiscard]] AcquireStatus try_acquire() noexcept { return acquire(nowait); }
  // One level less; free at 0. not_owner when the calling thread does not hold it.
  [[nodiscard]] ReleaseStatus release() noexcept;

  [[nodiscard]] bool locked() const noexcept;
  [[nodiscard]] bool is_owned() const noexcept;
  // Recursion depth when the calling thread holds it, else 0.
  [[nodiscard]] std::uint64_t depth() const noexcept;
  [[nodiscard]] std::uint64_t takeovers() const noexcept;
  [[nodiscard]] LockLayout* layout() const noexcept { return l_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return l_ != nullptr; }

 private:
  LockLayout* l_ = nullptr;
};

namespace detail {
// The owner-word operations under LockRef and RLockRef, for the objects
// built on a lock (Condition, Barrier, Value): the calling thread's token;
// take the word (from 0, or from a proved-dead holder: owner_died) before
// the wait ends; free it and wake the waiters.
[[nodiscard]] std::uint64_t my_token() noexcept;
[[nodiscard]] AcquireStatus acquire_owner(LockLayout& l, std::uint64_t me, Wait wait) noexcept;
void release_owner(LockLayout& l) noexcept;
}  // namespace detail

// A named Lock: /dev/shm/<name> (or an absolute path) holding one LockLayout.
// Moves, unlink() and path(): detail::NamedSync.
class Lock : public detail::NamedSync<LockRef, kLockKind> {
 public:
  [[nodiscard]] static Result<Lock> create(std::string_view name, const SyncOptions& options = {});
  [[nodiscard]] static Result<Lock> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  Lock(platform::Segment segment, LockLayout& layout) noexcept : NamedSync(std::move(segment), layout) {}
};

// A named RLock (a distinct segment kind: a Lock file does not open as an RLock).
class RLock : public detail::NamedSync<RLockRef, kRLockKind> {
 public:
  [[nodiscard]] static Result<RLock> create(std::string_view name, const SyncOptions& options = {});
  [[nodiscard]] static Result<RLock> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  RLock(platform::Segment segment, LockLayout& layout) noexcept : NamedSync(std::move(segment), layout) {}
};

}  // namespace shmring
