// Segment: a named file mapped into this process (process-local handle; the
// shared part is SegmentHeaderLayout followed by the object's payload).
//
// A name without '/' lives in /dev/shm; an absolute path may point at
// hugetlbfs or a disk file. Create reserves every byte up front
// (posix_fallocate), so a full tmpfs is an error at create time and never a
// SIGBUS later, and publishes the header's ready state last — unless the
// spec leaves the end of the payload sparse (reserved_payload): then the
// object must back() a range before it touches it, and may unback() a range
// nobody needs, returning its memory.
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
  // How long to wait for a creator that is still initialising the file (an
  // empty, short or not-yet-ready file) before reporting it as such.
  std::chrono::nanoseconds ready_timeout = std::chrono::milliseconds(1000);
  bool allow_foreign_owner = false;  // accept a file owned by another uid
};

// "/dev/shm/<name>" for a plain name, the path itself for an absolute path.
[[nodiscard]] Result<std::string> segment_path(std::string_view name);

class Segment {
 public:
  // Creates, reserves and maps the file; the header is written with state
  // `initializing`. The caller fills the payload and then calls publish().
  // A Segment destroyed before publish() removes its file again.
  [[nodiscard]] static Result<Segment> create(std::string_view name, const SegmentSpec& spec);
  [[nodiscard]] static Result<Segment> open(std::string_view name, const SegmentExpect& expect);
  [[nodiscard]] static Result<void> unlink(std::string_view name);

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

}  // namespace shmring::platform
