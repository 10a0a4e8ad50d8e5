// Error values for setup paths (create/open/unlink), and Result<T>: a small
// in-house std::expected with the same member names (libstdc++ 12 only ships
// <expected> for C++23, and clang 14 tools cannot read it).
#pragma once

#include <cstdint>
#include <string>
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
  int sys_errno = 0;           // errno when the kernel reported the failure, else 0
  const char* context = "";    // static text: the call or check that failed

  [[nodiscard]] std::string message() const;
  friend bool operator==(const Error& e, Errc c) noexcept { return e.code == c; }
};

// Result<T>: a T or an Error. Member names follow std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, error) {}         // NOLINT: implicit by design

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(error), failed_(true) {}  // NOLINT: implicit by design

  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] const Error& error() const { return error_; }

 private:
  Error error_{};
  bool failed_ = false;
};

}  // namespace shmring
