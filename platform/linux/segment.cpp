// Segment files: create, open, unlink, and the removal of a dead creator's
// leftovers.
//
// Why this is right (names are never half-made, never blocked for good)
// ---------------------------------------------------------------------
// 1. A name only ever holds a complete header. create() makes the file
//    without a name — O_TMPFILE, or where the file system refuses it a
//    temporary name `.shmring-tmp.<pid>.<start time>.<n>` in the same
//    directory — sizes and reserves it, writes every header field with state
//    `initializing`, and only then links it at the name with link(2), which
//    never replaces: EEXIST if anything (a file, a symlink, a dangling
//    symlink) is there. That link is create's O_EXCL. The header stores
//    happen-before the link in program order, and the link is a system
//    call that publishes the directory entry under the directory's lock: a
//    process that finds the entry (open, path lookup under the same lock or
//    RCU with its barriers) and then maps or reads the file sees the header
//    the creator wrote. So an opener finds no file, or a file whose magic,
//    kind and creator identity are complete; the payload is published by
//    the release store of `state` (SYNC(publish)).
// 2. A creator killed at any instruction leaves one of: nothing (before the
//    link, O_TMPFILE: the kernel frees an unlinked inode with its last
//    descriptor), a temporary name that carries its pid and start time
//    (before the link, or between the link and the temporary name's unlink,
//    named-temp path), or a linked file in state `initializing` whose header
//    names it. The first needs nothing. The second is removed by the next
//    create in that directory that finds the named process dead
//    (collect_dead_temp_files): a (pid, start time) pair names one process
//    lifetime, and only that process ever makes temporary names with it, so
//    a dead owner's temporary name can be unlinked without a lock. The third
//    is removed by the next create (link got EEXIST) or open (state
//    `initializing`) of the name that proves its creator dead — pid plus
//    start time, liveness(); a stopped process is alive and any doubt is
//    "alive", so a live creator's file is never taken. A creator that
//    published and then died left a ready object, not a leftover.
// 3. Removing a name is safe against every other remover. Every removal of
//    a segment name in shmring (a taker of a leftover, unlink(), a creator
//    dropping its own unpublished file) goes through remove_if_still():
//    flock(LOCK_EX) on the inode it examined, check that the name still
//    leads to that inode (lstat: device and inode), re-check the reason for
//    removing it, unlink, unlock. Names are only added by link(), never by a
//    replacing rename, so while one process holds an inode's lock and has
//    seen the name lead to it, no other shmring process can change what the
//    name leads to: removing it needs that lock, adding needs the name free.
//    The unlink therefore removes exactly the inode that was examined —
//    never a new creator's file that took the name in between. The lock is
//    taken with LOCK_NB and held for a few system calls; a busy lock makes
//    the caller look again. flock dies with its holder, so a remover killed
//    with the lock held blocks nobody.
// 4. Nothing else can block the name for good: a ready object is the user's
//    to unlink; a file that is not a shmring segment (no magic) was not made
//    by this code (it never links a file without a complete header), so it
//    is reported (exists / bad_magic) and never removed.
// What it rests on: all processes sharing a directory run this code (a
// plain `rm` of a name while a taker holds its lock is outside the
// argument, as is any process renaming files over segment names), share a
// pid namespace (identity is pid + start time from /proc), and call
// publish() from the creating process.
//
// Tests: Segment.* in tests/unit/segment_test.cpp (leftovers of dead,
// stopped and live creators, temp files, RLIMIT_FSIZE, unlink kinds) and
// SegmentRace.* in tests/stress/segment_race_test.cpp (openers hammering
// creators of 4 KiB to 256 MiB, creators SIGKILLed at random moments,
// creators racing for one name).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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
constexpr char kTempPrefix[] = ".shmring-tmp.";
// How long create/unlink keep looking at a name another process is busy
// removing (its flock is held for a few system calls) before giving up.
constexpr std::int64_t kBusyPatienceNs = 2'000'000'000;
constexpr std::int64_t kRetryPauseNs = 1'000'000;

std::atomic<bool> g_named_temp_files{false};

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
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

// Removes a temporary name on every path out of create (named-temp path).
struct TempNameGuard {
  std::string path;
  TempNameGuard() = default;
  TempNameGuard(const TempNameGuard&) = delete;
  TempNameGuard& operator=(const TempNameGuard&) = delete;
  ~TempNameGuard() {
    if (!path.empty()) ::unlink(path.c_str());
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
  std::uint64_t magic, layout_hash, file_size, payload_offset, payload_size, creator_pid, creator_start_time;
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
  c.creator_pid = h.creator_pid;
  c.creator_start_time = h.creator_start_time;
  return c;
}

template <class T>
T field_at(const unsigned char* bytes, std::size_t offset) noexcept {
  T v;
  std::memcpy(&v, bytes + offset, sizeof(T));
  return v;
}

// A header read with pread, without mapping the file: what create and unlink
// decide on for a file they did not make. `length` is how many bytes the
// file had; a copy is only filled when it holds a whole header.
struct HeaderPeek {
  std::uint64_t length = 0;
  HeaderCopy h{};
};

Result<HeaderPeek> peek_header(int fd) {
  struct stat st {};
  if (auto r = sys_call("fstat", [&] { return ::fstat(fd, &st); }); !r) return r.error();
  if (!S_ISREG(st.st_mode)) return fail(Errc::not_regular_file, "segment file");
  HeaderPeek p;
  p.length = static_cast<std::uint64_t>(st.st_size);
  if (p.length < kHeaderSize) return p;
  unsigned char b[kHeaderSize];
  auto n = sys_call("pread segment header", [&] { return ::pread(fd, b, sizeof(b), 0); });
  if (!n) return n.error();
  if (static_cast<std::uint64_t>(*n) < kHeaderSize) {
    p.length = static_cast<std::uint64_t>(*n);  // shrunk meanwhile
    return p;
  }
  using H = SegmentHeaderLayout;
  p.h.magic = field_at<std::uint64_t>(b, offsetof(H, magic));
  p.h.header_version = field_at<std::uint32_t>(b, offsetof(H, header_version));
  p.h.header_size = field_at<std::uint32_t>(b, offsetof(H, header_size));
  p.h.kind = field_at<std::uint32_t>(b, offsetof(H, kind));
  p.h.layout_version = field_at<std::uint32_t>(b, offsetof(H, layout_version));
  p.h.layout_hash = field_at<std::uint64_t>(b, offsetof(H, layout_hash));
  p.h.file_size = field_at<std::uint64_t>(b, offsetof(H, file_size));
  p.h.payload_offset = field_at<std::uint64_t>(b, offsetof(H, payload_offset));
  p.h.payload_size = field_at<std::uint64_t>(b, offsetof(H, payload_size));
  p.h.creator_pid = field_at<std::uint64_t>(b, offsetof(H, creator_pid));
  p.h.creator_start_time = field_at<std::uint64_t>(b, offsetof(H, creator_start_time));
  p.h.state = field_at<std::uint32_t>(b, offsetof(H, state));
  return p;
}

// The creator named by a header, when the header can name one (values from
// the file are untrusted: pid 0 or above pid_max names nobody).
bool creator_of(const HeaderCopy& h, ProcessId* out) noexcept {
  if (h.creator_pid == 0 || h.creator_pid >= (std::uint64_t{1} << kPidBits)) return false;
  *out = ProcessId{static_cast<std::uint32_t>(h.creator_pid), h.creator_start_time};
  return true;
}

// A shmring file its creator never published and never will: magic right,
// state `initializing`, and the creator it names proven dead. A dead process
// writes nothing more, so a header read after the proof is its final one.
bool is_dead_creators_leftover(const HeaderCopy& h) noexcept {
  ProcessId creator;
  return h.magic == kSegmentMagic && h.state == static_cast<std::uint32_t>(SegmentState::initializing) &&
         creator_of(h, &creator) && liveness(creator) == Liveness::dead;
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

// ---- removing a name (argument: point 3 at the top) -------------------------

enum class Removal : std::uint8_t {
  removed,   // the name led to the examined inode and is gone
  busy,      // another process holds the inode's lock: look again
  moved,     // the name no longer leads to the examined inode: look again
  declined,  // the reason to remove it no longer holds
};

// Unlinks `path` if it still leads to the inode open at `fd` and
// `still_removable()` (re-checked under the lock) says so.
template <class Check>
Result<Removal> remove_if_still(int fd, const std::string& path, Check&& still_removable) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK || errno == EINTR) return Removal::busy;
    return sys_error("flock", errno);
  }
  Result<Removal> out = Removal::declined;
  struct stat mine {};
  struct stat named {};
  if (::fstat(fd, &mine) != 0) {
    out = sys_error("fstat", errno);
  } else if (::lstat(path.c_str(), &named) != 0 || named.st_dev != mine.st_dev || named.st_ino != mine.st_ino) {
    out = Removal::moved;
  } else if (still_removable()) {
    if (::unlink(path.c_str()) == 0) {
      out = Removal::removed;
    } else {
      out = errno == ENOENT ? Result<Removal>(Removal::moved) : Result<Removal>(sys_error("unlink", errno));
    }
  }
  ::flock(fd, LOCK_UN);
  return out;
}

// Opens whatever is at `path` to examine it, without following a symlink
// and without blocking on a FIFO.
Result<int> open_to_examine(const std::string& path) {
  return sys_call("open", [&] { return ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC); });
}

// ---- making the file without a name (argument: points 1 and 2) -----------------

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

// readdir64, not readdir: a 32-bit process built without 64-bit file
// offsets gets EOVERFLOW from readdir on a directory whose offsets need 64
// bits (ext4's hashes, seen by a 32-bit program on a 64-bit kernel, qemu-user
// included), and would silently see no entries.
#if defined(__GLIBC__)
using DirEntry = struct dirent64;
const DirEntry* next_entry(DIR* d) noexcept { return ::readdir64(d); }
#else
using DirEntry = struct dirent;
const DirEntry* next_entry(DIR* d) noexcept { return ::readdir(d); }
#endif

// Removes the temporary names of dead creators in `dir` (named-temp path).
void collect_dead_temp_files(const std::string& dir) noexcept {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const std::size_t prefix = sizeof(kTempPrefix) - 1;
  while (const DirEntry* e = next_entry(d)) {
    if (std::strncmp(e->d_name, kTempPrefix, prefix) != 0) continue;
    unsigned pid = 0;
    unsigned long long start = 0;
    unsigned long long seq = 0;
    if (std::sscanf(e->d_name + prefix, "%u.%llu.%llu", &pid, &start, &seq) != 3) continue;
    if (pid == 0 || pid >= (1u << kPidBits)) continue;
    if (liveness(ProcessId{pid, start}) != Liveness::dead) continue;
    (void)::unlinkat(::dirfd(d), e->d_name, 0);  // ENOENT: another collector was first
  }
  ::closedir(d);
}

struct UnnamedFile {
  int fd = -1;
  std::string temp_path;  // empty: an O_TMPFILE inode, linked through /proc/self/fd
};

Result<UnnamedFile> make_unnamed_file(const std::string& path, std::uint32_t mode) {
  const std::string dir = directory_of(path);
  // relaxed: a test switch, set before the creates it affects.
  const bool tmpfile_allowed = !g_named_temp_files.load(std::memory_order_relaxed) &&
                               ::access("/proc/self/fd", X_OK) == 0;  // linkat needs /proc/self/fd
  if (tmpfile_allowed) {
    auto fd = sys_call("open(O_TMPFILE)",
                       [&] { return ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, static_cast<mode_t>(mode)); });
    if (fd) return UnnamedFile{*fd, {}};
    // EOPNOTSUPP: the file system has no O_TMPFILE; EISDIR: a kernel that
    // predates it. Anything else (no such directory, no permission) is final.
    const int err = fd.error().sys_errno;
    if (err != EOPNOTSUPP && err != EISDIR) return fd.error();
  }
  collect_dead_temp_files(dir);
  static std::atomic<std::uint64_t> sequence{0};
  const ProcessId self = current_process();
  char leaf[96];
  // relaxed: only uniqueness within this process matters.
  std::snprintf(leaf, sizeof(leaf), "%s%u.%llu.%llu", kTempPrefix, self.pid,
                static_cast<unsigned long long>(self.start_time),
                static_cast<unsigned long long>(sequence.fetch_add(1, std::memory_order_relaxed)));
  std::string temp = dir == "/" ? "/" + std::string(leaf) : dir + "/" + leaf;
  auto fd = sys_call("open(O_CREAT|O_EXCL) temporary name", [&] {
    return ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, static_cast<mode_t>(mode));
  });
  if (!fd) return fd.error();
  return UnnamedFile{*fd, std::move(temp)};
}

// link(2) of the finished file at `path`: never replaces anything.
Result<void> link_at_name(const UnnamedFile& f, const std::string& path) {
  if (f.temp_path.empty()) {
    char proc[40];
    std::snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f.fd);
    auto r = sys_call("linkat", [&] { return ::linkat(AT_FDCWD, proc, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW); });
    if (!r) return r.error();
    return {};
  }
  if (auto r = sys_call("link", [&] { return ::link(f.temp_path.c_str(), path.c_str()); }); !r) return r.error();
  return {};
}

enum class Holder : std::uint8_t { gone, taken, busy };

// The name gave EEXIST: what holds it? A dead creator's leftover is removed
// (then `gone`); a ready object, a live creator's file or anything else is
// `taken` (create's O_EXCL answer).
Result<Holder> settle_holder(const std::string& path) {
  auto opened = open_to_examine(path);
  if (!opened) return opened.error().code == Errc::not_found ? Holder::gone : Holder::taken;
  FdGuard fd;
  fd.fd = *opened;
  auto peek = peek_header(fd.fd);
  if (!peek) return peek.error().code == Errc::system ? Result<Holder>(peek.error()) : Holder::taken;
  if (peek->length < kHeaderSize || !is_dead_creators_leftover(peek->h)) return Holder::taken;
  auto removal = remove_if_still(fd.fd, path, [&] {
    auto again = peek_header(fd.fd);
    return again && again->length >= kHeaderSize && is_dead_creators_leftover(again->h);
  });
  if (!removal) return removal.error();
  switch (*removal) {
    case Removal::removed:
    case Removal::moved: return Holder::gone;
    case Removal::busy: return Holder::busy;
    case Removal::declined: break;
  }
  return Holder::taken;
}

// The creator's mapping and descriptor were made before the file had its
// name, so /proc/<pid>/maps and fd would show them as an unnamed O_TMPFILE or
// a removed temporary name ("(deleted)"). Once linked, they are made again
// through the name, as every opener's are — only if the name still leads to
// this file (same device and inode); otherwise the old ones stay.
void hold_through_name(const std::string& path, std::size_t size, std::byte** base, int* fd) noexcept {
  const int named = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (named < 0) return;
  struct stat made {};
  struct stat found {};
  void* p = MAP_FAILED;
  if (::fstat(*fd, &made) == 0 && ::fstat(named, &found) == 0 && made.st_dev == found.st_dev &&
      made.st_ino == found.st_ino) {
    p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, named, 0);
  }
  if (p == MAP_FAILED) {
    ::close(named);
    return;
  }
  ::munmap(*base, size);
  *base = static_cast<std::byte*>(p);
  ::close(std::exchange(*fd, named));
}

// Fails before the file grows past RLIMIT_FSIZE: growing it would raise
// SIGXFSZ, whose default action kills the process.
Result<void> check_file_size_limit(std::uint64_t file_size) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_FSIZE, &lim) != 0) return sys_error("getrlimit(RLIMIT_FSIZE)", errno);
  if (lim.rlim_cur != RLIM_INFINITY && file_size > static_cast<std::uint64_t>(lim.rlim_cur)) {
    return Error{Errc::no_space, EFBIG, "segment larger than the file size limit (RLIMIT_FSIZE)"};
  }
  return {};
}

}  // namespace

namespace detail {
void use_named_temp_files(bool on) noexcept {
  // relaxed: a test switch, set before the creates it affects.
  g_named_temp_files.store(on, std::memory_order_relaxed);
}
}  // namespace detail

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
  const std::uint64_t payload_offset = kHeaderSize;
  const std::uint64_t file_size = payload_offset + spec.payload_size;
  if (auto r = check_file_size_limit(file_size); !r) return r.error();

  // The file has no name until it is complete (point 1 at the top): every
  // failure before the link leaves nothing behind.
  auto made = make_unnamed_file(*path, spec.mode);
  if (!made) return made.error();
  FdGuard fd;
  fd.fd = made->fd;
  TempNameGuard temp;
  temp.path = made->temp_path;

  // umask may have narrowed the mode; apply exactly what was asked.
  if (auto r = sys_call("fchmod", [&] { return ::fchmod(fd.fd, static_cast<mode_t>(spec.mode)); }); !r) {
    return r.error();
  }
  // Reserve every page now (or the part the spec asks for; the object backs
  // the rest itself): a full tmpfs fails here, not as SIGBUS on first touch.
  const std::uint64_t reserved =
      payload_offset + (spec.reserved_payload < spec.payload_size ? spec.reserved_payload : spec.payload_size);
  if (auto r = sys_call("ftruncate", [&] { return ::ftruncate(fd.fd, static_cast<off_t>(file_size)); }); !r) {
    return r.error();
  }
  if (auto r =
          sys_call_rc("posix_fallocate", [&] { return ::posix_fallocate(fd.fd, 0, static_cast<off_t>(reserved)); });
      !r) {
    return r.error();
  }
  auto map = map_shared(fd.fd, file_size);
  if (!map) return map.error();
  Segment seg;
  seg.base_ = map->base;
  seg.map_size_ = map->size;
  seg.payload_offset_ = payload_offset;
  seg.payload_size_ = spec.payload_size;

  // The file is all zeroes after fallocate; state == initializing == 0. No
  // other process can reach it yet, so plain stores suffice; the link below
  // publishes them (point 1).
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

  const std::int64_t give_up = monotonic_ns() + kBusyPatienceNs;
  for (;;) {
    auto linked = link_at_name(*made, *path);
    if (linked) break;
    if (linked.error().code != Errc::exists) return linked.error();
    auto holder = settle_holder(*path);
    if (!holder) return holder.error();
    if (*holder == Holder::taken) return linked.error();
    if (monotonic_ns() > give_up) return fail(Errc::exists, "another process keeps removing and taking the name");
    if (*holder == Holder::busy) sleep_until_ns(monotonic_ns() + kRetryPauseNs);
  }
  hold_through_name(*path, seg.map_size_, &seg.base_, &fd.fd);
  seg.path_ = std::move(*path);
  seg.fd_ = std::exchange(fd.fd, -1);
  seg.unpublished_ = true;  // from here on, a failure removes the file again (~Segment)
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
    struct stat st {};
    if (auto r = sys_call("fstat", [&] { return ::fstat(fd.fd, &st); }); !r) return r.error();
    if (!S_ISREG(st.st_mode)) return fail(Errc::not_regular_file, "segment file");
    if (!expect.allow_foreign_owner && st.st_uid != ::geteuid()) {
      return fail(Errc::foreign_owner, "file owner differs from the effective uid");
    }
    // A name holds a complete header from the moment it exists (point 1 at
    // the top): an empty or short file is damage, never a creator at work.
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size == 0) return fail(Errc::empty_file, "file size 0");
    if (file_size < kHeaderSize) return fail(Errc::truncated, "file shorter than the segment header");

    auto map = map_shared(fd.fd, file_size);
    if (!map) return map.error();
    Segment seg;
    seg.base_ = map->base;
    seg.map_size_ = map->size;
    seg.path_ = *path;
    const HeaderCopy h = copy_header(*layout_at<const SegmentHeaderLayout>(seg.base_));
    Result<void> verdict = validate_header(h, file_size, expect);
    if (verdict) {
      seg.payload_offset_ = h.payload_offset;
      seg.payload_size_ = h.payload_size;
      seg.fd_ = std::exchange(fd.fd, -1);
      return seg;
    }
    // Only `initializing` is a creator at work; wait for it while it lives.
    if (verdict.error().code != Errc::not_ready || h.state != static_cast<std::uint32_t>(SegmentState::initializing)) {
      return verdict.error();
    }
    if (is_dead_creators_leftover(h)) {
      auto removal = remove_if_still(fd.fd, *path, [&] {
        auto again = peek_header(fd.fd);
        return again && again->length >= kHeaderSize && is_dead_creators_leftover(again->h);
      });
      if (!removal) return removal.error();
      if (*removal == Removal::removed) return fail(Errc::creator_died, "creator died before publishing");
      // Someone else removed it or is removing it: look at the name again.
    }
    if (ready_deadline.passed()) return verdict.error();
    sleep_until_ns(monotonic_ns() + kRetryPauseNs);
  }
}

Result<void> Segment::unlink(std::string_view name, std::uint32_t kind) {
  auto path = segment_path(name);
  if (!path) return path.error();
  const std::int64_t give_up = monotonic_ns() + kBusyPatienceNs;
  for (;;) {
    auto opened = open_to_examine(*path);
    if (!opened) return opened.error();
    FdGuard fd;
    fd.fd = *opened;
    auto peek = peek_header(fd.fd);
    if (!peek) return peek.error();
    // Only a file this code made: a complete header of the asked kind. Its
    // magic and kind never change once the file has a name.
    if (peek->length == 0) return fail(Errc::empty_file, "unlink: file size 0");
    if (peek->length < kHeaderSize) return fail(Errc::truncated, "unlink: file shorter than the segment header");
    if (peek->h.magic == kSegmentMagicSwapped) {
      return fail(Errc::bad_layout, "unlink: file written with the other byte order");
    }
    if (peek->h.magic != kSegmentMagic) return fail(Errc::bad_magic, "unlink: not a shmring segment");
    if (peek->h.kind != kind) return fail(Errc::wrong_kind, "unlink: the segment holds another kind of object");
    auto removal = remove_if_still(fd.fd, *path, [] { return true; });
    if (!removal) return removal.error();
    if (*removal == Removal::removed) return {};
    if (monotonic_ns() > give_up) {
      return Error{Errc::system, EWOULDBLOCK, "unlink: another process keeps removing or replacing the name"};
    }
    if (*removal == Removal::busy) sleep_until_ns(monotonic_ns() + kRetryPauseNs);
  }
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
  // Created here but never published: nobody can use it, so it must not stay
  // behind. Removed like every other removal (point 3 at the top): only if the
  // name still leads to this file — an unlink() by another process may have
  // removed it and a new creator taken the name.
  if (unpublished_ && fd_ >= 0 && !path_.empty()) {
    const std::int64_t give_up = monotonic_ns() + kBusyPatienceNs;
    for (;;) {
      auto removal = remove_if_still(fd_, path_, [] { return true; });
      if (!removal || *removal != Removal::busy || monotonic_ns() > give_up) break;
      sleep_until_ns(monotonic_ns() + kRetryPauseNs);
    }
  }
  unpublished_ = false;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> Segment::back(std::uint64_t offset, std::uint64_t size) const noexcept {
  if (offset > payload_size_ || size > payload_size_ - offset) return fail(Errc::invalid_argument, "back() range");
  // mode 0: allocate (the file size stays; the range lies inside it).
  if (auto r = sys_call(
          "fallocate",
          [&] { return ::fallocate(fd_, 0, static_cast<off_t>(payload_offset_ + offset), static_cast<off_t>(size)); });
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
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace shmring::platform
