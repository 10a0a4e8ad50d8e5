#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "shmring/platform/futex.hpp"

namespace shmring::platform {

// Deliberately not sys_call(): EINTR must go back to the caller, which
// re-checks its predicate against the same absolute deadline.
FutexResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (!deadline.is_never()) {
    ts.tv_sec = static_cast<time_t>(deadline.ns() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline.ns() % 1'000'000'000);
    tsp = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute timeout on CLOCK_MONOTONIC (no
  // FUTEX_CLOCK_REALTIME). Shared (non-private) futex: waiters are in other processes.
  const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, tsp,
                            nullptr, FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return FutexResult::woken;
  switch (errno) {
    case EAGAIN: return FutexResult::value_changed;
    case ETIMEDOUT: return FutexResult::timed_out;
    case EINTR: return FutexResult::interrupted;
    default: return FutexResult::failed;
  }
}

int futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace shmring::platform
