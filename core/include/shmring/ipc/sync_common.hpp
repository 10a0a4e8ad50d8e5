// What the synchronization primitives share: their status values and the
// options of their named forms (Lock, RLock, Semaphore, BoundedSemaphore,
// Event). Outcomes are values, never exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "shmring/platform/error.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

enum class AcquireStatus : std::uint8_t {
  acquired,       // the caller holds it
  owner_died,     // the caller holds it, taken over from a holder that died holding it:
                  // what that holder protected may be half-updated (Lock and RLock only)
  timeout,        // the wait ended first (nowait: it was not free)
  handle_closed,  // a moved-from (or default-constructed) handle: it holds no object; nothing happened
};

enum class ReleaseStatus : std::uint8_t {
  ok,
  not_held,       // Lock: it was not locked (Python: ValueError "released too many times")
  not_owner,      // RLock: the calling thread does not hold it (Python: RuntimeError)
  too_many,       // BoundedSemaphore: above its initial value (Python: ValueError);
                  // Semaphore: above kSemaphoreValueMax. Nothing changed.
  handle_closed,  // a moved-from (or default-constructed) handle: it holds no object; nothing happened
};

[[nodiscard]] const char* to_string(AcquireStatus s) noexcept;
[[nodiscard]] const char* to_string(ReleaseStatus s) noexcept;

// Creating a named primitive.
struct SyncOptions {
  std::uint32_t mode = 0600;  // file permissions
};

// Opening a named primitive created by another process.
struct SyncOpenOptions {
  // How long to wait for a creator that has not finished creating it.
  // (Too large to represent: as long as it takes; see Timeout, wait.hpp.)
  Timeout ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // open a file owned by another user
};

namespace detail {
// BasicLockable/Lockable (std::scoped_lock, std::unique_lock) over D's
// acquire(Wait) and release(), for the owner-tracking locks (LockRef,
// RLockRef, ConditionRef): lock() waits forever and treats owner_died like
// acquired, try_lock() is true when the caller then holds the lock
// (acquired or owner_died), unlock() is release() (lock.hpp's header
// comment says why). On a moved-from handle lock() returns at once holding
// nothing (it has no way to say so: acquire() returns handle_closed),
// try_lock() is false and unlock() does nothing.
template <class D>
class Lockable {
 public:
  void lock() noexcept { (void)self().acquire(forever); }
  [[nodiscard]] bool try_lock() noexcept {
    const AcquireStatus st = self().acquire(nowait);
    return st == AcquireStatus::acquired || st == AcquireStatus::owner_died;
  }
  void unlock() noexcept { (void)self().release(); }

 private:
  D& self() noexcept { return static_cast<D&>(*this); }
};

// A named primitive (Lock, RLock, Semaphore, BoundedSemaphore, Event,
// Condition, Barrier): its handle `Ref`, which makes every call, and the
// segment that holds the layout `Ref` points into. Moving moves both and
// leaves the source an empty Ref (a default-constructed one: every call
// answers handle_closed or does nothing), so a moved-from handle never
// points into memory the new one may unmap (misuse_test.cpp). `kKind` is
// the segment kind: a file of another kind does not open as this type, and
// unlink() leaves it alone.
template <class Ref, std::uint32_t kKind>
class NamedSync : public Ref {
 public:
  NamedSync(NamedSync&& o) noexcept : Ref(std::exchange<Ref>(o, {})), segment_(std::move(o.segment_)) {}
  NamedSync& operator=(NamedSync&& o) noexcept {
    if (this != &o) {
      Ref::operator=(std::exchange<Ref>(o, {}));
      segment_ = std::move(o.segment_);
    }
    return *this;
  }

  // Removes the name if it holds an object of this kind (Errc::wrong_kind,
  // bad_magic... otherwise: the file is left alone). An absolute path may
  // name a file on hugetlbfs or a disk; it must be one this type's create made.
  [[nodiscard]] static Result<void> unlink(std::string_view name) { return platform::Segment::unlink(name, kKind); }
  [[nodiscard]] const std::string& path() const noexcept { return segment_.path(); }

 protected:
  // `ref`: the arguments of the Ref constructor (the layout in `segment`).
  template <class... RefArgs>
  explicit NamedSync(platform::Segment segment,
                     RefArgs&&... ref) noexcept(std::is_nothrow_constructible_v<Ref, RefArgs...>)
      : Ref(std::forward<RefArgs>(ref)...), segment_(std::move(segment)) {}

 private:
  platform::Segment segment_;
};

// A segment for one primitive's layout: created (not yet published: the
// caller constructs the layout, then publishes) or opened and checked by the
// segment header (kind, layout version and hash, sizes, ready state).
[[nodiscard]] Result<platform::Segment> create_sync_segment(std::string_view name, std::uint32_t kind,
                                                            std::uint64_t layout_hash, std::uint64_t size,
                                                            const SyncOptions& options);
[[nodiscard]] Result<platform::Segment> open_sync_segment(std::string_view name, std::uint32_t kind,
                                                          std::uint64_t layout_hash, std::uint64_t size,
                                                          const SyncOpenOptions& options);
}  // namespace detail

}  // namespace shmring
