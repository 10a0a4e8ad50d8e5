// Wait: how long a put/get may block. Forever, not at all, or a relative
// timeout that becomes an absolute CLOCK_MONOTONIC deadline once, when the
// call starts.
//
// Extreme timeouts (too large to represent means forever, never now),
// checked by misuse_test.cpp's MisuseTimeouts tests:
//  * A timeout too large for int64 nanoseconds (milliseconds::max(),
//    seconds::max(), hours(10^9), an infinite duration<double>) waits
//    forever, as do finite ones that end past the clock's range.
//  * A zero or negative timeout, duration::min() included, is nowait: one
//    attempt, then full/empty/timeout at once. Python's multiprocessing does
//    the same (Queue.get/put pass a negative timeout to SemLock.acquire and
//    poll, which treat it as 0; queue.Queue would raise ValueError instead).
//  * A NaN duration<double> is nowait.
#pragma once

#include <chrono>

#include "shmring/platform/clock.hpp"

namespace shmring {

class Wait {
 public:
  [[nodiscard]] static constexpr Wait forever() noexcept { return Wait(Kind::forever, {}); }
  [[nodiscard]] static constexpr Wait nowait() noexcept { return Wait(Kind::nowait, {}); }
  // Python's timeout: a relative duration (<= 0 behaves like nowait; one too
  // large to represent waits forever: see the header comment).
  template <class Rep, class Period>
  constexpr Wait(std::chrono::duration<Rep, Period> timeout) noexcept  // NOLINT: implicit by design
      : kind_(Kind::timeout), timeout_(platform::saturating_ns(timeout)) {
    if (timeout_ == std::chrono::nanoseconds::max()) kind_ = Kind::forever;
  }

  [[nodiscard]] constexpr bool is_nowait() const noexcept {
    return kind_ == Kind::nowait || (kind_ == Kind::timeout && timeout_.count() <= 0);
  }
  [[nodiscard]] constexpr bool is_forever() const noexcept { return kind_ == Kind::forever; }

  // Reads the clock only for a real timeout.
  [[nodiscard]] platform::Deadline deadline() const noexcept {
    switch (kind_) {
      case Kind::forever: return platform::Deadline::never();
      case Kind::nowait: return platform::Deadline::expired();
      case Kind::timeout: break;
    }
    return platform::Deadline::after(timeout_);
  }

 private:
  enum class Kind : unsigned char { forever, nowait, timeout };
  constexpr Wait(Kind k, std::chrono::nanoseconds t) noexcept : kind_(k), timeout_(t) {}
  Kind kind_;
  std::chrono::nanoseconds timeout_;
};

inline constexpr Wait forever = Wait::forever();
inline constexpr Wait nowait = Wait::nowait();

// A relative timeout held as nanoseconds without overflow: any duration
// converts to it implicitly and saturates (platform::saturating_ns), so
// `options.ready_timeout = std::chrono::hours::max()` means "wait as long as
// it takes", never "give up now". A negative one acts as zero.
class Timeout {
 public:
  constexpr Timeout() noexcept = default;
  template <class Rep, class Period>
  constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit by design
      : ns_(platform::saturating_ns(d)) {}
  [[nodiscard]] constexpr std::chrono::nanoseconds ns() const noexcept { return ns_; }
  constexpr operator std::chrono::nanoseconds() const noexcept { return ns_; }  // NOLINT: implicit by design
  friend constexpr bool operator==(Timeout, Timeout) noexcept = default;

 private:
  std::chrono::nanoseconds ns_{0};
};

namespace detail {

// The deadline of a call's wait, read from the clock once and only when the
// call must wait.
class LazyDeadline {
 public:
  explicit LazyDeadline(Wait wait) noexcept : wait_(wait) {}
  // The deadline; on first use it starts now.
  [[nodiscard]] platform::Deadline get() noexcept {
    if (!set_) {
      deadline_ = wait_.deadline();
      set_ = true;
    }
    return deadline_;
  }
  // Before a park: false when the deadline has passed (a first call starts
  // it and never reports it passed: the first park always happens).
  [[nodiscard]] bool may_wait() noexcept {
    if (!set_) {
      (void)get();
      return true;
    }
    return !deadline_.passed();
  }
  // For a participant mid-claim ahead of us: nowait callers still give it 100 us.
  [[nodiscard]] platform::Deadline busy_deadline() noexcept {
    if (!set_) {
      deadline_ = wait_.is_nowait() ? platform::Deadline::after(std::chrono::microseconds(100)) : wait_.deadline();
      set_ = true;
    }
    return deadline_;
  }

 private:
  Wait wait_;
  platform::Deadline deadline_ = platform::Deadline::expired();
  bool set_ = false;
};

}  // namespace detail

}  // namespace shmring
