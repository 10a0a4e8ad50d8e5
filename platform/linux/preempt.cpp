#include "shmring/platform/preempt.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

namespace shmring::platform {

void preemption_point() noexcept {
  // Per thread, so that no point costs an atomic; seeded from the pid so
  // that forked children do not all pause at the same points.
  thread_local std::uint64_t state = 0;
  if (state == 0) {
    const auto pid = static_cast<std::uint64_t>(static_cast<std::uint32_t>(::getpid()));
    state = std::uint64_t{0x9e3779b97f4a7c15} ^ (pid * std::uint64_t{0x2545f4914f6cdd1d});
  }
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  if ((state & 63) == 0) {
    (void)::sched_yield();
  } else if ((state & 4095) == 1) {
    const timespec pause{0, static_cast<long>((state >> 20) % 2'000'000)};
    (void)::nanosleep(&pause, nullptr);
  }
}

}  // namespace shmring::platform
