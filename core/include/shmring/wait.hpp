// Wait: how long a put/get may block. Forever, not at all, or a relative
// timeout that becomes an absolute CLOCK_MONOTONIC deadline once, when the
// call starts.
#pragma once

#include <chrono>

#include "shmring/platform/clock.hpp"

namespace shmring {

class Wait {
 public:
  [[nodiscard]] static constexpr Wait forever() noexcept { return Wait(Kind::forever, {}); }
  [[nodiscard]] static constexpr Wait nowait() noexcept { return Wait(Kind::nowait, {}); }
  // Python's timeout: a relative duration (<= 0 behaves like nowait).
  template <class Rep, class Period>
  constexpr Wait(std::chrono::duration<Rep, Period> timeout) noexcept  // NOLINT: implicit by design
      : kind_(Kind::timeout), timeout_(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)) {}

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

}  // namespace shmring
