// The one wrapper every system call in shmring goes through: it retries EINTR
// where that is safe and turns errno into shmring::Error (iceoryx posix_call
// is the model). core/ never calls the kernel itself.
#pragma once

#include <cerrno>
#include <type_traits>

#include "shmring/platform/error.hpp"

namespace shmring::platform {

// Maps an errno value to the closest Errc.
[[nodiscard]] Errc errc_from_errno(int err) noexcept;

[[nodiscard]] inline Error sys_error(const char* what, int err) noexcept {
  return Error{errc_from_errno(err), err, what};
}

// Calls `f` (which returns -1 and sets errno on failure) until it does not fail
// with EINTR. Use only for calls that are safe to repeat as they are.
template <class F>
[[nodiscard]] auto sys_call(const char* what, F&& f) -> Result<std::invoke_result_t<F&>> {
  for (;;) {
    auto rc = f();
    if (rc != -1) return rc;
    if (errno != EINTR) return sys_error(what, errno);
  }
}

// For the calls that return the error number instead of setting errno
// (posix_fallocate, pthread_*): 0 is success.
template <class F>
[[nodiscard]] Result<void> sys_call_rc(const char* what, F&& f) {
  for (;;) {
    const int rc = f();
    if (rc == 0) return {};
    if (rc != EINTR) return sys_error(what, rc);
  }
}

}  // namespace shmring::platform
