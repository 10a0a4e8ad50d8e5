// Segment: a named file mapped into this process (process-local handle; the
// shared part is SegmentHeaderLayout followed by the object's payload).
//
// A name without '/' lives in /dev/shm; an absolute path may name a file on
// any file system that supports mmap(MAP_SHARED), fallocate and flock —
// hugetlbfs or a disk file — in a directory the caller may write. The final
// component must not be a symbolic link (never followed), and the file must
// be one shmring made: create never adopts an existing file, open and unlink
// check its header first.
//
// How a name comes to exist (the argument is in segment.cpp, "Why this is
// right"): create makes the file without a name (O_TMPFILE, or a temporary
// name where the file system lacks it), sizes and reserves it, writes the
// whole header with state `initializing` and the creator's identity (pid and
// start time), and only then links it at the name, which fails if anything
// is there. So a name only ever holds a complete header: an opener never
// sees an empty, short or zero file in the making, and a creator that dies
// leaves either nothing, a temporary file named after it (removed by the
// next create in that directory that uses temporary names), or a file
// whose header says who made it (removed by the next create or open of the
// name). Either is removed only once that creator is proven dead (pid +
// start time; a stopped process is alive).
//
// Create reserves every byte up front (posix_fallocate), so a full tmpfs or
// a file size limit (RLIMIT_FSIZE) is an error at create time and never a
// SIGBUS or SIGXFSZ later, and publishes the header's ready state last —
// unless the spec leaves the end of the payload sparse (reserved_payload):
// then the object must back() a range before it touches it, and may
// unback() a range nobody needs, returning its memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shmring/platform/error.hpp"
#include "shmring/platform/segment_layout.hpp"

namespace shmring::platform {

inline constexpr std::string_view kDefaultSegmentDir = "/dev/shm";

// What the creator writes in the header.
struct SegmentSpec {
  std::uint32_t kind = 0;
  std::uint32_t layout_version = 0;
  std::uint64_t layout_hash = 0;
  std::uint64_t payload_size = 0;
  std::uint32_t mode = 0600;  // applied exactly (umask does not narrow it)
  // Payload bytes reserved at create, from its start; the rest stays sparse.
  std::uint64_t reserved_payload = ~std::uint64_t{0};
};

// What an opener expects to find.
struct SegmentExpect {
  std::uint32_t kind = 0;
  std::uint32_t layout_version = 0;
  std::uint64_t layout_hash = 0;
  std::uint64_t min_payload_size = 0;
  // How long to wait for a live creator whose file is still `initializing`
  // before reporting not_ready (a dead creator's: creator_died at once).
  std::chrono::nanoseconds ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // accept a file owned by another uid
};

// "/dev/shm/<name>" for a plain name, the path itself for an absolute path.
[[nodiscard]] Result<std::string> segment_path(std::string_view name);

class Segment {
 public:
  // Creates, reserves and maps the file, and links it at the name with the
  // header in state `initializing`. The caller fills the payload and then
  // calls publish() (from this process: the header names it as the creator).
  // A Segment destroyed before publish() removes its file again.
  // Errors: exists (a ready object, a live creator's file, a symlink or any
  // file that is not a shmring segment holds the name), no_space (tmpfs or
  // disk full, RLIMIT_FSIZE below the file size: nothing is left behind).
  // A dead creator's leftover at the name is removed and the name taken.
  [[nodiscard]] static Result<Segment> create(std::string_view name, const SegmentSpec& spec);
  // Opens and checks the file. A live creator's file still `initializing` is
  // waited for up to expect.ready_timeout (then not_ready); one whose creator
  // is proven dead is removed and reported as creator_died at once. A name
  // with nothing at it is not_found at once (a create in progress is not
  // visible until its file is complete).
  [[nodiscard]] static Result<Segment> open(std::string_view name, const SegmentExpect& expect);
  // Removes the name if it holds a shmring segment of `kind` (ready, or
  // still being made — its creator keeps what it mapped, as every holder
  // does). Refused, the file untouched: wrong_kind, bad_magic / truncated /
  // empty_file (not a shmring segment), bad_layout (other byte order),
  // is_symlink, not_regular_file.
  [[nodiscard]] static Result<void> unlink(std::string_view name, std::uint32_t kind);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  // Makes the segment visible to openers: every write before this call
  // happens-before any opener's reads.
  void publish() noexcept;

  [[nodiscard]] std::byte* payload() const noexcept { return base_ + payload_offset_; }
  [[nodiscard]] std::uint64_t payload_size() const noexcept { return payload_size_; }
  [[nodiscard]] const SegmentHeaderLayout& header() const noexcept {
    return *layout_at<const SegmentHeaderLayout>(base_);
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  // Reserves memory for payload bytes [offset, offset + size) (fallocate):
  // Errc::no_space when tmpfs or memory is full — never a SIGBUS later.
  [[nodiscard]] Result<void> back(std::uint64_t offset, std::uint64_t size) const noexcept;
  // Returns the memory of payload bytes [offset, offset + size) (punches a
  // hole; the bytes read as zero afterwards). Page-aligned ranges only.
  void unback(std::uint64_t offset, std::uint64_t size) const noexcept;
  // Bytes of memory the file holds now (its allocated blocks).
  [[nodiscard]] std::uint64_t allocated_bytes() const noexcept;

 private:
  Segment() = default;
  void release() noexcept;

  std::byte* base_ = nullptr;
  std::size_t map_size_ = 0;
  std::uint64_t payload_offset_ = 0;
  std::uint64_t payload_size_ = 0;
  std::string path_;
  int fd_ = -1;               // kept open for back()/unback()
  bool unpublished_ = false;  // created here and not yet published
};

namespace detail {
// Makes create use a temporary name instead of O_TMPFILE, as it does on a
// file system without O_TMPFILE (tests exercise that path with it).
void use_named_temp_files(bool on) noexcept;
}  // namespace detail

}  // namespace shmring::platform
