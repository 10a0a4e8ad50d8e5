// The detection intervals: how long a waiter that nobody may ever wake parks
// before it looks again, and the one helper that cuts a wait into such slices.
//
// A process that dies (or is killed) at the wrong moment sends no wake-up: a
// lock holder never releases, a pipe peer never sends EOF, an MPMC
// participant never finishes the record others wait behind, a notifier dies
// between its store and its wake. Every wait therefore parks in slices and,
// at the end of a slice that saw no progress, checks what it waits on.
//
//   kDeadOwnerCheck     10 ms  MPMC queue: a participant blocking others this
//                              long has its liveness checked (and its record
//                              repaired if it is dead).
//   kOwnerCheckInterval 20 ms  Lock/RLock holder, Pipe peer: liveness checked
//                              at the end of every slice without progress.
//   kParkSlice         100 ms  Every other park (blocking.hpp): a lost wake
//                              costs at most this long.
//
// They must keep kDeadOwnerCheck <= kOwnerCheckInterval <= kParkSlice: a
// waiter on something that can die checks at least as often as the general
// park bound; the general bound is the longest since each re-park costs a
// futex call and a heavy barrier (about 0.1% of a core per blocked waiter at
// 100 ms; docs/architecture.md). A liveness check is one read of
// /proc/<pid>/stat (a few microseconds), made only by a wait that saw no
// progress for a whole slice.
#pragma once

#include <chrono>
#include <cstdint>

#include "shmring/platform/clock.hpp"

namespace shmring {

inline constexpr std::chrono::milliseconds kDeadOwnerCheck{10};
inline constexpr std::chrono::milliseconds kOwnerCheckInterval{20};
inline constexpr std::chrono::milliseconds kParkSlice{100};
static_assert(kDeadOwnerCheck <= kOwnerCheckInterval && kOwnerCheckInterval <= kParkSlice);

// The end of the next slice: `deadline`, or `slice` from now if sooner.
[[nodiscard]] inline platform::Deadline slice_end(platform::Deadline deadline,
                                                  std::chrono::nanoseconds slice) noexcept {
  const std::int64_t end = platform::monotonic_ns() + slice.count();
  return deadline.is_never() || deadline.ns() > end ? platform::Deadline::at_ns(end) : deadline;
}

}  // namespace shmring
