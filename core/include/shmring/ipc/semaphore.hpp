// Semaphore and BoundedSemaphore: process-shared counting semaphores with the
// semantics of Python's multiprocessing.Semaphore and BoundedSemaphore.
//
// SemaphoreRef works on a SemaphoreLayout (sync_layout.hpp) inside any mapped
// segment (initialize it before sharing); Semaphore / BoundedSemaphore are
// named objects. A handle holds no per-call state: threads may share one.
//
// acquire(wait) takes one unit (acquired), or returns timeout when none came
// before the wait ended; release() gives one back and wakes the waiters.
// A BoundedSemaphore refuses a release above its initial value
// (ReleaseStatus::too_many, Python's ValueError), and any semaphore one above
// kSemaphoreValueMax; nothing changes then.
//
// A semaphore has no owner (any process may release what another acquired),
// so a process that dies holding units does not give them back — as in
// Python. Use a Lock when a holder's death must be detected.
//
// A moved-from (or default-constructed) handle holds no semaphore:
// acquire() and release() return handle_closed, try_lock() is false, lock()
// and unlock() do nothing, get_value() and bound() are 0, bounded() false,
// path() "".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "shmring/platform/segment.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

class SemaphoreRef {
 public:
  SemaphoreRef() = default;
  // Copies the bound: it is fixed once the layout is shared.
  explicit SemaphoreRef(SemaphoreLayout& layout) noexcept
      : s_(&layout), bounded_(layout.bounded != 0), bound_(layout.bound) {}

  // Sets up a layout before any other process sees it (value <= kSemaphoreValueMax).
  static void initialize(SemaphoreLayout& layout, std::uint32_t value, bool bounded) noexcept;

  // acquired or timeout (never owner_died: a semaphore has no owner).
  [[nodiscard]] AcquireStatus acquire(Wait wait = forever) noexcept;
  [[nodiscard]] AcquireStatus try_acquire() noexcept { return acquire(nowait); }
  // ok, or too_many (bounded and at its initial value, or at kSemaphoreValueMax).
  [[nodiscard]] ReleaseStatus release() noexcept;

  // BasicLockable/Lockable, for std::scoped_lock / std::unique_lock.
  void lock() noexcept { (void)acquire(forever); }  // moved-from: returns at once, holding nothing
  [[nodiscard]] bool try_lock() noexcept { return acquire(nowait) == AcquireStatus::acquired; }
  void unlock() noexcept { (void)release(); }

  // Python's get_value(): the count now (a snapshot under concurrency).
  [[nodiscard]] std::uint32_t get_value() const noexcept;
  [[nodiscard]] bool bounded() const noexcept { return bounded_; }
  [[nodiscard]] std::uint32_t bound() const noexcept { return bound_; }
  [[nodiscard]] SemaphoreLayout* layout() const noexcept { return s_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }

 private:
  SemaphoreLayout* s_ = nullptr;
  bool bounded_ = false;
  std::uint32_t bound_ = 0;
};

// Python's Semaphore(value=1), named.
// Moves, unlink() and path(): detail::NamedSync.
class Semaphore : public detail::NamedSync<SemaphoreRef, kSemaphoreKind> {
 public:
  [[nodiscard]] static Result<Semaphore> create(std::string_view name, std::uint32_t value = 1,
                                                const SyncOptions& options = {});
  [[nodiscard]] static Result<Semaphore> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  Semaphore(platform::Segment segment, SemaphoreLayout& layout) noexcept : NamedSync(std::move(segment), layout) {}
};

// Python's BoundedSemaphore(value=1), named (a distinct segment kind).
class BoundedSemaphore : public detail::NamedSync<SemaphoreRef, kBoundedSemaphoreKind> {
 public:
  [[nodiscard]] static Result<BoundedSemaphore> create(std::string_view name, std::uint32_t value = 1,
                                                       const SyncOptions& options = {});
  [[nodiscard]] static Result<BoundedSemaphore> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  BoundedSemaphore(platform::Segment segment, SemaphoreLayout& layout) noexcept
      : NamedSync(std::move(segment), layout) {}
};

}  // namespace shmring
