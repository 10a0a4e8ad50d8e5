#include <cerrno>
#include <cstring>

#include "shmring/platform/error.hpp"
#include "shmring/platform/syscall.hpp"

namespace shmring {

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::invalid_name: return "invalid segment name";
    case Errc::exists: return "a segment with this name already exists";
    case Errc::not_found: return "no segment with this name";
    case Errc::is_symlink: return "a symbolic link is at this name (never followed)";
    case Errc::not_regular_file: return "not a regular file";
    case Errc::permission_denied: return "permission denied";
    case Errc::foreign_owner: return "the segment belongs to another user";
    case Errc::no_space: return "no space left to reserve the segment";
    case Errc::empty_file: return "the segment file is empty";
    case Errc::truncated: return "the segment file is truncated";
    case Errc::bad_magic: return "not a shmring segment (bad magic)";
    case Errc::bad_version: return "unsupported segment or layout version";
    case Errc::bad_layout: return "layout differs from this build (hash, byte order or header size)";
    case Errc::wrong_kind: return "the segment holds another kind of object";
    case Errc::bad_size: return "a size in the segment is inconsistent";
    case Errc::not_ready: return "the segment was never published by its creator";
    case Errc::creator_died: return "the segment's creator died before publishing it (its leftover was removed)";
    case Errc::corrupt: return "the object's positions or records are out of range";
    case Errc::role_taken: return "another live process holds this role";
    case Errc::unsupported: return "the object needs a kernel feature this process cannot use (membarrier)";
    case Errc::system: return "system error";
  }
  return "unknown error";
}

std::string Error::message() const {
  std::string m = to_string(code);
  if (context != nullptr && *context != '\0') {
    m += " (";
    m += context;
    m += ')';
  }
  if (sys_errno != 0) {
    m += ": ";
    m += std::strerror(sys_errno);
  }
  return m;
}

namespace platform {

Errc errc_from_errno(int err) noexcept {
  switch (err) {
    case EEXIST: return Errc::exists;
    case EISDIR:
    case ENXIO:
    case ENODEV: return Errc::not_regular_file;
    case ENOENT: return Errc::not_found;
    case ELOOP: return Errc::is_symlink;
    case EACCES:
    case EPERM: return Errc::permission_denied;
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
    case ENOMEM: return Errc::no_space;
    case EINVAL:
    case ENAMETOOLONG: return Errc::invalid_argument;
    default: return Errc::system;
  }
}

}  // namespace platform
}  // namespace shmring
