// Monotonic time and absolute deadlines. A relative timeout is turned into a
// Deadline once, at the API boundary, so retries (EINTR, spurious wakeups)
// never stretch or cut a wait, and wall-clock changes never touch it.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace shmring::platform {

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call). The same clock for
// every process on the machine, so processes may compare its readings.
[[nodiscard]] std::int64_t monotonic_ns() noexcept;

// Sleeps until the absolute CLOCK_MONOTONIC time `ns` (EINTR resumes the sleep).
void sleep_until_ns(std::int64_t ns) noexcept;

class Deadline {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  [[nodiscard]] static constexpr Deadline never() noexcept { return Deadline(kNever); }
  // Already expired: a wait with this deadline polls once.
  [[nodiscard]] static constexpr Deadline expired() noexcept { return Deadline(0); }
  [[nodiscard]] static constexpr Deadline at_ns(std::int64_t ns) noexcept { return Deadline(ns); }
  [[nodiscard]] static Deadline after(std::chrono::nanoseconds d) noexcept {
    if (d.count() <= 0) return expired();
    const std::int64_t now = monotonic_ns();
    return Deadline(d.count() > kNever - now ? kNever : now + d.count());
  }

  [[nodiscard]] constexpr bool is_never() const noexcept { return ns_ == kNever; }
  [[nodiscard]] constexpr std::int64_t ns() const noexcept { return ns_; }
  [[nodiscard]] bool passed() const noexcept {
    return !is_never() && (ns_ == 0 || monotonic_ns() >= ns_);
  }

 private:
  constexpr explicit Deadline(std::int64_t ns) noexcept : ns_(ns) {}
  std::int64_t ns_;
};

}  // namespace shmring::platform
