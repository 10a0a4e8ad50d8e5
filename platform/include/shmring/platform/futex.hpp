// Futex wait/wake on a 32-bit word in shared memory (not FUTEX_PRIVATE: the
// waiters are in other processes). Waits take an absolute CLOCK_MONOTONIC
// deadline through FUTEX_WAIT_BITSET, so a retry never extends the wait.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmring/platform/clock.hpp"

namespace shmring::platform {

static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain lock-free 32-bit integer");

enum class FutexResult : std::uint8_t {
  woken,          // a wake arrived (or a spurious return): re-check the predicate
  value_changed,  // *word != expected when the kernel looked
  timed_out,      // the deadline passed
  interrupted,    // a signal handler ran (EINTR): re-check the predicate
  failed,         // the kernel refused (ENOSYS, EFAULT, EINVAL): the caller must not spin on it
};

// Sleeps while *word == expected, until woken or `deadline`. The caller loops,
// re-checking its predicate against the same deadline, whatever comes back.
FutexResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept;

// Wakes up to `count` waiters; returns how many were woken.
int futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

inline constexpr int kWakeAll = 0x7fffffff;

}  // namespace shmring::platform
