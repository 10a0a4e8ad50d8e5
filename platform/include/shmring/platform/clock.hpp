// Monotonic time and absolute deadlines. A relative timeout is turned into a
// Deadline once, at the API boundary, so retries (EINTR, spurious wakeups)
// never stretch or cut a wait, and wall-clock changes never touch it.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>
#include <utility>

namespace shmring::platform {

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call). The same clock for
// every process on the machine, so processes may compare its readings.
[[nodiscard]] std::int64_t monotonic_ns() noexcept;

// Sleeps until the absolute CLOCK_MONOTONIC time `ns` (EINTR resumes the sleep).
void sleep_until_ns(std::int64_t ns) noexcept;

// `d` in nanoseconds, saturating: a duration beyond what int64 nanoseconds
// hold (about 292 years: milliseconds::max(), seconds::max(), hours(1e9), a
// floating-point infinity) becomes nanoseconds::max(), which every deadline
// below treats as "never"; one below it becomes nanoseconds::min(), which is
// "now". A NaN is zero ("now"). The plain duration_cast would overflow and
// turn "forever" into a past deadline. Exact for every duration that fits.
template <class Rep, class Period>
[[nodiscard]] constexpr std::chrono::nanoseconds saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using std::chrono::nanoseconds;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  // One unit of Period in nanoseconds, reduced.
  using R = std::ratio_divide<Period, std::nano>;
  const Rep c = d.count();
  if constexpr (std::is_floating_point_v<Rep>) {
    const long double n = static_cast<long double>(c) * R::num / R::den;
    if (n != n) return nanoseconds::zero();  // NaN
    // 2^63 is exact in every floating type; anything at or past it saturates.
    constexpr long double kLimit = 9223372036854775808.0L;
    if (n >= kLimit) return nanoseconds::max();
    if (n <= -kLimit) return nanoseconds::min();
    return nanoseconds(static_cast<std::int64_t>(n));
  } else if constexpr (R::den == 1) {
    // Coarser than (or as fine as) nanoseconds: the multiplication is what overflows.
    if (std::cmp_greater(c, kMax / R::num)) return nanoseconds::max();
    if (std::cmp_less(c, kMin / R::num)) return nanoseconds::min();
    return nanoseconds(static_cast<std::int64_t>(c) * R::num);
  } else {
    // Finer than nanoseconds, or an odd period: divide first.
    static_assert(R::num <= kMax / R::den, "a duration period this odd is not supported");
    if (std::cmp_greater(c, kMax)) return nanoseconds::max();
    if (std::cmp_less(c, kMin)) return nanoseconds::min();
    const auto v = static_cast<std::int64_t>(c);
    const std::int64_t whole = v / R::den;
    if (whole > kMax / R::num) return nanoseconds::max();
    if (whole < kMin / R::num) return nanoseconds::min();
    return nanoseconds(whole * R::num + (v % R::den) * R::num / R::den);
  }
}

class Deadline {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  [[nodiscard]] static constexpr Deadline never() noexcept { return Deadline(kNever); }
  // Already expired: a wait with this deadline polls once.
  [[nodiscard]] static constexpr Deadline expired() noexcept { return Deadline(0); }
  [[nodiscard]] static constexpr Deadline at_ns(std::int64_t ns) noexcept { return Deadline(ns); }
  // `d` from now: <= 0 is expired (polls once); a sum past the clock's range is never.
  [[nodiscard]] static Deadline after(std::chrono::nanoseconds d) noexcept {
    if (d.count() <= 0) return expired();
    const std::int64_t now = monotonic_ns();
    return Deadline(d.count() > kNever - now ? kNever : now + d.count());
  }
  // Any duration, converted without overflow (saturating_ns): too large to
  // represent is never, never "now".
  template <class Rep, class Period>
  [[nodiscard]] static Deadline after(std::chrono::duration<Rep, Period> d) noexcept {
    return after(saturating_ns(d));
  }

  [[nodiscard]] constexpr bool is_never() const noexcept { return ns_ == kNever; }
  [[nodiscard]] constexpr std::int64_t ns() const noexcept { return ns_; }
  [[nodiscard]] bool passed() const noexcept { return !is_never() && (ns_ == 0 || monotonic_ns() >= ns_); }

 private:
  constexpr explicit Deadline(std::int64_t ns) noexcept : ns_(ns) {}
  std::int64_t ns_;
};

}  // namespace shmring::platform
