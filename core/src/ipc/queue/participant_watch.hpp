// The dead-participant watch of an MPMC wait: who blocks us, and since when.
// A participant that blocks others at the same record for kDeadOwnerCheck
// (intervals.hpp) without progress is due a liveness check; the engine then
// repairs its record if it is proved dead (MpmcEngine::check_blocker).
// A participant that claims after we parked and then dies never notifies:
// MPMC waits park in slices of kDeadOwnerCheck so the watch runs.
#pragma once

#include <chrono>
#include <cstdint>

#include "shmring/blocking/intervals.hpp"
#include "shmring/engine/mpmc_ring.hpp"
#include "shmring/platform/clock.hpp"

namespace shmring::detail {

class ParticipantWatch {
 public:
  // True once `b` has blocked us, unchanged, for a whole window; then again
  // one window later. No blocker (kNoOwner) resets the watch.
  [[nodiscard]] bool due(const Blocker& b) noexcept {
    if (b.owner == kNoOwner) {
      *this = ParticipantWatch{};
      return false;
    }
    const std::int64_t now = platform::monotonic_ns();
    if (b.owner != blocker_.owner || b.pos != blocker_.pos || since_ == 0) {
      blocker_ = b;
      since_ = now;
      return false;
    }
    if (now - since_ < std::chrono::nanoseconds(kDeadOwnerCheck).count()) return false;
    since_ = now;  // the next check one window later
    return true;
  }

 private:
  Blocker blocker_;
  std::int64_t since_ = 0;  // monotonic ns when blocker_ was first seen; 0: none
};

}  // namespace shmring::detail
