#include <sched.h>
#include <sys/random.h>

#include <chrono>

#include "shmring/platform/cpu.hpp"

namespace shmring::platform {

int available_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

bool pin_to_cpu(int cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

void yield_cpu() noexcept { (void)::sched_yield(); }

std::uint32_t current_cpu_slow() noexcept {
  const int cpu = ::sched_getcpu();
  return cpu < 0 ? 0 : static_cast<std::uint32_t>(cpu);
}

std::uint64_t random_u64() noexcept {
  std::uint64_t v = 0;
  std::size_t got = 0;
  while (got < sizeof(v)) {
    const ssize_t n = ::getrandom(reinterpret_cast<char*>(&v) + got, sizeof(v) - got, 0);
    if (n <= 0) break;  // EINTR or no getrandom: fall back below
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof(v)) {  // not secret, only unpredictable enough to never match user bytes by accident
    v ^=
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) * 0x9e3779b97f4a7c15ull;
  }
  return v == 0 ? 1 : v;
}

}  // namespace shmring::platform
