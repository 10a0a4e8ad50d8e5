// Event: a process-shared flag with the semantics of Python's
// multiprocessing.Event (a clone of threading.Event): set(), clear(),
// is_set(), wait(wait) -> bool.
//
// wait() returns true if and only if the flag was set before the call or
// while it waited — also when another process cleared it again before this
// waiter ran (the layout counts the set() calls) — and false only when the
// wait ended first. (CPython's multiprocessing.Event returns the flag as it
// finds it after waking; the documented threading.Event behaviour is kept.)
//
// EventRef works on an EventLayout inside any mapped segment (all zeroes: a
// clear event); Event is the named object. Handles may be shared by threads.
//
// A moved-from (or default-constructed) handle holds no event. Its calls
// have no status to return, so they answer as an event nobody can set:
// set() and clear() do nothing, is_set() is false, wait() returns false at
// once (whatever the wait), path() is "". valid() tells such a handle apart.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "shmring/platform/segment.hpp"
#include "shmring/ipc/sync_common.hpp"
#include "shmring/ipc/sync_layout.hpp"
#include "shmring/blocking/wait.hpp"

namespace shmring {

class EventRef {
 public:
  EventRef() = default;
  explicit EventRef(EventLayout& layout) noexcept : e_(&layout) {}

  // Raises the flag and wakes every waiter (a wake system call only when one sleeps).
  void set() noexcept;
  void clear() noexcept;
  [[nodiscard]] bool is_set() const noexcept;
  // Python's wait(timeout=None): forever, nowait, or a duration.
  [[nodiscard]] bool wait(Wait wait = forever) const noexcept;
  [[nodiscard]] EventLayout* layout() const noexcept { return e_; }
  // False for a moved-from or default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return e_ != nullptr; }

 private:
  EventLayout* e_ = nullptr;
};

// Moves, unlink() and path(): detail::NamedSync.
class Event : public detail::NamedSync<EventRef, kEventKind> {
 public:
  [[nodiscard]] static Result<Event> create(std::string_view name, const SyncOptions& options = {});
  [[nodiscard]] static Result<Event> open(std::string_view name, const SyncOpenOptions& options = {});

 private:
  Event(platform::Segment segment, EventLayout& layout) noexcept : NamedSync(std::move(segment), layout) {}
};

}  // namespace shmring
