#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <utility>

#include "shmring/platform/clock.hpp"
#include "shmring/platform/process.hpp"
#include "shmring/platform/segment.hpp"
#include "shmring/platform/syscall.hpp"

namespace shmring::platform {
namespace {

constexpr std::uint64_t kHeaderSize = sizeof(SegmentHeaderLayout);
constexpr std::size_t kMaxNameLength = 255;  // NAME_MAX of tmpfs

Error fail(Errc code, const char* context) noexcept { return Error{code, 0, context}; }

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// Closes a descriptor on every path out of create/open.
struct FdGuard {
  int fd = -1;
  FdGuard() = default;
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

struct Mapping {
  std::byte* base = nullptr;
  std::size_t size = 0;
};

Result<Mapping> map_shared(int fd, std::uint64_t size) {
  if (size > SIZE_MAX) return fail(Errc::bad_size, "segment larger than the address space");
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sys_error("mmap", errno);
  return Mapping{static_cast<std::byte*>(p), static_cast<std::size_t>(size)};
}

// The header fields open() checks, copied out of shared memory once: the
// values checked are the values used, whatever the file says a moment later.
struct HeaderCopy {
  std::uint64_t magic, layout_hash, file_size, payload_offset, payload_size;
  std::uint32_t header_version, header_size, kind, layout_version, state;
};

HeaderCopy copy_header(const SegmentHeaderLayout& h) noexcept {
  HeaderCopy c{};
  // SYNC(publish): acquire — pairs with the creator's release in publish();
  // the fields read after it are complete if it says ready.
  c.state = h.state.load(std::memory_order_acquire);
  c.magic = h.magic;
  c.header_version = h.header_version;
  c.header_size = h.header_size;
  c.kind = h.kind;
  c.layout_version = h.layout_version;
  c.layout_hash = h.layout_hash;
  c.file_size = h.file_size;
  c.payload_offset = h.payload_offset;
  c.payload_size = h.payload_size;
  return c;
}

// One attempt at validating an open file, on the private copy of its header.
Result<void> validate_header(const HeaderCopy& h, std::uint64_t file_size, const SegmentExpect& expect) {
  if (h.magic == kSegmentMagicSwapped) return fail(Errc::bad_layout, "file written with the other byte order");
  if (h.magic != kSegmentMagic) return fail(Errc::bad_magic, "header magic");
  if (h.state != static_cast<std::uint32_t>(SegmentState::ready)) {
    return fail(Errc::not_ready, "header state is not ready");
  }
  if (h.header_version != kSegmentHeaderVersion) return fail(Errc::bad_version, "segment header version");
  if (h.header_size != kHeaderSize) return fail(Errc::bad_layout, "segment header size");
  if (h.kind != expect.kind) return fail(Errc::wrong_kind, "object kind");
  if (h.layout_version != expect.layout_version) return fail(Errc::bad_version, "object layout version");
  if (h.layout_hash != expect.layout_hash) return fail(Errc::bad_layout, "object layout hash");
  if (h.file_size != file_size) {
    return fail(h.file_size > file_size ? Errc::truncated : Errc::bad_size, "header file_size vs actual file size");
  }
  if (h.payload_offset < kHeaderSize || h.payload_offset % kFalseSharingRange != 0 || h.payload_offset > file_size) {
    return fail(Errc::bad_size, "payload offset");
  }
  if (h.payload_size > file_size - h.payload_offset) return fail(Errc::bad_size, "payload larger than the file");
  if (h.payload_size < expect.min_payload_size) return fail(Errc::bad_size, "payload smaller than its layout");
  return {};
}

}  // namespace

Result<std::string> segment_path(std::string_view name) {
  if (name.empty()) return fail(Errc::invalid_name, "empty name");
  if (name.front() == '/') {
    if (name.size() > 4095 || name.back() == '/') return fail(Errc::invalid_name, "absolute path");
    if (name.find('\0') != std::string_view::npos) return fail(Errc::invalid_name, "NUL in path");
    return std::string(name);
  }
  if (name.size() > kMaxNameLength) return fail(Errc::invalid_name, "name longer than 255 bytes");
  if (name == "." || name == "..") return fail(Errc::invalid_name, "'.' and '..' are not names");
  for (const char c : name) {
    if (!is_name_char(c)) return fail(Errc::invalid_name, "names use only [A-Za-z0-9._-]");
  }
  std::string path(kDefaultSegmentDir);
  path += '/';
  path += name;
  return path;
}

Result<Segment> Segment::create(std::string_view name, const SegmentSpec& spec) {
  auto path = segment_path(name);
  if (!path) return path.error();
  if (spec.payload_size == 0 || spec.payload_size > (std::uint64_t{1} << 46)) {
    return fail(Errc::invalid_argument, "payload size must be in [1, 2^46]");
  }
  if ((spec.mode & ~0777u) != 0 || (spec.mode & 0600u) != 0600u) {
    return fail(Errc::invalid_argument, "mode must be a permission mask including 0600");
  }

  FdGuard fd;
  // O_EXCL: never adopt an existing file; O_NOFOLLOW: a symlink at the name fails.
  auto opened = sys_call("open(O_CREAT|O_EXCL)", [&] {
    return ::open(path->c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, static_cast<mode_t>(spec.mode));
  });
  if (!opened) return opened.error();
  fd.fd = *opened;

  Segment seg;
  seg.path_ = std::move(*path);
  seg.unpublished_ = true;  // from here on, a failure removes the file again (~Segment)

  // umask may have narrowed the mode; apply exactly what was asked.
  if (auto r = sys_call("fchmod", [&] { return ::fchmod(fd.fd, static_cast<mode_t>(spec.mode)); }); !r) {
    return r.error();
  }
  const std::uint64_t payload_offset = kHeaderSize;
  const std::uint64_t file_size = payload_offset + spec.payload_size;
  // Reserve every page now (or the part the spec asks for; the object backs
  // the rest itself): a full tmpfs fails here, not as SIGBUS on first touch.
  const std::uint64_t reserved =
      payload_offset + (spec.reserved_payload < spec.payload_size ? spec.reserved_payload : spec.payload_size);
  if (auto r = sys_call("ftruncate", [&] { return ::ftruncate(fd.fd, static_cast<off_t>(file_size)); }); !r) {
    return r.error();
  }
  if (auto r = sys_call_rc("posix_fallocate",
                           [&] { return ::posix_fallocate(fd.fd, 0, static_cast<off_t>(reserved)); });
      !r) {
    return r.error();
  }
  auto map = map_shared(fd.fd, file_size);
  if (!map) return map.error();
  seg.base_ = map->base;
  seg.map_size_ = map->size;
  seg.payload_offset_ = payload_offset;
  seg.payload_size_ = spec.payload_size;
  seg.fd_ = std::exchange(fd.fd, -1);

  // The file is all zeroes after fallocate; state == initializing == 0.
  auto* h = layout_at<SegmentHeaderLayout>(seg.base_);
  const ProcessId self = current_process();
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  h->magic = kSegmentMagic;
  h->header_version = kSegmentHeaderVersion;
  h->header_size = static_cast<std::uint32_t>(kHeaderSize);
  h->kind = spec.kind;
  h->layout_version = spec.layout_version;
  h->layout_hash = spec.layout_hash;
  h->file_size = file_size;
  h->payload_offset = payload_offset;
  h->payload_size = spec.payload_size;
  h->creator_pid = self.pid;
  h->creator_start_time = self.start_time;
  h->created_realtime_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  return seg;
}

void Segment::publish() noexcept {
  auto* h = layout_at<SegmentHeaderLayout>(base_);
  // SYNC(publish): release — every header field and the initialised payload
  // happen-before any opener that sees `ready`.
  h->state.store(static_cast<std::uint32_t>(SegmentState::ready), std::memory_order_release);
  unpublished_ = false;
}

Result<Segment> Segment::open(std::string_view name, const SegmentExpect& expect) {
  auto path = segment_path(name);
  if (!path) return path.error();
  const Deadline ready_deadline = Deadline::after(expect.ready_timeout);

  for (;;) {
    FdGuard fd;
    auto opened = sys_call("open", [&] { return ::open(path->c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC); });
    if (!opened) {
      // A symlink gives ELOOP with O_NOFOLLOW; a FIFO or directory other errors.
      return opened.error();
    }
    fd.fd = *opened;
    struct stat st{};
    if (auto r = sys_call("fstat", [&] { return ::fstat(fd.fd, &st); }); !r) return r.error();
    if (!S_ISREG(st.st_mode)) return fail(Errc::not_regular_file, "segment file");
    if (!expect.allow_foreign_owner && st.st_uid != ::geteuid()) {
      return fail(Errc::foreign_owner, "file owner differs from the effective uid");
    }
    const auto file_size = static_cast<std::uint64_t>(st.st_size);

    Result<void> verdict = {};
    if (file_size == 0) {
      verdict = fail(Errc::empty_file, "file size 0");
    } else if (file_size < kHeaderSize) {
      verdict = fail(Errc::truncated, "file shorter than the segment header");
    } else {
      auto map = map_shared(fd.fd, file_size);
      if (!map) return map.error();
      Segment seg;
      seg.base_ = map->base;
      seg.map_size_ = map->size;
      seg.path_ = *path;
      const HeaderCopy h = copy_header(*layout_at<const SegmentHeaderLayout>(seg.base_));
      verdict = validate_header(h, file_size, expect);
      if (verdict) {
        seg.payload_offset_ = h.payload_offset;
        seg.payload_size_ = h.payload_size;
        seg.fd_ = std::exchange(fd.fd, -1);
        return seg;
      }
    }
    // A creator between open(O_CREAT) and publish() shows exactly these three
    // states; give it until the deadline. Anything else is final.
    const Errc code = verdict.error().code;
    const bool transient = code == Errc::empty_file || code == Errc::truncated || code == Errc::not_ready;
    if (!transient || ready_deadline.passed()) return verdict.error();
    sleep_until_ns(monotonic_ns() + 1'000'000);
  }
}

Result<void> Segment::unlink(std::string_view name) {
  auto path = segment_path(name);
  if (!path) return path.error();
  if (auto r = sys_call("unlink", [&] { return ::unlink(path->c_str()); }); !r) return r.error();
  return {};
}

Segment::Segment(Segment&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      payload_offset_(other.payload_offset_),
      payload_size_(other.payload_size_),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      unpublished_(std::exchange(other.unpublished_, false)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    payload_offset_ = other.payload_offset_;
    payload_size_ = other.payload_size_;
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    unpublished_ = std::exchange(other.unpublished_, false);
  }
  return *this;
}

Segment::~Segment() { release(); }

void Segment::release() noexcept {
  if (base_ != nullptr) ::munmap(base_, map_size_);
  base_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // Created here but never published: nobody can use it, so it must not stay behind.
  if (unpublished_ && !path_.empty()) ::unlink(path_.c_str());
  unpublished_ = false;
}

Result<void> Segment::back(std::uint64_t offset, std::uint64_t size) const noexcept {
  if (offset > payload_size_ || size > payload_size_ - offset) return fail(Errc::invalid_argument, "back() range");
  // mode 0: allocate (the file size stays; the range lies inside it).
  if (auto r = sys_call("fallocate", [&] {
        return ::fallocate(fd_, 0, static_cast<off_t>(payload_offset_ + offset), static_cast<off_t>(size));
      });
      !r) {
    return r.error();
  }
  return {};
}

void Segment::unback(std::uint64_t offset, std::uint64_t size) const noexcept {
  if (offset > payload_size_ || size > payload_size_ - offset) return;
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(payload_offset_ + offset),
                    static_cast<off_t>(size));
}

std::uint64_t Segment::allocated_bytes() const noexcept {
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace shmring::platform
