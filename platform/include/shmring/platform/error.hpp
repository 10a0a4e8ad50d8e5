// Error values for setup paths (create/open/unlink), and Result<T>: a small
// in-house std::expected with the same member names (libstdc++ 12 only ships
// <expected> for C++23, and clang 14 tools cannot read it).
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace shmring {

enum class Errc : std::uint8_t {
  invalid_argument,   // an option or argument is out of range
  invalid_name,       // a segment name that is empty, too long or has bad characters
  exists,             // create: the name is already taken
  not_found,          // open/unlink: no such segment
  is_symlink,         // a symbolic link sits at the name (never followed)
  not_regular_file,   // the name is a directory, FIFO, device...
  permission_denied,  // EACCES/EPERM
  foreign_owner,      // the file belongs to another user and that was not allowed
  no_space,           // tmpfs / disk full, file size limit, or out of memory
  empty_file,         // the file has zero bytes
  truncated,          // the file is shorter than its header says or than a header
  bad_magic,          // not a shmring segment
  bad_version,        // a shmring segment of another header or layout version
  bad_layout,         // layout hash, endianness or header size differ from this build
  wrong_kind,         // a segment of another object kind (a Lock opened as a Queue)
  bad_size,           // a size field is inconsistent with the file or with itself
  not_ready,          // the creator has not published the segment within the ready timeout
  creator_died,       // open: the creator died before publishing; its leftover was removed
  corrupt,            // positions or records inside the object are out of range
  role_taken,         // another live process holds the producer/consumer role
  unsupported,        // the object needs a kernel feature this process cannot use (membarrier)
  system,             // any other errno: see Error::sys_errno
};

[[nodiscard]] const char* to_string(Errc code) noexcept;

struct Error {
  Errc code = Errc::system;
  int sys_errno = 0;         // errno when the kernel reported the failure, else 0
  const char* context = "";  // static text: the call or check that failed

  [[nodiscard]] std::string message() const;
  friend bool operator==(const Error& e, Errc c) noexcept { return e.code == c; }
};

// An error found by a check, not reported by the kernel (sys_errno 0).
[[nodiscard]] inline Error fail(Errc code, const char* context) noexcept { return Error{code, 0, context}; }

// What value() throws when a Result holds an Error (std::expected's
// bad_expected_access): the error, and its message as what().
class BadResultAccess : public std::exception {
 public:
  explicit BadResultAccess(const Error& e) : error_(e), what_(e.message()) {}
  [[nodiscard]] const Error& error() const noexcept { return error_; }
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error error_;
  std::string what_;
};

// Result<T>: a T or an Error. Member names and behaviour follow
// std::expected, but checked: value(), operator* and operator-> throw
// BadResultAccess when there is no value (std::expected leaves * and ->
// undefined there; a misuse here is a setup-path exception, never a crash);
// error() throws std::bad_variant_access when there is a value; value_or(d)
// is the value or d.
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = Error;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, error) {}         // NOLINT: implicit by design

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return checked(*this); }
  const T& value() const& { return checked(*this); }
  T&& value() && { return std::move(checked(*this)); }
  const T&& value() const&& { return std::move(checked(*this)); }
  T& operator*() & { return checked(*this); }
  const T& operator*() const& { return checked(*this); }
  T&& operator*() && { return std::move(checked(*this)); }
  const T&& operator*() const&& { return std::move(checked(*this)); }
  T* operator->() { return &checked(*this); }
  const T* operator->() const { return &checked(*this); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return has_value() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) && {
    return has_value() ? std::move(*std::get_if<0>(&v_)) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  template <class Self>
  static auto& checked(Self& self) {
    if (!self.has_value()) throw BadResultAccess(*std::get_if<1>(&self.v_));
    return *std::get_if<0>(&self.v_);
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(error), failed_(true) {}  // NOLINT: implicit by design

  using value_type = void;
  using error_type = Error;

  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  // std::expected<void, E>'s value(): throws BadResultAccess when there is an error.
  void value() const {
    if (failed_) throw BadResultAccess(error_);
  }
  [[nodiscard]] const Error& error() const noexcept { return error_; }

 private:
  Error error_{};
  bool failed_ = false;
};

}  // namespace shmring
